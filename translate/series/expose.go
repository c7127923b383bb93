package series

import (
	"bufio"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/prometheus/model/labels"
)

// Format is an exposition format.
type Format int

// Exposition formats: the Prometheus text format 0.0.4 and OpenMetrics 1.0.
const (
	FormatText Format = iota
	FormatOpenMetrics
)

// WriteTo writes every live series in the given format. It follows
// client_golang's encoders byte for byte (number formatting, counter naming
// in OpenMetrics), so scrapers see what statsd_exporter would have shown,
// with one exception: in OpenMetrics a counter whose name lacks _total (an
// unmapped StatsD counter, "api.hits" -> api_hits) stays a counter, its
// samples named api_hits_total as the format requires, where client_golang
// would type it "unknown".
// It does not write the OpenMetrics "# EOF" trailer: the caller appends its
// own metrics first.
func (s *Store) WriteTo(w io.Writer, f Format) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf []byte
	var m dto.Metric
	for _, fam := range s.snapshot() {
		name := fam.name
		sampleName := name
		typ := fam.kind.exposedType()
		if f == FormatOpenMetrics && fam.kind == KindCounter {
			// OpenMetrics names the family without _total and its
			// samples with it. client_golang types a counter whose name
			// lacks _total "unknown" instead, which loses the type (and
			// rate() hints) for every unmapped StatsD counter; its
			// samples get the suffix here, a name collides() reserves.
			if base, ok := strings.CutSuffix(name, "_total"); ok {
				name = base
			} else {
				sampleName = name + "_total"
			}
		}
		buf = append(buf[:0], "# HELP "...)
		buf = append(buf, name...)
		buf = append(buf, ' ')
		buf = appendEscaped(buf, fam.help, false)
		buf = append(buf, "\n# TYPE "...)
		buf = append(buf, name...)
		buf = append(buf, ' ')
		buf = append(buf, typ...)
		buf = append(buf, '\n')
		for _, ser := range fam.series {
			switch ser.kind {
			case KindCounter, KindGauge, KindSet:
				buf = appendSample(buf, sampleName, "", ser.labels, "", 0, ser.Value(), f)
			case KindHistogram:
				h := ser.hist
				var cum uint64
				for i, u := range h.upper {
					cum += h.counts[i].Load()
					buf = appendCount(buf, sampleName, "_bucket", ser.labels, "le", u, cum, f)
				}
				count := h.count.Load()
				buf = appendCount(buf, sampleName, "_bucket", ser.labels, "le", math.Inf(1), count, f)
				buf = appendSample(buf, sampleName, "_sum", ser.labels, "", 0, math.Float64frombits(h.sum.Load()), f)
				buf = appendCount(buf, sampleName, "_count", ser.labels, "", 0, count, f)
			case KindSummary:
				m.Reset()
				if err := ser.sum.Write(&m); err != nil {
					continue
				}
				for _, q := range m.Summary.Quantile {
					buf = appendSample(buf, sampleName, "", ser.labels, "quantile", q.GetQuantile(), q.GetValue(), f)
				}
				buf = appendSample(buf, sampleName, "_sum", ser.labels, "", 0, math.Float64frombits(ser.sumSum.Load()), f)
				buf = appendCount(buf, sampleName, "_count", ser.labels, "", 0, ser.sumCount.Load(), f)
			}
			if len(buf) > 32<<10 {
				if _, err := bw.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		if _, err := bw.Write(buf); err != nil {
			return err
		}
		buf = buf[:0]
	}
	return bw.Flush()
}

func appendSample(buf []byte, name, suffix string, ls labels.Labels, extraName string, extraValue, v float64, f Format) []byte {
	buf = append(buf, name...)
	buf = append(buf, suffix...)
	if !ls.IsEmpty() || extraName != "" {
		buf = append(buf, '{')
		first := true
		ls.Range(func(l labels.Label) {
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = append(buf, l.Name...)
			buf = append(buf, '=', '"')
			buf = appendEscaped(buf, l.Value, true)
			buf = append(buf, '"')
		})
		if extraName != "" {
			if !first {
				buf = append(buf, ',')
			}
			buf = append(buf, extraName...)
			buf = append(buf, '=', '"')
			buf = appendFloat(buf, extraValue, f)
			buf = append(buf, '"')
		}
		buf = append(buf, '}')
	}
	buf = append(buf, ' ')
	buf = appendFloat(buf, v, f)
	return append(buf, '\n')
}

// appendCount writes an observation count: OpenMetrics encoders write
// these as integers, the text format as floats.
func appendCount(buf []byte, name, suffix string, ls labels.Labels, extraName string, extraValue float64, n uint64, f Format) []byte {
	if f != FormatOpenMetrics {
		return appendSample(buf, name, suffix, ls, extraName, extraValue, float64(n), f)
	}
	buf = appendSample(buf, name, suffix, ls, extraName, extraValue, 0, f)
	buf = buf[:len(buf)-len("0.0\n")]
	buf = strconv.AppendUint(buf, n, 10)
	return append(buf, '\n')
}

func appendFloat(buf []byte, v float64, f Format) []byte {
	switch {
	case math.IsNaN(v):
		return append(buf, "NaN"...)
	case math.IsInf(v, 1):
		return append(buf, "+Inf"...)
	case math.IsInf(v, -1):
		return append(buf, "-Inf"...)
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
	if f == FormatOpenMetrics {
		num := buf[start:]
		if !strings.ContainsAny(string(num), "e.") {
			buf = append(buf, '.', '0')
		}
	}
	return buf
}

// appendEscaped escapes a HELP text (backslash, newline) or a label value
// (also double quotes).
func appendEscaped(buf []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			buf = append(buf, '\\', '\\')
		case c == '\n':
			buf = append(buf, '\\', 'n')
		case c == '"' && quote:
			buf = append(buf, '\\', '"')
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

// Handler serves /metrics: the series of every store, then Copenhagen's own
// metrics from g, in the format the scraper asked for (OpenMetrics or the
// delimited protobuf format when its Accept header prefers it, the text
// format otherwise), gzip-compressed when accepted.
func Handler(g prometheus.Gatherer, stores ...*Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := expfmt.NegotiateIncludingOpenMetrics(r.Header)
		f := FormatText
		switch ct.FormatType() {
		case expfmt.TypeOpenMetrics:
			f = FormatOpenMetrics
		case expfmt.TypeProtoDelim:
			// What Prometheus asks for first with native histograms on:
			// the only format that carries them.
			ct = expfmt.NewFormat(expfmt.TypeProtoDelim)
		default:
			ct = expfmt.NewFormat(expfmt.TypeTextPlain)
		}
		mfs, gerr := g.Gather()
		w.Header().Set("Content-Type", string(ct))
		var out io.Writer = w
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			defer gz.Close()
			out = gz
		}
		enc := expfmt.NewEncoder(out, ct)
		for _, s := range stores {
			var err error
			if ct.FormatType() == expfmt.TypeProtoDelim {
				err = s.EncodeProto(enc)
			} else {
				err = s.WriteTo(out, f)
			}
			if err != nil {
				return
			}
		}
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				return
			}
		}
		if c, ok := enc.(expfmt.Closer); ok {
			_ = c.Close()
		}
		_ = gerr // a failed self-metric collector must not hide the data; client_golang returns what it could gather
	})
}

// EncodeProto writes every live series as a dto.MetricFamily with enc (the
// delimited protobuf format): what the text format shows, and native
// histograms with their schema, zero bucket and spans, which only this
// format carries. Counters keep their name as in the text format 0.0.4.
func (s *Store) EncodeProto(enc expfmt.Encoder) error {
	var m dto.Metric
	for _, fam := range s.snapshot() {
		mf := &dto.MetricFamily{Name: ptr(fam.name), Help: ptr(fam.help), Type: protoType[fam.kind].Enum(),
			Metric: make([]*dto.Metric, 0, len(fam.series))}
		for _, ser := range fam.series {
			pm := &dto.Metric{Label: protoLabels(ser.labels)}
			switch ser.kind {
			case KindCounter:
				pm.Counter = &dto.Counter{Value: ptr(ser.Value())}
			case KindGauge, KindSet:
				pm.Gauge = &dto.Gauge{Value: ptr(ser.Value())}
			case KindHistogram:
				pm.Histogram = ser.hist.proto()
			case KindSummary:
				m.Reset()
				if err := ser.sum.Write(&m); err != nil {
					continue
				}
				pm.Summary = &dto.Summary{Quantile: m.Summary.Quantile,
					SampleCount: ptr(ser.sumCount.Load()), SampleSum: ptr(math.Float64frombits(ser.sumSum.Load()))}
			}
			mf.Metric = append(mf.Metric, pm)
		}
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

var protoType = map[Kind]dto.MetricType{
	KindCounter: dto.MetricType_COUNTER, KindGauge: dto.MetricType_GAUGE, KindSet: dto.MetricType_GAUGE,
	KindHistogram: dto.MetricType_HISTOGRAM, KindSummary: dto.MetricType_SUMMARY,
}

func protoLabels(ls labels.Labels) []*dto.LabelPair {
	out := make([]*dto.LabelPair, 0, ls.Len())
	ls.Range(func(l labels.Label) { out = append(out, &dto.LabelPair{Name: ptr(l.Name), Value: ptr(l.Value)}) })
	return out
}

// proto is the histogram as client_golang writes it: classic buckets
// (cumulative, without +Inf), count and sum, and the native fields when
// the series has a native histogram.
func (h *histogram) proto() *dto.Histogram {
	if h.native != nil {
		snap := h.nativeSnapshot()
		return snap.dto()
	}
	count := h.count.Load()
	out := &dto.Histogram{SampleCount: ptr(count), SampleSum: ptr(math.Float64frombits(h.sum.Load())),
		Bucket: make([]*dto.Bucket, len(h.upper))}
	var cum uint64
	for i, u := range h.upper {
		cum += h.counts[i].Load()
		out.Bucket[i] = &dto.Bucket{UpperBound: ptr(u), CumulativeCount: ptr(min(cum, count))}
	}
	return out
}
