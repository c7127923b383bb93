package evaluate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
)

// LocalQueryFunc evaluates rules with Copenhagen's PromQL engine over its
// embedded storage: Prometheus's rules.EngineQueryFunc.
func LocalQueryFunc(engine promql.QueryEngine, q storage.Queryable) rules.QueryFunc {
	return rules.EngineQueryFunc(engine, q)
}

// RemoteQueryFunc evaluates rules on a remote Prometheus-compatible query
// API (Prometheus, VictoriaMetrics' vmselect), for data sets one
// Copenhagen cannot hold: each rule is one GET/POST <baseURL>/api/v1/query
// at the evaluation time. Native histogram samples in the answer are not
// supported (an error: a rule must not silently see less than it asked
// for). rt may be nil (http.DefaultTransport).
func RemoteQueryFunc(baseURL string, rt http.RoundTripper, timeout time.Duration) (rules.QueryFunc, error) {
	c, err := api.NewClient(api.Config{Address: baseURL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("query_url: %w", err)
	}
	q := v1.NewAPI(c)
	return func(ctx context.Context, qs string, t time.Time) (promql.Vector, error) {
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		// The API takes seconds with millisecond precision and rounds:
		// truncate as the local engine does, so both see the same instant.
		v, _, _, err := q.Query(ctx, qs, t.Truncate(time.Millisecond))
		if err != nil {
			return nil, fmt.Errorf("remote query: %w", err)
		}
		return toVector(v)
	}, nil
}

func toVector(v model.Value) (promql.Vector, error) {
	switch v := v.(type) {
	case model.Vector:
		out := make(promql.Vector, 0, len(v))
		b := labels.NewScratchBuilder(8)
		for _, s := range v {
			if s.Histogram != nil {
				return nil, errors.New("remote query returned native histograms, which rules over query_url do not support")
			}
			b.Reset()
			for k, val := range s.Metric {
				b.Add(string(k), string(val))
			}
			b.Sort()
			out = append(out, promql.Sample{Metric: b.Labels(), T: int64(s.Timestamp), F: float64(s.Value)})
		}
		return out, nil
	case *model.Scalar:
		return promql.Vector{{Metric: labels.EmptyLabels(), T: int64(v.Timestamp), F: float64(v.Value)}}, nil
	case nil:
		return promql.Vector{}, nil
	default:
		return nil, fmt.Errorf("rule result is not a vector or scalar but %s", v.Type())
	}
}
