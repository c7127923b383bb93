package shadow

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
)

// APIPath and PagePath are where Handler serves.
const (
	APIPath  = "/api/v1/shadow"
	PagePath = "/shadow"
)

// Handler serves GET /api/v1/shadow[?check=ID] (the Report as JSON),
// GET /api/v1/shadow/checks/{id}/evidence (the kept disagreements of a
// check) and GET /shadow (the same for people).
func (s *Shadow) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+APIPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.Report().Filter(r.URL.Query().Get("check")))
	})
	mux.HandleFunc("GET "+APIPath+"/checks/{id}/evidence", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if _, ok := s.checks[id]; !ok {
			http.Error(w, "no such check", http.StatusNotFound)
			return
		}
		ev, err := ReadEvidence(s.opts.Dir, id)
		if err != nil {
			http.Error(w, "evidence unreadable", http.StatusInternalServerError)
			s.opts.Logger.Warn("shadow: reading evidence", "check_id", id, "err", err)
			return
		}
		writeJSON(w, map[string]any{"check_id": id, "evidence": ev})
	})
	mux.HandleFunc("GET "+PagePath, func(w http.ResponseWriter, r *http.Request) {
		rep := s.Report().Filter(r.URL.Query().Get("check"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := page.Execute(w, map[string]any{"Report": rep, "Totals": rep.Totals(), "Ready": rep.Ready()}); err != nil {
			s.opts.Logger.Debug("shadow page", "err", err)
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	_ = enc.Encode(v)
}

var page = template.Must(template.New("shadow").Funcs(template.FuncMap{
	"counts": func(m map[string]int) string { return formatCounts(m) },
	"lower":  strings.ToLower,
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Switchover shadow</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.ready{background:#dfd}.diverging{background:#fdd}.agrees_untested{background:#ffd}.not_comparable{background:#eee}</style></head>
<body><h1>Switchover shadow</h1>
<p>{{.Totals.Checks}} checks, {{.Totals.Ready}} ready{{if .Ready}} — every check is ready{{end}}.
Ready needs {{.Report.MinEvaluations}} comparable evaluations, {{.Report.MinEpisodes}} non-OK episodes and no unexplained disagreement.</p>
<p>Evaluations {{.Totals.Evaluations}}: agree {{.Totals.Agree}}, disagree {{.Totals.Disagree}}, not comparable {{.Totals.NotComparable}}.
{{with .Totals.Reasons}}Disagreements: {{counts .}}.{{end}} {{with .Totals.NCReasons}}Not comparable: {{counts .}}.{{end}}</p>
<p>Columns: {{range $k, $v := .Report.Sources}}<b>{{$k}}</b>: {{$v}}. {{end}}</p>
<table><tr><th>check</th><th>verdict</th><th>evaluations</th><th>agree</th><th>disagree</th><th>not comparable</th><th>last Graphite</th><th>last PromQL</th><th>Seyren (its API)</th><th>reasons</th><th>why</th><th>evidence</th></tr>
{{range .Report.Checks}}<tr class="{{.Verdict}}"><td>{{.Name}}<br><code>{{.CheckID}}</code><br><small>{{.Target}}</small></td><td>{{.Verdict}}</td><td>{{.Evaluations}}</td><td>{{.Agree}}</td><td>{{.Disagree}}</td><td>{{.NotComparable}}</td>
<td>{{.Last.Graphite}}</td><td>{{.Last.PromQL}}</td><td>{{with .Seyren}}{{.State}}<br><small>vs PromQL {{.VsPromQL.Agree}} agree / {{.VsPromQL.Disagree}} disagree / {{.VsPromQL.NotComparable}} n.c.<br>vs emulator {{.VsEmulator.Agree}} / {{.VsEmulator.Disagree}} / {{.VsEmulator.NotComparable}}</small>{{else}}—{{end}}</td><td>{{counts .Reasons}}</td><td>{{.Why}}</td><td>{{if .Disagree}}<a href="api/v1/shadow/checks/{{.CheckID}}/evidence">last disagreements</a>{{end}}</td></tr>
{{end}}</table></body></html>
`))
