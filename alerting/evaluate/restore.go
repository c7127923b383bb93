package evaluate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// RemoteQueryable is a storage.Queryable over a Prometheus-compatible
// query API, for one purpose: restoring the `for` state of alerts
// (ALERTS_FOR_STATE) after a restart when the data lives elsewhere
// (rules.query_url to vmselect, recording and ALERTS_FOR_STATE series
// remote-written to vminsert). A fresh pod, or one in agent mode, has no
// local ALERTS_FOR_STATE; vmselect serves no remote_read, so Select asks
// /api/v1/query for the raw samples of the selector over the querier's
// range (a range-vector instant query, which Prometheus and
// VictoriaMetrics both answer with every sample and its timestamp).
// Label names and values are not supported.
func RemoteQueryable(baseURL string, rt http.RoundTripper, timeout time.Duration) (storage.Queryable, error) {
	c, err := api.NewClient(api.Config{Address: baseURL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("query_url: %w", err)
	}
	return storage.QueryableFunc(func(mint, maxt int64) (storage.Querier, error) {
		return &remoteQuerier{api: v1.NewAPI(c), mint: mint, maxt: maxt, timeout: timeout}, nil
	}), nil
}

type remoteQuerier struct {
	api        v1.API
	mint, maxt int64
	timeout    time.Duration
}

var errLabelsUnsupported = errors.New("the remote restore querier only selects series")

func (q *remoteQuerier) Select(ctx context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	if q.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, q.timeout)
		defer cancel()
	}
	// A range selector is left-open, (t-range, t]: one millisecond more
	// includes a sample at mint, as a storage querier does.
	expr := fmt.Sprintf("%s[%dms]", selector(ms), max(q.maxt-q.mint, 0)+1)
	v, _, _, err := q.api.Query(ctx, expr, time.UnixMilli(q.maxt))
	if err != nil {
		return storage.ErrSeriesSet(fmt.Errorf("remote restore query %s: %w", expr, err))
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return storage.ErrSeriesSet(fmt.Errorf("remote restore query %s: expected a matrix, got %s", expr, v.Type()))
	}
	series := make([]storage.Series, 0, len(m))
	b := labels.NewScratchBuilder(8)
	for _, ss := range m {
		b.Reset()
		for k, val := range ss.Metric {
			b.Add(string(k), string(val))
		}
		b.Sort()
		samples := make([]chunks.Sample, 0, len(ss.Values))
		for _, p := range ss.Values {
			if t := int64(p.Timestamp); t >= q.mint && t <= q.maxt {
				samples = append(samples, floatSample{t: t, f: float64(p.Value)})
			}
		}
		if len(samples) > 0 {
			series = append(series, storage.NewListSeries(b.Labels(), samples))
		}
	}
	sort.Slice(series, func(i, j int) bool { return labels.Compare(series[i].Labels(), series[j].Labels()) < 0 })
	return &listSeriesSet{series: series, i: -1}
}

// selector renders matchers as a PromQL selector.
func selector(ms []*labels.Matcher) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		parts = append(parts, m.String())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func (q *remoteQuerier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, errLabelsUnsupported
}

func (q *remoteQuerier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, errLabelsUnsupported
}

func (q *remoteQuerier) Close() error { return nil }

type listSeriesSet struct {
	series []storage.Series
	i      int
}

func (s *listSeriesSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *listSeriesSet) At() storage.Series                { return s.series[s.i] }
func (s *listSeriesSet) Err() error                        { return nil }
func (s *listSeriesSet) Warnings() annotations.Annotations { return nil }

type floatSample struct {
	t int64
	f float64
}

func (s floatSample) T() int64                      { return s.t }
func (s floatSample) ST() int64                     { return 0 }
func (s floatSample) F() float64                    { return s.f }
func (s floatSample) H() *histogram.Histogram       { return nil }
func (s floatSample) FH() *histogram.FloatHistogram { return nil }
func (s floatSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s floatSample) Copy() chunks.Sample           { return s }

// MergeQueryables restores from every non-nil queryable: the local
// storage (a pod that kept its data) and the remote query API (one that
// did not), the newest sample winning as in any merge of identical
// series.
func MergeQueryables(qs ...storage.Queryable) storage.Queryable {
	var use []storage.Queryable
	for _, q := range qs {
		if q != nil {
			use = append(use, q)
		}
	}
	if len(use) == 1 {
		return use[0]
	}
	return storage.QueryableFunc(func(mint, maxt int64) (storage.Querier, error) {
		var qq []storage.Querier
		for _, q := range use {
			x, err := q.Querier(mint, maxt)
			if err != nil {
				return nil, err
			}
			qq = append(qq, x)
		}
		return storage.NewMergeQuerier(qq[:1], qq[1:], storage.ChainedSeriesMerge), nil
	})
}
