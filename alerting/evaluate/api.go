package evaluate

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/route"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	apiv1 "github.com/prometheus/prometheus/web/api/v1"
)

// APIPaths are the endpoints Handler serves, under /api/v1.
var APIPaths = []string{"/rules", "/alerts", "/alertmanagers"}

// AlertmanagerLister lists the external Alertmanagers alerts go to, for
// /api/v1/alertmanagers (*Alertmanagers implements it).
type AlertmanagerLister interface {
	Alertmanagers() []*url.URL
	DroppedAlertmanagers() []*url.URL
}

// Handler serves /api/v1/rules, /api/v1/alerts and /api/v1/alertmanagers
// with Prometheus's own web/api/v1 code over the evaluator's rules
// manager, so their JSON, filters (type, rule_name[], file[], match[],
// exclude_alerts, group_limit) and errors are Prometheus's. ams may be
// nil.
func (e *Evaluator) Handler(ams AlertmanagerLister, version string) http.Handler {
	if version == "" {
		version = "unknown"
	}
	ret := &retriever{mgr: e.mgr, ams: ams}
	api := apiv1.NewAPI(
		nil, emptySampleQueryable{}, nil, nil,
		func(context.Context) apiv1.ScrapePoolsRetriever { return ret },
		func(context.Context) apiv1.TargetRetriever { return ret },
		func(context.Context) apiv1.AlertmanagerRetriever { return ret },
		func() promconfig.Config { return promconfig.DefaultConfig },
		map[string]string{},
		apiv1.GlobalURLOptions{},
		func(f http.HandlerFunc) http.HandlerFunc { return f },
		nil, "", false, false, 0,
		e.logger.With("component", "api"),
		func(context.Context) apiv1.RulesRetriever { return ret },
		0, 1, 1<<20,
		false,
		nil,
		func() (apiv1.RuntimeInfo, error) { return apiv1.RuntimeInfo{}, nil },
		&apiv1.PrometheusVersion{Version: version, GoVersion: runtime.Version()},
		nil, nil,
		prometheus.NewRegistry(), prometheus.NewRegistry(),
		nil,
		false, nil,
		false, false, false,
		0,
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
		for _, a := range APIPaths {
			if p == a {
				inner.ServeHTTP(w, req)
				return
			}
		}
		http.NotFound(w, req)
	})
}

// Register mounts Handler on mux at the exact paths it serves: more
// specific than the query API's "/api/v1/" pattern, so they win.
func (e *Evaluator) Register(mux *http.ServeMux, ams AlertmanagerLister, version string) {
	h := e.Handler(ams, version)
	for _, p := range APIPaths {
		mux.Handle("/api/v1"+p, h)
	}
}

type retriever struct {
	mgr *rules.Manager
	ams AlertmanagerLister
}

func (r *retriever) RuleGroups() []*rules.Group           { return r.mgr.RuleGroups() }
func (r *retriever) AlertingRules() []*rules.AlertingRule { return r.mgr.AlertingRules() }
func (r *retriever) Alertmanagers() []*url.URL {
	if r.ams == nil {
		return nil
	}
	return r.ams.Alertmanagers()
}
func (r *retriever) DroppedAlertmanagers() []*url.URL {
	if r.ams == nil {
		return nil
	}
	return r.ams.DroppedAlertmanagers()
}
func (r *retriever) ScrapePools() []string                      { return nil }
func (r *retriever) TargetsActive() map[string][]*scrape.Target { return map[string][]*scrape.Target{} }
func (r *retriever) TargetsDropped() map[string][]*scrape.Target {
	return map[string][]*scrape.Target{}
}
func (r *retriever) TargetsDroppedCounts() map[string]int                      { return map[string]int{} }
func (r *retriever) ScrapePoolConfig(string) (*promconfig.ScrapeConfig, error) { return nil, nil }

// emptySampleQueryable stands for the query API's storage, which these
// endpoints never read.
type emptySampleQueryable struct{ emptyQueryable }

func (emptySampleQueryable) ChunkQuerier(int64, int64) (storage.ChunkQuerier, error) {
	return storage.NoopChunkedQuerier(), nil
}
