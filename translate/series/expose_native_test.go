package series

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	modelhist "github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

// protoAccept is what Prometheus 2.42 sends with native histograms on.
const protoAccept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.8,application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"

func nativeStore(t testing.TB, reg prometheus.Registerer) *Store {
	t.Helper()
	s := New(Options{}, reg)
	w := NewTranslator(s, mustMapper(t, nativeMapping), nil, nil).NewWorker()
	var lines []string
	for i := range 200 {
		ms := fmt.Sprint(1 + i*i/20) // 1 ms .. 2 s
		lines = append(lines, "native.lat:"+ms+"|ms|#route:a", "both.lat:"+ms+"|ms", "classic.lat:"+ms+"|ms")
	}
	lines = append(lines, "native.lat:0|ms|#route:a", "hits:3|c", "temp:-1.5|g", "users:u1|s")
	feed(t, w, lines...)
	s.Flush(time.Now())
	return s
}

// TestTextOfNativeHistogramsIsClientGolangs: a native-only histogram
// shows in the text format as client_golang's encoder writes the same
// histogram (the +Inf bucket, _sum, _count), and one with both layouts
// shows its classic buckets: the text format cannot carry native buckets.
func TestTextOfNativeHistogramsIsClientGolangs(t *testing.T) {
	s := nativeStore(t, nil)
	for _, name := range []string{"native_lat", "both_lat", "classic_lat"} {
		var ours, theirs bytes.Buffer
		sub := New(Options{}, nil)
		for _, fam := range s.snapshot() {
			if fam.name != name {
				continue
			}
			// A store holding only this family, for its text.
			sub.families[name] = &family{name: name, kind: fam.kind, help: fam.help}
			for _, ser := range fam.series {
				sub.byHash[ser.hash] = ser
			}
			mf := &dto.MetricFamily{Name: ptr(name), Help: ptr(fam.help), Type: dto.MetricType_HISTOGRAM.Enum()}
			for _, ser := range fam.series {
				mf.Metric = append(mf.Metric, &dto.Metric{Label: protoLabels(ser.labels), Histogram: ser.hist.proto()})
			}
			if _, err := expfmt.MetricFamilyToText(&theirs, mf); err != nil {
				t.Fatal(err)
			}
		}
		if err := sub.WriteTo(&ours, FormatText); err != nil {
			t.Fatal(err)
		}
		if ours.String() != theirs.String() || ours.Len() == 0 {
			t.Errorf("%s: ours\n%s\nclient_golang's\n%s", name, ours.String(), theirs.String())
		}
	}
}

// TestProtobufExposition: asked for protobuf first (as Prometheus with
// native histograms), the handler answers in the delimited protobuf
// format, every family once, native histograms with their fields (the
// same as what AppendTo stores), classic buckets where kept, then the
// self-metrics; gzip when accepted.
func TestProtobufExposition(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := nativeStore(t, reg)
	for _, gz := range []bool{false, true} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Accept", protoAccept)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		rec := httptest.NewRecorder()
		Handler(reg, s).ServeHTTP(rec, req)
		ct := expfmt.Format(rec.Header().Get("Content-Type"))
		if ct.FormatType() != expfmt.TypeProtoDelim {
			t.Fatalf("Content-Type %q, want the delimited protobuf format", ct)
		}
		var body io.Reader = rec.Body
		if gz {
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		dec := expfmt.NewDecoder(body, ct)
		fams := map[string]*dto.MetricFamily{}
		var order []string
		for {
			mf := &dto.MetricFamily{}
			if err := dec.Decode(mf); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			if fams[mf.GetName()] != nil {
				t.Fatalf("family %s twice", mf.GetName())
			}
			fams[mf.GetName()] = mf
			order = append(order, mf.GetName())
		}
		if len(order) == 0 || !strings.HasPrefix(order[len(order)-1], "copenhagen_") || fams["copenhagen_series_native_histogram_resolution_reduced_total"] == nil {
			t.Fatalf("families %v: want the store's, then the self-metrics", order)
		}
		nat := fams["native_lat"].GetMetric()[0].GetHistogram()
		ser, _ := s.Get(&Spec{Name: "native_lat", Kind: KindHistogram, Labels: labels.FromStrings("route", "a")})
		snap := ser.hist.nativeSnapshot()
		want := snap.histogram()
		if nat.GetSchema() != 3 || nat.GetZeroThreshold() != nativeZeroThreshold || nat.GetZeroCount() != 1 || nat.GetSampleCount() != 201 ||
			len(nat.GetBucket()) != 0 || nat.GetSampleSum() != want.Sum {
			t.Errorf("native_lat: %v", nat)
		}
		if !sameBuckets(expand(nat.GetPositiveSpan(), nat.GetPositiveDelta(), dtoSpan), expand(want.PositiveSpans, want.PositiveBuckets, modelSpan)) {
			t.Errorf("native_lat buckets %v, stored %v", nat, want)
		}
		both := fams["both_lat"].GetMetric()[0].GetHistogram()
		classic := fams["classic_lat"].GetMetric()[0].GetHistogram()
		if classic.GetZeroThreshold() != 0 || len(classic.GetPositiveSpan()) != 0 || len(classic.GetBucket()) != 3 || classic.GetSampleCount() != 200 {
			t.Errorf("classic_lat: %v", classic)
		}
		if both.GetSchema() != 3 || len(both.GetPositiveSpan()) == 0 || len(both.GetBucket()) != 3 || both.GetSampleCount() != 200 {
			t.Errorf("both_lat: %v", both)
		}
		for i, b := range both.GetBucket() { // the same data as classic_lat
			if c := classic.GetBucket()[i]; b.GetUpperBound() != c.GetUpperBound() || b.GetCumulativeCount() != c.GetCumulativeCount() {
				t.Errorf("both_lat bucket %v, classic_lat %v", b, c)
			}
		}
		if c := fams["hits"]; c.GetType() != dto.MetricType_COUNTER || c.GetMetric()[0].GetCounter().GetValue() != 3 {
			t.Errorf("hits: %v", c)
		}
		if g := fams["temp"]; g.GetType() != dto.MetricType_GAUGE || g.GetMetric()[0].GetGauge().GetValue() != -1.5 {
			t.Errorf("temp: %v", g)
		}
		if g := fams["users"]; g.GetType() != dto.MetricType_GAUGE || g.GetMetric()[0].GetGauge().GetValue() != 1 {
			t.Errorf("users: %v", g)
		}
	}
	// Text scrapers are unaffected.
	if rec := serve(t, Handler(reg, s), "text/plain"); !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") ||
		!strings.Contains(rec.Body.String(), "native_lat_count{route=\"a\"} 201\n") {
		t.Fatalf("text: %s\n%s", rec.Header().Get("Content-Type"), rec.Body.String())
	}
}

// TestPrometheusScrapesNativeHistograms: a real Prometheus 2.42 with
// --enable-feature=native-histograms scrapes the handler (asking for
// protobuf first) and stores native_lat as a native histogram: its
// histogram_count and histogram_sum are exactly what Copenhagen's own
// storage answers for the same series after AppendTo, and its buckets
// (bounds and counts, as its query API shows them) are Copenhagen's.
func TestPrometheusScrapesNativeHistograms(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := nativeStore(t, reg)
	var mu sync.Mutex
	var accepts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		accepts = append(accepts, r.Header.Get("Accept"))
		mu.Unlock()
		Handler(reg, s).ServeHTTP(w, r)
	}))
	defer srv.Close()
	prom := storagetest.StartPrometheusWithConfig(t, fmt.Sprintf(
		"global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: copenhagen\n    static_configs: [{targets: [%q]}]\n",
		strings.TrimPrefix(srv.URL, "http://")), "--enable-feature=native-histograms")

	promQuery := func(q string) (float64, bool) {
		t.Helper()
		resp, err := http.Get(prom.URL + "/api/v1/query?" + url.Values{"query": {q}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Error  string
			Data   struct {
				Result []struct{ Value [2]any }
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		if r.Status != "success" {
			t.Fatalf("%s: %s", q, r.Error)
		}
		if len(r.Data.Result) != 1 {
			return 0, false
		}
		f, err := strconv.ParseFloat(fmt.Sprint(r.Data.Result[0].Value[1]), 64)
		if err != nil {
			t.Fatal(err)
		}
		return f, true
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ok := promQuery(`histogram_count(native_lat{job="copenhagen"})`); ok {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("Prometheus stored no native histogram native_lat (Accept: %q)\n%s", accepts, prom.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	first := accepts[0]
	mu.Unlock()
	if !strings.HasPrefix(first, "application/vnd.google.protobuf") {
		t.Fatalf("Prometheus asked for %q first; the test proves nothing", first)
	}

	st, err := cstorage.Open(cstorage.Options{Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	app := st.Appender(context.Background())
	if _, err := s.AppendTo(app, now.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	ours := func(q string) float64 {
		t.Helper()
		qry, err := st.Engine().NewInstantQuery(context.Background(), st, nil, q, now)
		if err != nil {
			t.Fatal(err)
		}
		res := qry.Exec(context.Background())
		v, err := res.Vector()
		if res.Err != nil || err != nil || len(v) != 1 {
			t.Fatalf("%s: %v %v %v", q, res.Err, err, v)
		}
		return v[0].F
	}
	// Count and sum agree exactly. (histogram_quantile is left out:
	// Prometheus 2.42 interpolates linearly within a native bucket, 3.x
	// exponentially, so the same buckets give slightly different
	// quantiles; the buckets themselves are compared below.)
	for _, f := range []string{"histogram_count(%s)", "histogram_sum(%s)"} {
		theirs, ok := promQuery(fmt.Sprintf(f, `native_lat{job="copenhagen"}`))
		mine := ours(fmt.Sprintf(f, "native_lat"))
		if !ok || theirs != mine || math.IsNaN(mine) {
			t.Errorf("%s: Prometheus %v (%v), Copenhagen's storage %v", fmt.Sprintf(f, "native_lat"), theirs, ok, mine)
		}
	}
	// The quantiles differ only by the interpolation within one bucket:
	// at schema 3 less than its growth factor 2^(1/8) apart.
	for _, q := range []string{"0.5", "0.9", "0.99"} {
		f := "histogram_quantile(" + q + ", %s)"
		theirs, ok := promQuery(fmt.Sprintf(f, `native_lat{job="copenhagen"}`))
		mine := ours(fmt.Sprintf(f, "native_lat"))
		if r := theirs / mine; !ok || !(r > 1/1.0905077326652577 && r < 1.0905077326652577) {
			t.Errorf("%s: Prometheus %v (%v), Copenhagen's storage %v: more than one bucket apart", fmt.Sprintf(f, "native_lat"), theirs, ok, mine)
		}
	}
	// Prometheus stored exactly the buckets Copenhagen stores.
	theirBuckets := promHistogramBuckets(t, prom.URL, `native_lat{job="copenhagen"}`)
	ser, _ := s.Get(&Spec{Name: "native_lat", Kind: KindHistogram, Labels: labels.FromStrings("route", "a")})
	snap := ser.hist.nativeSnapshot()
	h := snap.histogram()
	var myBuckets []string
	if h.ZeroCount > 0 {
		zb := h.ZeroBucket()
		myBuckets = append(myBuckets, fmt.Sprintf("(%v,%v]:%d", zb.Lower, zb.Upper, zb.Count))
	}
	for _, it := range []modelhist.BucketIterator[uint64]{h.NegativeBucketIterator(), h.PositiveBucketIterator()} {
		for it.Next() {
			if b := it.At(); b.Count > 0 {
				myBuckets = append(myBuckets, fmt.Sprintf("(%v,%v]:%d", b.Lower, b.Upper, b.Count))
			}
		}
	}
	sort.Strings(myBuckets)
	if strings.Join(theirBuckets, " ") != strings.Join(myBuckets, " ") {
		t.Errorf("Prometheus stored buckets\n %v\nCopenhagen's\n %v", theirBuckets, myBuckets)
	}
	if c, ok := promQuery(`histogram_count(native_lat{job="copenhagen"})`); !ok || c != 201 {
		t.Errorf("Prometheus histogram_count = %v", c)
	}
	// The classic layout still arrives as classic series.
	if c, ok := promQuery(`classic_lat_bucket{job="copenhagen", le="+Inf"}`); !ok || c != 200 {
		t.Errorf("classic_lat_bucket{le=+Inf} = %v (%v)", c, ok)
	}
}

func BenchmarkProtobufExposition(b *testing.B) {
	s := New(Options{}, nil)
	for i := range 1000 {
		ser, err := s.Get(&Spec{Name: "lat", Kind: KindHistogram, Native: Native{Factor: 1.1}, Labels: labels.FromStrings("i", fmt.Sprint(i))})
		if err != nil {
			b.Fatal(err)
		}
		for j := range 1000 {
			ser.Observe(math.Exp(float64(j)/1000*math.Log(1000))/1000, 1)
		}
	}
	reg := prometheus.NewRegistry()
	h := Handler(reg, s)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Accept", protoAccept)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Body.Len() == 0 {
			b.Fatal("empty")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/series")
}

// promHistogramBuckets returns the non-empty buckets of the one native
// histogram an instant query returns, as "(lower,upper]:count", sorted.
func promHistogramBuckets(t *testing.T, base, q string) []string {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?" + url.Values{"query": {q}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Histogram [2]json.RawMessage
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if len(r.Data.Result) != 1 {
		t.Fatalf("%s: %d results", q, len(r.Data.Result))
	}
	var h struct {
		Buckets [][4]json.RawMessage
	}
	if err := json.Unmarshal(r.Data.Result[0].Histogram[1], &h); err != nil {
		t.Fatal(err)
	}
	num := func(m json.RawMessage) float64 {
		var s string
		if err := json.Unmarshal(m, &s); err != nil {
			t.Fatal(err)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	var out []string
	for _, b := range h.Buckets {
		if c := num(b[3]); c > 0 {
			out = append(out, fmt.Sprintf("(%v,%v]:%d", num(b[1]), num(b[2]), int64(c)))
		}
	}
	sort.Strings(out)
	return out
}
