// Package promapi serves the Prometheus HTTP API v1 (query, query_range,
// series, labels, label values, metadata, status/buildinfo) over any
// storage.Queryable, so that Grafana's Prometheus data source, amtool-style
// tools and client_golang's API client work against Copenhagen unchanged.
//
// It does not reimplement the API: it mounts Prometheus's own
// web/api/v1 handlers (the code a Prometheus server runs), with the parts
// Copenhagen has no use for (scrape targets, rules, admin, remote read and
// write receivers) left out. JSON, number formatting, error types and
// status codes are therefore Prometheus's by construction, and follow it
// when the dependency is upgraded.
package promapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/route"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	apiv1 "github.com/prometheus/prometheus/web/api/v1"
)

// Metadata is the type and help of a metric family, for /api/v1/metadata.
// Type is a Prometheus metric type ("counter", "gauge", "histogram",
// "summary", "unknown").
type Metadata struct {
	Family string
	Type   string
	Help   string
}

// Options configure the API.
type Options struct {
	// Queryable is what queries read. Required unless Agent is set.
	Queryable storage.SampleAndChunkQueryable
	// Engine evaluates PromQL. Required unless Agent is set.
	Engine promql.QueryEngine
	// Agent answers every query endpoint with Prometheus agent's error
	// ("unavailable with Prometheus Agent"), for storage.mode agent.
	Agent bool
	// Metadata lists metric families for /api/v1/metadata; nil answers {}
	// as a Prometheus that scraped nothing does.
	Metadata func() []Metadata
	// Ready gates every endpoint: while it returns false they answer 503
	// "Service Unavailable", as Prometheus does while its TSDB opens.
	// nil means always ready.
	Ready func() bool
	// Version is reported by /api/v1/status/buildinfo.
	Version  string
	Revision string
	// LookbackDelta is the engine's lookback (used by the API for series
	// and label lookups without explicit times).
	LookbackDelta time.Duration
	Logger        *slog.Logger
	// Registerer gets the API's own metrics; nil registers nothing.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
}

// Paths lists the endpoints served under /api/v1 (with the methods
// Prometheus accepts on each). Everything else under /api/v1 is 404 with
// a Prometheus-style JSON error.
var Paths = []string{
	"/query", "/query_range", "/query_exemplars", "/format_query", "/parse_query",
	"/series", "/labels", "/label/", "/metadata", "/status/buildinfo",
}

// Handler returns the API, to be mounted at "/api/v1/" (the paths it
// serves start with /api/v1).
func Handler(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Version == "" {
		o.Version = "unknown"
	}
	if o.LookbackDelta <= 0 {
		o.LookbackDelta = 5 * time.Minute
	}
	q := o.Queryable
	if q == nil {
		q = emptyQueryable{}
	}
	reg := o.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	gat := o.Gatherer
	if gat == nil {
		gat = prometheus.NewRegistry()
	}
	ready := func(f http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if o.Ready != nil && !o.Ready() {
				w.Header().Set("X-Prometheus-Stopping", "false")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("Service Unavailable"))
				return
			}
			f(w, r)
		}
	}
	tr := &targets{}
	if o.Metadata != nil {
		tr.metadata = o.Metadata
	}
	api := apiv1.NewAPI(
		o.Engine, q, nil, noExemplars{},
		func(context.Context) apiv1.ScrapePoolsRetriever { return tr },
		func(context.Context) apiv1.TargetRetriever { return tr },
		func(context.Context) apiv1.AlertmanagerRetriever { return tr },
		func() promconfig.Config { return promconfig.DefaultConfig },
		map[string]string{},
		apiv1.GlobalURLOptions{},
		ready,
		nil, "", false, false, 0,
		o.Logger.With("component", "api"),
		func(context.Context) apiv1.RulesRetriever { return tr },
		0, 1, 1<<20,
		o.Agent,
		nil,
		func() (apiv1.RuntimeInfo, error) { return apiv1.RuntimeInfo{}, nil },
		&apiv1.PrometheusVersion{
			Version:   o.Version,
			Revision:  o.Revision,
			Branch:    "",
			GoVersion: runtime.Version(),
		},
		nil, nil,
		gat, reg,
		nil,
		false, nil,
		false, false, false,
		o.LookbackDelta,
		false, false,
		nil,
		nil,
		apiv1.OpenAPIOptions{},
		nil,
		false,
		0,
	)
	r := route.New()
	api.Register(r)
	inner := http.StripPrefix("/api/v1", r)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p := strings.TrimPrefix(req.URL.Path, "/api/v1")
		if !allowed(p) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"status":"error","errorType":"not_found","error":"Copenhagen does not serve ` + jsonEscape(req.URL.Path) + `"}`))
			return
		}
		inner.ServeHTTP(w, req)
	})
}

func allowed(p string) bool {
	for _, a := range Paths {
		if strings.HasSuffix(a, "/") {
			// /label/<name>/values only.
			if rest, ok := strings.CutPrefix(p, a); ok && strings.HasSuffix(rest, "/values") && strings.Count(rest, "/") == 1 {
				return true
			}
			continue
		}
		if p == a {
			return true
		}
	}
	return false
}

func jsonEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20:
			b.WriteString(" ")
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Register mounts the API on mux at /api/v1/.
func Register(mux *http.ServeMux, o Options) {
	mux.Handle("/api/v1/", Handler(o))
}

// targets stands in for the scrape, rules and Alertmanager managers the
// API asks about. Copenhagen scrapes nothing; its one "target" carries
// the metadata of the families it translated, which is how
// /api/v1/metadata finds type and help in Prometheus.
type targets struct {
	metadata func() []Metadata
}

func (t *targets) ScrapePools() []string { return nil }

func (t *targets) TargetsActive() map[string][]*scrape.Target {
	if t.metadata == nil {
		return map[string][]*scrape.Target{}
	}
	tg := scrape.NewTarget(labels.FromStrings(model.JobLabel, "copenhagen"), &promconfig.ScrapeConfig{}, nil, nil)
	tg.SetMetadataStore(metadataStore(t.metadata()))
	return map[string][]*scrape.Target{"copenhagen": {tg}}
}

func (t *targets) TargetsDropped() map[string][]*scrape.Target { return map[string][]*scrape.Target{} }
func (t *targets) TargetsDroppedCounts() map[string]int        { return map[string]int{} }
func (t *targets) ScrapePoolConfig(string) (*promconfig.ScrapeConfig, error) {
	return nil, nil
}
func (t *targets) Alertmanagers() []*url.URL            { return nil }
func (t *targets) DroppedAlertmanagers() []*url.URL     { return nil }
func (t *targets) RuleGroups() []*rules.Group           { return nil }
func (t *targets) AlertingRules() []*rules.AlertingRule { return nil }

type metadataStore []Metadata

func (m metadataStore) ListMetadata() []scrape.MetricMetadata {
	out := make([]scrape.MetricMetadata, len(m))
	for i, e := range m {
		out[i] = scrape.MetricMetadata{MetricFamily: e.Family, Type: model.MetricType(e.Type), Help: e.Help}
	}
	return out
}

func (m metadataStore) GetMetadata(name string) (scrape.MetricMetadata, bool) {
	for _, e := range m {
		if e.Family == name {
			return scrape.MetricMetadata{MetricFamily: e.Family, Type: model.MetricType(e.Type), Help: e.Help}, true
		}
	}
	return scrape.MetricMetadata{}, false
}

func (m metadataStore) SizeMetadata() int {
	n := 0
	for _, e := range m {
		n += len(e.Family) + len(e.Help) + len(e.Type)
	}
	return n
}

func (m metadataStore) LengthMetadata() int { return len(m) }

// noExemplars answers /api/v1/query_exemplars: Copenhagen stores no
// exemplars (StatsD and Graphite carry none). Without it Prometheus's
// handler dereferences a nil queryable and the request panics.
type noExemplars struct{}

func (noExemplars) ExemplarQuerier(context.Context) (storage.ExemplarQuerier, error) {
	return noExemplars{}, nil
}

func (noExemplars) Select(int64, int64, ...[]*labels.Matcher) ([]exemplar.QueryResult, error) {
	return []exemplar.QueryResult{}, nil
}

// emptyQueryable is used in agent mode, where the API refuses queries
// before touching storage.
type emptyQueryable struct{}

func (emptyQueryable) Querier(int64, int64) (storage.Querier, error) {
	return storage.NoopQuerier(), nil
}

func (emptyQueryable) ChunkQuerier(int64, int64) (storage.ChunkQuerier, error) {
	return storage.NoopChunkedQuerier(), nil
}
