package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/ingest/graphite"
	"github.com/copenhagen-obs/copenhagen/ingest/relay/relaytest"
)

func TestBuildGraphiteTraffic(t *testing.T) {
	now := time.Unix(1_800_000_000, 250e6)
	c := graphiteConfig{points: 2503, names: 100, step: 500 * time.Millisecond, prefix: "lgx", chunk: 1000}
	tr := buildGraphiteTraffic(c, now)
	lastTS := map[string]int64{}
	var p graphite.Point
	lines, off := 0, 0
	for i, end := range tr.writes {
		block := tr.buf[off:end]
		if len(block) > c.chunk+64 || block[len(block)-1] != '\n' {
			t.Fatalf("write %d: %d bytes, ends with %q", i, len(block), block[len(block)-1])
		}
		n := 0
		for _, ln := range bytes.Split(bytes.TrimSuffix(block, []byte("\n")), []byte("\n")) {
			if err := p.ParseLine(ln, 0); err != nil {
				t.Fatalf("%q: %v", ln, err)
			}
			name := string(p.Name)
			if prev, ok := lastTS[name]; ok && p.Timestamp != prev+500 {
				t.Fatalf("%s: %d after %d, want one step later", name, p.Timestamp, prev)
			}
			lastTS[name] = p.Timestamp
			n++
		}
		if n != tr.lines[i] {
			t.Fatalf("write %d: %d lines, recorded %d", i, n, tr.lines[i])
		}
		lines += n
		off = end
	}
	if lines != c.points || len(lastTS) != c.names {
		t.Fatalf("%d lines over %d names", lines, len(lastTS))
	}
	if lastTS["lgx.m0"] != now.UnixMilli() || lastTS["lgx.m99"] != now.UnixMilli()-500 {
		t.Fatalf("last timestamps %d %d, want the last round at now", lastTS["lgx.m0"], lastTS["lgx.m99"])
	}
}

// TestRunGraphiteCountsStored runs the command against a fake server that
// "stores" what it receives and answers the count query.
func TestRunGraphiteCountsStored(t *testing.T) {
	carbon := relaytest.StartCarbon(t, "127.0.0.1:0")
	// The fake API answers like Prometheus: count_over_time over several
	// names is an error, the probe counts the series at the last round,
	// and the raw range selector returns every sample.
	var queries []string
	var mu sync.Mutex
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("query")
		mu.Lock()
		queries = append(queries, q)
		mu.Unlock()
		n := int64(len(carbon.Lines()))
		switch {
		case strings.HasPrefix(q, "sum(count_over_time("):
			w.WriteHeader(422)
			fmt.Fprint(w, `{"status":"error","errorType":"execution","error":"vector cannot contain metrics with the same labelset"}`)
		case strings.HasPrefix(q, "count("):
			last := int64(0)
			if n == 5000 {
				last = 50
			}
			fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"%d"]}]}}`, last)
		default:
			var series []string
			for k := int64(0); k < n/100; k++ {
				series = append(series, `{"metric":{},"values":[`+strings.TrimSuffix(strings.Repeat(`[1,"0"],`, 100), ",")+`]}`)
			}
			fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[%s]}}`, strings.Join(series, ","))
		}
	}))
	defer api.Close()
	var out, errOut strings.Builder
	code := runGraphite([]string{"-addr", carbon.Addr(), "-points", "5000", "-names", "50",
		"-prefix", "lgtest", "-query-url", api.URL, "-wait", "5s"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "stored    5000 of 5000 points") || !strings.Contains(out.String(), "end to end") {
		t.Fatalf("output:\n%s\nqueries %q", out.String(), queries)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(queries) < 3 || queries[0] != `count({__name__=~"lgtest_m[0-9]+"} >= 99)` {
		t.Fatalf("queries %q", queries)
	}
}
