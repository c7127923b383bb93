package storage_test

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/prometheus/config"

	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

// TestQueryAPINativeHistogramsMatchPrometheus extends
// TestQueryAPIMatchesPrometheus to native histograms: the same histograms
// in Copenhagen's storage and, by remote write, in a Prometheus 2.42 with
// native histograms enabled; instant and range queries must give the
// same JSON ("histogram"/"histograms" objects with count, sum and every
// bucket), the same status codes and error types.
func TestQueryAPINativeHistogramsMatchPrometheus(t *testing.T) {
	prom := storagetest.StartPrometheus(t, "--enable-feature=native-histograms")
	rw := remoteWrite(t, "prometheus", prom.URL+"/api/v1/write")
	rw.SendNativeHistograms = true
	st := open(t, cstorage.Options{Path: t.TempDir(), MaxFuture: time.Hour, Registerer: prometheus.NewRegistry(),
		RemoteWrite: []*promconfig.RemoteWriteConfig{rw}})
	defer st.Close()
	d := appendHistograms(t, st, nearFuture(), 40)
	local := serveAPI(t, st)
	oracle := prom.URL
	waitUntil(t, 60*time.Second, "Prometheus to receive every histogram", func() (bool, string) {
		n := len(rawHistograms(t, oracle, "request_duration_seconds", d.end()))
		return n >= len(d.want), fmt.Sprintf("%d of %d histograms", n, len(d.want))
	})

	at := []time.Time{d.start.Add(3 * time.Minute), d.start.Add(7 * time.Minute), d.end(), d.end().Add(4 * time.Minute), d.end().Add(10 * time.Minute)}
	exprs := []string{
		`request_duration_seconds`,
		`request_duration_seconds{instance="b"}`,
		`request_duration_seconds offset 2m`,
		`rate(request_duration_seconds[1m])`,
		`rate(request_duration_seconds[5m])`,
		`increase(request_duration_seconds[2m])`,
		`sum(rate(request_duration_seconds[1m]))`,
		`sum by (job) (rate(request_duration_seconds[5m]))`,
		`histogram_count(request_duration_seconds)`,
		`histogram_sum(request_duration_seconds)`,
		`histogram_count(rate(request_duration_seconds[1m]))`,
		`histogram_sum(rate(request_duration_seconds[1m]))`,
		`histogram_sum(rate(request_duration_seconds[5m])) / histogram_count(rate(request_duration_seconds[5m]))`,
		// Bounds that fall between the populated buckets: no
		// interpolation, so the versions agree (see byDesign).
		`histogram_fraction(0, 0.1, rate(request_duration_seconds{instance="a"}[5m]))`,
		`histogram_fraction(0.0625, 1, request_duration_seconds{instance="a"})`,
		`count(request_duration_seconds)`,
		`count_over_time(request_duration_seconds[5m])`,
		`request_duration_seconds[1m]`,
		`histogram_count(request_duration_seconds) > 1000`,
		`absent(request_duration_seconds)`,
		`timestamp(request_duration_seconds)`,
	}
	calls := queryCalls(exprs, at, d.start, d.end())
	rangeAll := url.Values{"start": {unix(d.start)}, "end": {unix(d.end())}}
	calls = append(calls,
		apiCall{"/api/v1/series", url.Values{"match[]": {"request_duration_seconds"}, "start": rangeAll["start"], "end": rangeAll["end"]}},
		apiCall{"/api/v1/label/__name__/values", rangeAll},
	)

	mismatches, withData, histograms := 0, 0, 0
	for _, c := range calls {
		lc, lb := fetch(t, local, c.path, c.params)
		pc, pb := fetch(t, oracle, c.path, c.params)
		if lc == 200 && (strings.Contains(lb, `"result":[{`) || strings.HasPrefix(lb, `["`) || strings.HasPrefix(lb, `[{`)) {
			withData++
		}
		if strings.Contains(lb, `"histogram`) {
			histograms++
		}
		if lc != pc || !similar(decode(t, lb), decode(t, pb)) {
			mismatches++
			if mismatches <= 30 {
				t.Errorf("%s?%s\nCopenhagen: %d %s\nPrometheus: %d %s", c.path, c.params.Encode(), lc, short(lb), pc, short(pb))
			}
		}
	}
	if mismatches > 30 {
		t.Errorf("... %d mismatches in all", mismatches)
	}
	if withData < len(calls)*3/4 || histograms < len(calls)/4 {
		t.Errorf("only %d of %d answers hold data, %d native histograms", withData, len(calls), histograms)
	}
	t.Logf("%d API calls compared, %d with data, %d with native histograms", len(calls), withData, histograms)

	// Where Prometheus 3 (Copenhagen's engine) differs from 2.42 by
	// design, each answer is checked for what the change promises.
	//
	// Inside an exponential bucket, Prometheus 3 interpolates on a
	// logarithmic scale (2.42: linearly), in histogram_quantile and
	// histogram_fraction: the answers differ, by less than the bucket.
	bucketWidth := math.Exp2(1.0/(1<<nativeSchema)) - 1 // 9.05 % for schema 3
	for _, e := range []string{
		`histogram_quantile(0.9, rate(request_duration_seconds[1m]))`,
		`histogram_quantile(0.5, rate(request_duration_seconds[5m]))`,
		`histogram_quantile(0.99, sum(rate(request_duration_seconds[5m])))`,
		`histogram_quantile(0.75, request_duration_seconds{instance="b"})`,
	} {
		for _, tm := range at[:3] {
			lv, pv := instant(t, local, e, tm), instant(t, oracle, e, tm)
			if len(lv) == 0 || len(lv) != len(pv) {
				t.Errorf("%s at %v: Copenhagen %v, Prometheus %v", e, tm, lv, pv)
			}
			for k, l := range lv {
				c, p := parseFloatT(t, l), parseFloatT(t, pv[k])
				if math.Abs(c-p) > bucketWidth*p {
					t.Errorf("%s%s at %v: Copenhagen %v, Prometheus 2.42 %v: more than a bucket apart", e, k, tm, c, p)
				}
			}
		}
	}
	for _, tm := range at[:3] {
		e := `histogram_fraction(0, 0.1, rate(request_duration_seconds{instance="b"}[5m]))`
		c, p := scalarAt(t, local, e, tm), scalarAt(t, oracle, e, tm)
		// 0.1 lies inside the bucket (0.0964, 0.1051]; at most 9
		// of the 7*20 observations of 5 minutes fall into it.
		if math.Abs(c-p) > 9.0/140 {
			t.Errorf("%s at %v: Copenhagen %v, Prometheus 2.42 %v", e, tm, c, p)
		}
	}
	// Prometheus 2.42's last_over_time turns a histogram into the float
	// 0 (fixed in later versions): Copenhagen's answer is the last
	// histogram of each series, the one the plain selector returns.
	for _, tm := range at {
		lc, lb := fetch(t, local, "/api/v1/query", url.Values{"query": {`last_over_time(request_duration_seconds[5m])`}, "time": {unix(tm)}})
		pc, pb := fetch(t, oracle, "/api/v1/query", url.Values{"query": {`request_duration_seconds`}, "time": {unix(tm)}})
		if lc != 200 || lc != pc || !similar(decode(t, lb), decode(t, pb)) {
			t.Errorf("last_over_time at %v:\nCopenhagen: %d %s\nthe plain selector in Prometheus: %d %s", tm, lc, short(lb), pc, short(pb))
		}
	}
}
