package series

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	modelhist "github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// AppendTo appends the current value of every live series to app at
// timestamp t (milliseconds), as the samples /metrics shows in the text
// format: counters, gauges and sets as one sample; histograms as
// name_bucket{le} (cumulative, with +Inf), name_sum and name_count, and,
// when the series has a native histogram, as one native histogram sample
// of name (then only it, when the series keeps no classic buckets, as a
// Prometheus scraping the protobuf format stores it);
// summaries as name{quantile}, name_sum and name_count. It does not commit:
// the caller commits (or rolls back) the whole flush at once, so a flush is
// acknowledged as a whole.
//
// Samples the storage refuses one by one (out of order, duplicate
// timestamp, too old, too far in the future) are skipped and counted by
// reason in a returned *RefusedError; other errors stop the flush, and
// the caller should roll back. It returns the number of samples appended.
//
// The first time a series is appended, each of its cumulative samples (a
// counter; a histogram's buckets, _sum and _count; a native histogram; a
// summary's _sum and _count) is preceded by a zero at the series' creation
// time, with the storage's start-timestamp zero injection
// (AppendSTZeroSample, AppendHistogramSTZeroSample), as
// Prometheus does for a scraped counter with a created timestamp:
// otherwise the first increment of a new counter is its first sample,
// and increase() and rate() see no increase until the second one, so an
// alert on a rare failure counter would never fire on its first failure.
// The zero goes to the WAL with the sample, so remote write sends it too.
func (s *Store) AppendTo(app storage.Appender, t int64) (int, error) {
	var (
		b        labels.ScratchBuilder
		m        dto.Metric
		n        int
		refused  *RefusedError
		zeroFrom int64             = math.MaxInt64 // start timestamp of the series being appended, if new
		count    func(error) error                 // counts an append's outcome
	)
	add := func(ls labels.Labels, v float64) error {
		if zeroFrom < t {
			// Best effort: the TSDB ignores a zero that would not be
			// before everything the series has (ErrOutOfOrderST), and a
			// zero refused for another reason leaves the sample to
			// Append, which reports it.
			_, _ = app.AppendSTZeroSample(0, ls, t, zeroFrom)
		}
		_, err := app.Append(0, ls, t, v)
		return count(err)
	}
	// addHist appends a native histogram, with its zero the first time.
	addHist := func(ls labels.Labels, h *modelhist.Histogram) error {
		if zeroFrom < t {
			_, _ = app.AppendHistogramSTZeroSample(0, ls, t, zeroFrom, h, nil)
		}
		_, err := app.AppendHistogram(0, ls, t, h, nil)
		return count(err)
	}
	count = func(err error) error {
		if err == nil {
			n++
			return nil
		}
		reason, ok := cstorage.RefusalReason(err)
		if !ok {
			return err
		}
		if refused == nil {
			refused = &RefusedError{First: err, ByReason: map[string]int{}}
		}
		refused.Count++
		refused.ByReason[reason]++
		return nil
	}
	// build returns the series' labels with __name__ = name+suffix and,
	// when extra is set, one more label (le or quantile).
	build := func(ser *Series, suffix, extra string, extraValue float64) labels.Labels {
		b.Reset()
		b.Add(labels.MetricName, ser.name+suffix)
		ser.labels.Range(func(l labels.Label) { b.Add(l.Name, l.Value) })
		if extra != "" {
			b.Add(extra, formatLabelFloat(extraValue))
		}
		b.Sort()
		return b.Labels()
	}
	// Unlike /metrics, storage needs no order: collect the series without
	// snapshot's per-family sort.
	s.mu.RLock()
	all := make([]*Series, 0, s.live)
	for _, head := range s.byHash {
		for ser := head; ser != nil; ser = ser.next {
			all = append(all, ser)
		}
	}
	s.mu.RUnlock()
	for _, ser := range all {
		var err error
		zeroFrom = math.MaxInt64
		if !ser.stored.Load() && ser.kind != KindGauge && ser.kind != KindSet {
			zeroFrom = min(ser.created, t-1)
		}
		switch ser.kind {
		case KindCounter, KindGauge, KindSet:
			err = add(build(ser, "", "", 0), ser.Value())
		case KindHistogram:
			h := ser.hist
			if h.native != nil {
				snap := h.nativeSnapshot()
				if err = addHist(build(ser, "", "", 0), snap.histogram()); err != nil || len(h.upper) == 0 {
					break // native only: no classic samples
				}
			}
			// Read count first: observations racing with the flush then
			// make the buckets at most larger than count, never smaller.
			count := h.count.Load()
			var cum uint64
			for i, u := range h.upper {
				cum += h.counts[i].Load()
				if err = add(build(ser, "_bucket", "le", u), float64(min(cum, count))); err != nil {
					break
				}
			}
			if err == nil {
				err = add(build(ser, "_bucket", "le", math.Inf(1)), float64(count))
			}
			if err == nil {
				err = add(build(ser, "_sum", "", 0), math.Float64frombits(h.sum.Load()))
			}
			if err == nil {
				err = add(build(ser, "_count", "", 0), float64(count))
			}
		case KindSummary:
			m.Reset()
			if werr := ser.sum.Write(&m); werr != nil {
				continue
			}
			// Quantiles are not cumulative: no zero before them.
			zf := zeroFrom
			zeroFrom = math.MaxInt64
			for _, q := range m.Summary.Quantile {
				if err = add(build(ser, "", "quantile", q.GetQuantile()), q.GetValue()); err != nil {
					break
				}
			}
			zeroFrom = zf
			if err == nil {
				err = add(build(ser, "_sum", "", 0), math.Float64frombits(ser.sumSum.Load()))
			}
			if err == nil {
				err = add(build(ser, "_count", "", 0), float64(ser.sumCount.Load()))
			}
		}
		if err != nil {
			return n, fmt.Errorf("appending %s: %w", ser.name, err)
		}
		if zeroFrom != math.MaxInt64 {
			ser.stored.Store(true)
		}
	}
	if refused != nil {
		return n, refused
	}
	return n, nil
}

// RefusedError says that the storage refused some samples of a flush one
// by one (out of order, duplicate timestamp, too old, too far in the
// future); the others were appended and may be committed.
type RefusedError struct {
	Count int
	First error
	// ByReason counts the refusals by the storage's reason
	// (translate/storage.RefusalReason).
	ByReason map[string]int
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%d samples refused by the storage, the first: %v", e.Count, e.First)
}

func (e *RefusedError) Unwrap() error { return e.First }

// formatLabelFloat formats le and quantile label values as the text
// exposition does (and so as a scraping Prometheus stores them): "0.5",
// "1", "+Inf".
func formatLabelFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Family is a metric family's name, exposed type and help, for metadata
// APIs (/api/v1/metadata).
type Family struct {
	Name string
	Type string // "counter", "gauge", "histogram" or "summary" (sets are gauges)
	Help string
}

// Families lists the live metric families, sorted by name.
func (s *Store) Families() []Family {
	s.mu.RLock()
	out := make([]Family, 0, len(s.families))
	for _, f := range s.families {
		out = append(out, Family{Name: f.name, Type: f.kind.exposedType(), Help: f.help})
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
