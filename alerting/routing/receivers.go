package routing

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	commoncfg "github.com/prometheus/common/config"

	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/config/receiver"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/template"

	"github.com/copenhagen-obs/copenhagen/alerting/notifiers"
)

// buildReceivers builds the templates and the integrations of the
// receivers that a route uses, as Alertmanager's reloader does, with two
// differences: Copenhagen's Seyren-like Slack template is loaded when the
// configuration has no templates, and webhook integrations understand
// the #seyren URL fragment (notifiers.Webhook).
func buildReceivers(conf *config.Config, extURL *url.URL, logger *slog.Logger, seyrenURL string, httpOpts []commoncfg.HTTPClientOption) (map[string][]notify.Integration, *template.Template, error) {
	tmpl, err := template.FromGlobs(nil)
	if err != nil {
		return nil, nil, fmt.Errorf("templates: %w", err)
	}
	if len(conf.Templates) == 0 {
		if err := tmpl.Parse(strings.NewReader(notifiers.SlackTemplate)); err != nil {
			return nil, nil, fmt.Errorf("built-in Slack template: %w", err)
		}
	}
	for _, g := range conf.Templates {
		if err := tmpl.FromGlob(g); err != nil {
			return nil, nil, fmt.Errorf("templates %s: %w", g, err)
		}
	}
	if extURL != nil {
		tmpl.ExternalURL = extURL
	}
	active := map[string]bool{}
	dispatch.NewRoute(conf.Route, nil).Walk(func(rt *dispatch.Route) { active[rt.RouteOpts.Receiver] = true })
	out := make(map[string][]notify.Integration, len(active))
	var errs []error
	for _, rcv := range conf.Receivers {
		if !active[rcv.Name] {
			continue
		}
		ints, err := receiver.BuildReceiverIntegrations(rcv, tmpl, logger, httpOpts...)
		if err != nil {
			errs = append(errs, fmt.Errorf("receiver %s: %w", rcv.Name, err))
			continue
		}
		// BuildReceiverIntegrations adds webhook_configs first, in order.
		for i, wc := range rcv.WebhookConfigs {
			w, err := notifiers.NewWebhook(wc, tmpl, logger.With("integration", "webhook"), seyrenURL, httpOpts...)
			if err != nil {
				errs = append(errs, fmt.Errorf("receiver %s webhook %d: %w", rcv.Name, i, err))
				continue
			}
			ints[i] = notify.NewIntegration(w, wc, "webhook", i, rcv.Name)
		}
		for i := range ints {
			// Response bodies out of the errors the pipeline logs.
			inner := ints[i]
			ints[i] = notify.NewIntegration(notifiers.Sanitizing{Notifier: &inner}, &inner, inner.Name(), inner.Index(), rcv.Name)
		}
		out[rcv.Name] = ints
	}
	return out, tmpl, errors.Join(errs...)
}
