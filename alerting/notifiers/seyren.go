// Package notifiers holds the notification integrations Copenhagen adds to
// Alertmanager's: Seyren's HTTP subscription payload, and the default
// templates that make Slack messages read like Seyren's. Everything else
// (Slack, PagerDuty, email, webhook) is Alertmanager's own code.
package notifiers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	commoncfg "github.com/prometheus/common/config"

	amalert "github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/notify/webhook"
	"github.com/prometheus/alertmanager/template"

	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// SeyrenFragment marks a webhook URL whose consumer expects Seyren's HTTP
// subscription payload instead of Alertmanager's: url: http://host/hook#seyren.
// A fragment is never sent over HTTP, so the same configuration given to a
// stock Alertmanager still posts (Alertmanager's payload) to the same URL.
const SeyrenFragment = "seyren"

// Webhook is Alertmanager's webhook integration, except that a URL ending
// in #seyren gets Seyren's payload. The URL (or url_file, read at every
// notification like Alertmanager does) decides per notification, so
// editing a secret file switches the format without a reload.
type Webhook struct {
	conf      *webhook.WebhookConfig
	std       *webhook.Notifier
	tmpl      *template.Template
	logger    *slog.Logger
	seyrenURL string
	retrier   *notify.Retrier
	client    *http.Client
}

// NewWebhook builds the integration. seyrenURL is Seyren's base URL for
// the payload's seyrenUrl field; "" derives it from the alerts'
// seyren_url annotation.
func NewWebhook(conf *webhook.WebhookConfig, tmpl *template.Template, logger *slog.Logger, seyrenURL string, httpOpts ...commoncfg.HTTPClientOption) (*Webhook, error) {
	std, err := webhook.New(conf, tmpl, logger, httpOpts...)
	if err != nil {
		return nil, err
	}
	client, err := notify.NewClientWithTracing(*conf.HTTPConfig, "webhook", httpOpts...)
	if err != nil {
		return nil, err
	}
	return &Webhook{
		conf: conf, std: std, tmpl: tmpl, logger: logger,
		seyrenURL: strings.TrimRight(seyrenURL, "/"),
		retrier:   &notify.Retrier{},
		client:    client,
	}, nil
}

// Notify implements notify.Notifier.
func (w *Webhook) Notify(ctx context.Context, alerts ...*amalert.Alert) notify.NotifyVerdict {
	raw := string(w.conf.URL)
	if raw == "" {
		b, err := os.ReadFile(w.conf.URLFile)
		if err != nil {
			return notify.Unrecoverable(fmt.Errorf("read url_file: %w", err), notify.DefaultReason)
		}
		raw = strings.TrimSpace(string(b))
	}
	u, err := url.Parse(raw)
	if err != nil || u.Fragment != SeyrenFragment || u.Host == "" {
		return w.std.Notify(ctx, alerts...)
	}
	u.Fragment = ""
	for _, p := range SeyrenPayloads(w.seyrenURL, u.String(), time.Now(), alerts...) {
		body, err := json.Marshal(p)
		if err != nil {
			return notify.Unrecoverable(err, notify.DefaultReason)
		}
		if w.conf.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, w.conf.Timeout)
			defer cancel()
		}
		resp, err := notify.PostJSON(ctx, w.client, u.String(), bytes.NewReader(body))
		if err != nil {
			return notify.Retry(0, notify.RedactURL(err), notify.DefaultReason)
		}
		retry, err := w.retrier.Check(resp.StatusCode, resp.Body)
		notify.Drain(resp)
		if err != nil {
			reason := notify.GetFailureReasonFromStatusCode(resp.StatusCode)
			if retry {
				return notify.Retry(0, err, reason)
			}
			return notify.Unrecoverable(err, reason)
		}
	}
	return notify.Success()
}

// SeyrenCheck is Seyren's Check as its HTTP subscription serialised it.
// Thresholds are strings, as Seyren's JSON had them.
type SeyrenCheck struct {
	ID            string               `json:"id"`
	Name          string               `json:"name"`
	Description   string               `json:"description"`
	Target        string               `json:"target"`
	From          *string              `json:"from"`
	Until         *string              `json:"until"`
	Warn          *string              `json:"warn"`
	Error         *string              `json:"error"`
	Enabled       bool                 `json:"enabled"`
	Live          bool                 `json:"live"`
	AllowNoData   bool                 `json:"allowNoData"`
	State         string               `json:"state"`
	LastCheck     int64                `json:"lastCheck"`
	Subscriptions []SeyrenSubscription `json:"subscriptions"`
}

// SeyrenSubscription is the HTTP subscription that fired, in Seyren's own
// model, the one the import reads.
type SeyrenSubscription = seyren.Subscription

// SeyrenAlert is one series' state change.
type SeyrenAlert struct {
	ID        string   `json:"id"`
	CheckID   string   `json:"checkId"`
	Value     *float64 `json:"value"`
	Target    string   `json:"target"`
	Warn      *string  `json:"warn"`
	Error     *string  `json:"error"`
	FromType  string   `json:"fromType"`
	ToType    string   `json:"toType"`
	Timestamp int64    `json:"timestamp"`
}

// SeyrenPayload is the body of Seyren's HTTP subscription POST.
type SeyrenPayload struct {
	SeyrenURL    string             `json:"seyrenUrl"`
	Check        SeyrenCheck        `json:"check"`
	Subscription SeyrenSubscription `json:"subscription"`
	Alerts       []SeyrenAlert      `json:"alerts"`
	Preview      string             `json:"preview"`
}

// Seyren's states.
const (
	StateOK    = "OK"
	StateWarn  = "WARN"
	StateError = "ERROR"
)

// thresholdRe reads the threshold the Seyren import writes into the
// summary annotation: "name is ERROR (value >= 5)".
var thresholdRe = regexp.MustCompile(`\(value [<>]=\s*([^)\s]+)\)`)

// SeyrenPayloads turns one notification into Seyren payloads, one per
// check (check_id label; alerts without one form a check of their own,
// named after alertname). State changes are reconstructed from what
// Alertmanager knows: a firing alert is a change to its severity's state
// (critical: ERROR, otherwise WARN); a resolved one a change to OK. When
// the same series resolves at one severity and fires at the other in the
// same notification, that is one WARN<->ERROR change.
func SeyrenPayloads(seyrenURL, target string, now time.Time, alerts ...*amalert.Alert) []SeyrenPayload {
	byCheck := map[string][]*amalert.Alert{}
	var ids []string
	for _, a := range alerts {
		id := string(a.Labels["check_id"])
		if id == "" {
			id = string(a.Labels["alertname"])
		}
		if _, ok := byCheck[id]; !ok {
			ids = append(ids, id)
		}
		byCheck[id] = append(byCheck[id], a)
	}
	sort.Strings(ids)
	out := make([]SeyrenPayload, 0, len(ids))
	for _, id := range ids {
		as := byCheck[id]
		first := as[0]
		name := string(first.Labels["check"])
		if name == "" {
			name = string(first.Labels["alertname"])
		}
		base := seyrenURL
		if base == "" {
			base = seyrenBase(string(first.Annotations["seyren_url"]))
		}
		check := SeyrenCheck{
			ID: id, Name: name,
			Description:   string(first.Annotations["description"]),
			Target:        string(first.Annotations["target"]),
			Enabled:       true,
			State:         StateOK,
			LastCheck:     now.UnixMilli(),
			Subscriptions: []SeyrenSubscription{},
		}
		sub := SeyrenSubscription{
			Target: target, Type: "HTTP", Enabled: true,
			Su: true, Mo: true, Tu: true, We: true, Th: true, Fr: true, Sa: true,
			FromTime: "0000", ToTime: "2359",
		}
		check.Subscriptions = append(check.Subscriptions, sub)
		// series -> state it resolved from / fired to in this batch
		resolvedFrom := map[string]string{}
		firingTo := map[string]string{}
		for _, a := range as {
			st := severityState(a)
			if a.Resolved() {
				resolvedFrom[seriesOf(a)] = st
			} else {
				firingTo[seriesOf(a)] = st
				if st == StateError || check.State == StateOK {
					check.State = st
				}
			}
			if m := thresholdRe.FindStringSubmatch(string(a.Annotations["summary"])); m != nil {
				v := m[1]
				if st == StateError {
					check.Error = &v
				} else {
					check.Warn = &v
				}
			}
		}
		p := SeyrenPayload{SeyrenURL: base, Check: check, Subscription: sub}
		if base != "" {
			p.Preview = fmt.Sprintf(`<br /><a href="%s/#/checks/%s">%s</a>`, base, url.PathEscape(id), html.EscapeString(name))
		}
		for _, a := range as {
			series := seriesOf(a)
			st := severityState(a)
			sa := SeyrenAlert{
				CheckID: id, Target: series, Warn: check.Warn, Error: check.Error,
				Value: parseValue(string(a.Annotations["value"])),
			}
			if a.Resolved() {
				if _, ok := firingTo[series]; ok {
					continue // reported as the firing side's change
				}
				sa.FromType, sa.ToType = st, StateOK
				sa.Timestamp = a.EndsAt.UnixMilli()
			} else {
				sa.FromType, sa.ToType = StateOK, st
				if from, ok := resolvedFrom[series]; ok {
					sa.FromType = from
				}
				sa.Timestamp = a.StartsAt.UnixMilli()
			}
			sa.ID = fmt.Sprintf("%s-%d", a.Fingerprint(), sa.Timestamp)
			p.Alerts = append(p.Alerts, sa)
		}
		out = append(out, p)
	}
	return out
}

func severityState(a *amalert.Alert) string {
	if a.Labels["severity"] == "critical" || a.Labels["severity"] == "error" {
		return StateError
	}
	return StateWarn
}

// seriesOf names the series like Seyren's target lines did: the import's
// seyren_series label ("k=v,k=v,"), else the labels other than the
// check's own.
func seriesOf(a *amalert.Alert) string {
	if s := strings.TrimSuffix(string(a.Labels["seyren_series"]), ","); s != "" {
		return s
	}
	var parts []string
	for k, v := range a.Labels {
		switch k {
		case "alertname", "check", "check_id", "severity", "team", "seyren_series":
			continue
		}
		parts = append(parts, string(k)+"="+string(v))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return string(a.Labels["check"])
	}
	return strings.Join(parts, ",")
}

func parseValue(s string) *float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return nil
	}
	return &v
}

// seyrenBase strips "/#/checks/<id>" from a check link.
func seyrenBase(link string) string {
	if i := strings.Index(link, "/#/"); i >= 0 {
		return link[:i]
	}
	return ""
}
