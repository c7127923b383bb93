package main

import (
	"net/http"

	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/rules"

	"github.com/copenhagen-obs/copenhagen/alerting/evaluate"
	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/dashboards/tv"
)

// buildTV wires /tv, the built-in wallboard, over what buildRules returned:
// the evaluator's rule groups and own alerts, and the query function the
// rules use for the checks' values. Without rule evaluation there is
// nothing to show and /tv is not served. It is mounted on the same mux,
// so the same http.web_config_file (TLS, basic auth) protects it.
// It reports whether /tv is served.
func (a *app) buildTV(_ *config.Config, r *ruleWiring) (bool, error) {
	if r == nil || r.evaluator == nil || r.query == nil {
		return false, nil
	}
	h, err := tv.New(tv.Options{
		Rules:      evaluatorRules{r.evaluator},
		Values:     tv.QueryFunc(r.query),
		Logger:     a.logger.With("component", "tv"),
		Registerer: a.reg,
	})
	if err != nil {
		return false, err
	}
	a.routeHooks = append(a.routeHooks, func(mux *http.ServeMux) { h.Register(mux) })
	return true, nil
}

// evaluatorRules adapts *evaluate.Evaluator to tv.Rules.
type evaluatorRules struct{ ev *evaluate.Evaluator }

func (e evaluatorRules) RuleGroups() []*rules.Group    { return e.ev.Manager().RuleGroups() }
func (e evaluatorRules) SelfAlerts() []*notifier.Alert { return e.ev.SelfAlerts() }
