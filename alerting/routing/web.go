package routing

import (
	"context"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	amalert "github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/silence"
	pb "github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/common/model"
)

// Register mounts Alertmanager's API v2 at /api/v2/ (amtool
// --alertmanager.url=http://copenhagen:9095 works) and the /alerts page.
func (r *Router) Register(mux *http.ServeMux) {
	mux.Handle("/api/v2/", r.APIHandler())
	mux.HandleFunc("/alerts", r.serveAlerts)
}

type pageAlert struct {
	Labels      string
	Summary     string
	StartsAt    time.Time
	Receivers   string
	State       string
	Link        string
	Fingerprint string
}

type pageSilence struct {
	ID        string
	Matchers  string
	StartsAt  time.Time
	EndsAt    time.Time
	CreatedBy string
	Comment   string
	State     string
}

var alertsPage = template.Must(template.New("alerts").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Copenhagen alerts</title>
<style>body{font-family:sans-serif;margin:1em 2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}code{font-size:90%}.suppressed{color:#888}</style>
</head><body>
<h1>Alerts</h1>
<p>{{len .Alerts}} firing alert(s). Silences are managed with <code>amtool --alertmanager.url={{.Base}}</code> or the Alertmanager API v2 at <code>/api/v2/</code>.</p>
{{if .Alerts}}<table><tr><th>alert</th><th>summary</th><th>since</th><th>receivers</th><th>state</th></tr>
{{range .Alerts}}<tr class="{{.State}}"><td><code>{{.Labels}}</code></td><td>{{if .Link}}<a href="{{.Link}}">{{.Summary}}</a>{{else}}{{.Summary}}{{end}}</td><td>{{.StartsAt.UTC.Format "2006-01-02 15:04:05Z"}}</td><td>{{.Receivers}}</td><td>{{.State}}</td></tr>
{{end}}</table>{{end}}
<h1>Silences</h1>
{{if .Silences}}<table><tr><th>id</th><th>matchers</th><th>state</th><th>starts</th><th>ends</th><th>created by</th><th>comment</th></tr>
{{range .Silences}}<tr><td><code>{{.ID}}</code></td><td><code>{{.Matchers}}</code></td><td>{{.State}}</td><td>{{.StartsAt.UTC.Format "2006-01-02 15:04Z"}}</td><td>{{.EndsAt.UTC.Format "2006-01-02 15:04Z"}}</td><td>{{.CreatedBy}}</td><td>{{.Comment}}</td></tr>
{{end}}</table>{{else}}<p>No active or pending silence.</p>{{end}}
</body></html>
`))

func (r *Router) serveAlerts(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
	defer cancel()
	data := struct {
		Base     string
		Alerts   []pageAlert
		Silences []pageSilence
	}{Base: r.opts.ExternalURL.String()}

	receiver := req.URL.Query().Get("receiver")
	groups, _, err := r.groups(ctx, func(rt *dispatch.Route) bool {
		return receiver == "" || rt.RouteOpts.Receiver == receiver
	}, func(*amalert.Alert, time.Time) (amalert.AlertStatus, bool) { return amalert.AlertStatus{}, true })
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	byFP := map[model.Fingerprint]*pageAlert{}
	var order []model.Fingerprint
	for _, g := range groups {
		for _, a := range g.Alerts {
			if a.Resolved() {
				continue
			}
			fp := a.Fingerprint()
			pa, ok := byFP[fp]
			if !ok {
				pa = &pageAlert{
					Labels:   a.Labels.String(),
					Summary:  string(a.Annotations["summary"]),
					StartsAt: a.StartsAt,
					Link:     string(a.Annotations["seyren_url"]),
					State:    "active",
				}
				if pa.Summary == "" {
					pa.Summary = string(a.Labels["alertname"])
				}
				if sils, _, _ := r.silences.Query(ctx, silence.QState(silence.SilenceStateActive), silence.QMatches(a.Labels)); len(sils) > 0 {
					pa.State = "suppressed"
				}
				byFP[fp] = pa
				order = append(order, fp)
			}
			if !strings.Contains(","+pa.Receivers+",", ","+g.Receiver+",") {
				if pa.Receivers != "" {
					pa.Receivers += ","
				}
				pa.Receivers += g.Receiver
			}
		}
	}
	for _, fp := range order {
		data.Alerts = append(data.Alerts, *byFP[fp])
	}
	sort.SliceStable(data.Alerts, func(i, j int) bool { return data.Alerts[i].StartsAt.After(data.Alerts[j].StartsAt) })

	sils, _, err := r.silences.Query(ctx, silence.QState(silence.SilenceStateActive, silence.SilenceStatePending))
	if err == nil {
		for _, s := range sils {
			data.Silences = append(data.Silences, pageSilence{
				ID: s.Id, Matchers: matchersString(s),
				StartsAt: s.StartsAt.AsTime(), EndsAt: s.EndsAt.AsTime(),
				CreatedBy: s.CreatedBy, Comment: s.Comment,
				State: string(silence.CurrentState(s.StartsAt.AsTime(), s.EndsAt.AsTime())),
			})
		}
	}
	sort.Slice(data.Silences, func(i, j int) bool { return data.Silences[i].EndsAt.Before(data.Silences[j].EndsAt) })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = alertsPage.Execute(w, data)
}

func matchersString(s *pb.Silence) string {
	sets := s.MatcherSets
	if len(s.Matchers) > 0 {
		sets = append([]*pb.MatcherSet{{Matchers: s.Matchers}}, sets...)
	}
	var out []string
	for _, set := range sets {
		var ms []string
		for _, m := range set.Matchers {
			op := "="
			switch m.Type {
			case pb.Matcher_NOT_EQUAL:
				op = "!="
			case pb.Matcher_REGEXP:
				op = "=~"
			case pb.Matcher_NOT_REGEXP:
				op = "!~"
			}
			ms = append(ms, m.Name+op+`"`+m.Pattern+`"`)
		}
		out = append(out, "{"+strings.Join(ms, ", ")+"}")
	}
	return strings.Join(out, " or ")
}
