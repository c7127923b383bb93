package evaluate

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/copenhagen-obs/copenhagen/translate/promapi"
)

func promqlParseMetric(s string) (labels.Labels, error) {
	return parser.NewParser(parser.Options{}).ParseMetric(s)
}

// testutilGauge reads one labelled value of a gauge from reg.
func testutilGauge(t *testing.T, reg *prometheus.Registry, name, alertname string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "alertname" && l.GetValue() == alertname {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("%s{alertname=%q} not found", name, alertname)
	return 0
}

// promAPI is Copenhagen's query API (Prometheus's handlers) over st.
func promAPI(t *testing.T, st storage.SampleAndChunkQueryable, eng *promql.Engine) http.Handler {
	t.Helper()
	mux := http.NewServeMux()
	promapi.Register(mux, promapi.Options{Queryable: st, Engine: eng, LookbackDelta: 5 * time.Minute})
	return mux
}
