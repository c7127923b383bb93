package evaluate

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
)

// Names of the evaluator's own alerts.
const (
	// AlertRuleFailing fires for each rule (by group and name) whose
	// last evaluation failed: a query error, a timeout, a template or
	// storage error. Seyren showed such checks as green.
	AlertRuleFailing = "CopenhagenRuleEvaluationFailing"
	// AlertNoData fires for an imported Seyren check (a group with a
	// seyren_check_value recording rule) whose own query returned
	// nothing for NoDataIntervals consecutive evaluations: its data
	// stopped, and the recording rule is only repeating its last value.
	AlertNoData = "CopenhagenCheckNoData"
)

// seyrenRecord is the recording rule `copenhagen import seyren` writes
// for every check; its expression is `<check query> or
// last_over_time(seyren_check_value{check_id="..."}[2m])`.
const seyrenRecord = "seyren_check_value"

// health derives the evaluator's own alerts after each group iteration,
// from the rules' health (LastError) and, for imported checks, from
// whether the check's query still returns data. It runs in the group's
// goroutine, after Prometheus's own iteration, so that the alerts follow
// the group's interval and cost nothing when all is well.
type health struct {
	opts   Options
	parser parser.Parser

	mu     sync.Mutex
	groups map[string]*groupHealth // by rules.GroupKey
	exprs  map[string]string       // seyren rule query -> no-data probe query

	firing *prometheus.GaugeVec
}

type groupHealth struct {
	alerts map[string]*selfAlert // by label set
	noData map[string]int        // check_id -> consecutive empty evaluations
}

type selfAlert struct {
	labels      labels.Labels
	annotations labels.Labels
	activeAt    time.Time
	lastSent    time.Time
	seen        bool // set during an iteration; unset ones are resolved
}

func newHealth(o Options, p parser.Parser, reg prometheus.Registerer) *health {
	h := &health{
		opts:   o,
		parser: p,
		groups: map[string]*groupHealth{},
		exprs:  map[string]string{},
		firing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "copenhagen_rules_self_alerts_firing",
			Help: "Copenhagen's own alerts currently firing, by alertname (CopenhagenRuleEvaluationFailing: rules failing to evaluate; CopenhagenCheckNoData: imported checks without data).",
		}, []string{"alertname"}),
	}
	h.firing.WithLabelValues(AlertRuleFailing)
	h.firing.WithLabelValues(AlertNoData)
	if err := reg.Register(h.firing); err != nil {
		o.Logger.Warn("cannot register copenhagen_rules_self_alerts_firing", "err", err)
	}
	return h
}

// iterate is the rules manager's GroupEvalIterationFunc: Prometheus's
// iteration, then the health check of what it left.
func (h *health) iterate(ctx context.Context, g *rules.Group, ts time.Time) {
	rules.DefaultEvalIterationFunc(ctx, g, ts)
	h.observe(ctx, g, ts)
	if h.opts.AfterIteration != nil {
		h.opts.AfterIteration(ctx, g, ts)
	}
}

func (h *health) observe(ctx context.Context, g *rules.Group, ts time.Time) {
	type found struct {
		lset, ann labels.Labels
	}
	var now []found
	for _, r := range g.Rules() {
		checkID := r.Labels().Get("check_id")
		if r.Health() == rules.HealthBad && r.LastError() != nil {
			b := labels.NewScratchBuilder(6)
			b.Add(labels.AlertName, AlertRuleFailing)
			b.Add("rule_group", g.Name())
			b.Add("rule_file", g.File())
			b.Add("rule", r.Name())
			if checkID != "" {
				b.Add("check_id", checkID)
			}
			b.Add("severity", "warning")
			b.Sort()
			now = append(now, found{b.Labels(), labels.FromStrings(
				"summary", "rule "+r.Name()+" of group "+g.Name()+" fails to evaluate",
				"description", r.LastError().Error(),
				"query", r.Query().String(),
			)})
		}
		if rr, ok := r.(*rules.RecordingRule); ok && rr.Name() == seyrenRecord && checkID != "" && h.opts.NoDataIntervals > 0 {
			if h.probeEmpty(ctx, rr, ts) {
				if h.countNoData(g, checkID) >= h.opts.NoDataIntervals {
					now = append(now, found{labels.FromStrings(
						labels.AlertName, AlertNoData,
						"check_id", checkID,
						"rule_group", g.Name(),
						"severity", "warning",
					), labels.FromStrings(
						"summary", "check "+checkID+" has had no data for "+strconv.Itoa(h.opts.NoDataIntervals)+" evaluations",
						"description", "the check's query returns nothing: its data stopped arriving or was renamed; seyren_check_value repeats its last value",
					)})
				}
			} else {
				h.resetNoData(g, checkID)
			}
		}
	}

	h.mu.Lock()
	gh := h.group(g)
	for _, a := range gh.alerts {
		a.seen = false
	}
	var send []*notifier.Alert
	for _, f := range now {
		key := f.lset.String()
		a := gh.alerts[key]
		if a == nil {
			a = &selfAlert{labels: f.lset, activeAt: ts}
			gh.alerts[key] = a
		}
		a.annotations = f.ann
		a.seen = true
		if a.lastSent.IsZero() || !a.lastSent.Add(h.opts.ResendDelay).After(ts) {
			a.lastSent = ts
			send = append(send, h.firingAlert(a, g.Interval(), ts))
		}
	}
	for key, a := range gh.alerts {
		if !a.seen {
			delete(gh.alerts, key)
			send = append(send, resolvedAlert(a, ts))
		}
	}
	h.updateGaugeLocked()
	h.mu.Unlock()
	h.send(send)
}

// probeEmpty evaluates an imported check's own query (the recording
// rule's expression without its `or last_over_time(...)` fallback) and
// reports whether it returned nothing.
func (h *health) probeEmpty(ctx context.Context, r *rules.RecordingRule, ts time.Time) bool {
	full := r.Query().String()
	h.mu.Lock()
	probe, ok := h.exprs[full]
	h.mu.Unlock()
	if !ok {
		probe = full
		if be, isBin := r.Query().(*parser.BinaryExpr); isBin && be.Op == parser.LOR && mentions(be.RHS, seyrenRecord) {
			probe = be.LHS.String()
		}
		h.mu.Lock()
		h.exprs[full] = probe
		h.mu.Unlock()
	}
	v, err := h.opts.QueryFunc(ctx, probe, ts)
	if err != nil {
		// A failing query is CopenhagenRuleEvaluationFailing's business
		// (the recording rule failed too), not "no data".
		return false
	}
	return len(v) == 0
}

func mentions(e parser.Expr, metric string) bool {
	found := false
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && vs.Name == metric {
			found = true
		}
		return nil
	})
	return found
}

func (h *health) group(g *rules.Group) *groupHealth {
	key := rules.GroupKey(g.File(), g.Name())
	gh := h.groups[key]
	if gh == nil {
		gh = &groupHealth{alerts: map[string]*selfAlert{}, noData: map[string]int{}}
		h.groups[key] = gh
	}
	return gh
}

func (h *health) countNoData(g *rules.Group, checkID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	gh := h.group(g)
	gh.noData[checkID]++
	return gh.noData[checkID]
}

func (h *health) resetNoData(g *rules.Group, checkID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.group(g).noData, checkID)
}

// retain resolves the alerts of groups that a reload removed.
func (h *health) retain(groups []*rules.Group) {
	keep := map[string]bool{}
	for _, g := range groups {
		keep[rules.GroupKey(g.File(), g.Name())] = true
	}
	now := time.Now()
	var send []*notifier.Alert
	h.mu.Lock()
	for key, gh := range h.groups {
		if keep[key] {
			continue
		}
		for _, a := range gh.alerts {
			send = append(send, resolvedAlert(a, now))
		}
		delete(h.groups, key)
	}
	h.exprs = map[string]string{} // dropped rules' probes go too
	h.updateGaugeLocked()
	h.mu.Unlock()
	h.send(send)
}

func (h *health) updateGaugeLocked() {
	n := map[string]int{}
	for _, gh := range h.groups {
		for _, a := range gh.alerts {
			n[a.labels.Get(labels.AlertName)]++
		}
	}
	h.firing.WithLabelValues(AlertRuleFailing).Set(float64(n[AlertRuleFailing]))
	h.firing.WithLabelValues(AlertNoData).Set(float64(n[AlertNoData]))
}

func (h *health) active() []*notifier.Alert {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*notifier.Alert
	for _, gh := range h.groups {
		for _, a := range gh.alerts {
			out = append(out, h.firingAlert(a, h.opts.Interval, time.Now()))
		}
	}
	sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].Labels, out[j].Labels) < 0 })
	return out
}

// firingAlert is valid for four intervals, as Prometheus's alerts are, so
// that a receiver resolves it by itself if Copenhagen stops.
func (h *health) firingAlert(a *selfAlert, interval time.Duration, ts time.Time) *notifier.Alert {
	valid := max(h.opts.ResendDelay, interval)
	return &notifier.Alert{
		Labels:      a.labels,
		Annotations: a.annotations,
		StartsAt:    a.activeAt,
		EndsAt:      ts.Add(4 * valid),
	}
}

func resolvedAlert(a *selfAlert, ts time.Time) *notifier.Alert {
	return &notifier.Alert{Labels: a.labels, Annotations: a.annotations, StartsAt: a.activeAt, EndsAt: ts}
}

func (h *health) send(alerts []*notifier.Alert) {
	if len(alerts) == 0 || h.opts.Sender == nil {
		return
	}
	h.opts.Sender.Send(alerts...)
}
