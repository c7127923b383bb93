package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/dashboards/convert"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb/legacytest"
	"github.com/copenhagen-obs/copenhagen/translate/names"
)

// The converted dashboards draw what the Graphite ones drew: the team's TV
// board, and one exercising Graphite's naming of function results. The same
// StatsD traffic (and carbon lines for the servers) goes to the real
// legacy stack (etsy statsd 0.9.0 -> carbon -> graphite-web 1.1.8) and
// to Copenhagen; every visible target of every panel is rendered by
// graphite-web as the dashboard wrote it, and its conversion is queried
// from Copenhagen's Prometheus API. Grafana's template interpolation is
// applied to both (the route variable on All): the series names Graphite
// gave must be exactly the legends rendered over the Prometheus series,
// and the values must agree (the mean of Graphite's points over the last
// minute and the PromQL at its end within 10%, the timer quantile within
// its histogram bucket, as the report says).
func TestConvertedDashboardMatchesGraphiteWeb(t *testing.T) {
	st := legacytest.Start(t)
	statsdMap, _ := filepath.Abs(grafanaStatsd)
	carbonMap, _ := filepath.Abs(grafanaCarbon)
	r := start(t, fmt.Sprintf("statsd:\n  mapping_file: %s\n  flush_interval: 1s\n", statsdMap)+
		fmt.Sprintf("graphite:\n  tcp: 127.0.0.1:0\n  udp: \"\"\n  pickle: \"\"\n  mapping_file: %s\n", carbonMap)+
		"storage:\n  path: "+t.TempDir()+"\n")
	gw := r.app.graphite
	if gw == nil || r.app.storage == nil {
		t.Fatal("no Graphite listener or no embedded storage")
	}
	copTCP, _, _ := gw.addrs()

	sm, err := names.Load(statsdMap)
	must(t, err)
	gm, err := names.Load(carbonMap)
	must(t, err)
	// The conversion knows the flush interval the legacy statsd ran with
	// (stats_counts are counts per flush).
	etsy := graphiteql.DefaultOptions()
	etsy.FlushInterval = st.FlushInterval
	var panels []convert.PanelReport
	for _, f := range []string{"v22-team-catalog-tv.json", "v24-graphite-names.json"} {
		data, err := os.ReadFile(filepath.Join(grafanaFixtures, f))
		must(t, err)
		_, rep, err := convert.Convert(data, convert.Options{Resolver: graphiteql.NewResolver(sm, gm, etsy)})
		must(t, err)
		panels = append(panels, rep.Panels...)
	}

	// Steady traffic, 10 sends a second, to both statsd daemons; carbon
	// lines once a second to both carbon listeners.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var conns []net.Conn
		for _, a := range []string{st.StatsdAddr, r.udpAddr()} {
			c, err := net.Dial("udp", a)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			conns = append(conns, c)
		}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, c := range conns {
				fmt.Fprint(c, "catalog.http.get_program.200:3|c\ncatalog.http.get_program.500:1|c\ncatalog.http.search.200:5|c\ncatalog.http.search.503:2|c")
				fmt.Fprint(c, "catalog.http.get_program.response_time:200|ms\ncatalog.http.search.response_time:50|ms")
				fmt.Fprint(c, "thumbnails.worker.queue.resize.size:42|g")
			}
			if i%10 == 0 {
				now := time.Now().Unix()
				lines := fmt.Sprintf("servers.front01.load.load.midterm 1.5 %d\nservers.front02.load.load.midterm 2.5 %d\nservers.back01.load.load.midterm 9 %d\n", now, now, now)
				for _, a := range []string{st.CarbonAddr, copTCP.String()} {
					if c, err := net.Dial("tcp", a); err == nil {
						fmt.Fprint(c, lines)
						c.Close()
					}
				}
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	// rate() over 1m needs a minute of samples; Graphite's moving average
	// and the sums over flushes settle as well.
	time.Sleep(75 * time.Second)
	// Graphite's points of the last minute against the PromQL at its end:
	// rate() over 1m averages the same minute statsd counted per flush.
	end := time.Now().Add(-3 * time.Second).Truncate(time.Second)
	start := end.Add(-60 * time.Second)

	interp := map[string]string{
		"graphite": "{get_program,search}", // Grafana's Graphite data source writes All as a glob
		"regex":    "(get_program|search)", // ${route:regex} on All
	}
	compared := 0
	for _, p := range panels {
		for _, tg := range p.Targets {
			if tg.Hidden || tg.Status == graphiteql.Untranslated {
				continue
			}
			gTarget := strings.ReplaceAll(tg.Graphite, "$route", interp["graphite"])
			promQL := strings.ReplaceAll(tg.PromQL, "${route:regex}", interp["regex"])
			legend := strings.ReplaceAll(tg.Legend, "${route:glob}", interp["graphite"])
			gs, err := st.Render(gTarget, url.Values{"from": {fmt.Sprint(start.Unix())}, "until": {fmt.Sprint(end.Unix())}})
			if err != nil {
				t.Fatalf("panel %q: %v", p.Title, err)
			}
			ps := queryRange(t, r, promQL, end, end)
			what := fmt.Sprintf("panel %q target %s\n  graphite: %s\n  promql:   %s", p.Title, tg.RefID, gTarget, promQL)
			var gNames, pNames []string
			gVals, pVals := map[string][]float64{}, map[string][]float64{}
			for _, s := range gs {
				gNames = append(gNames, s.Target)
				var vs []float64
				for _, dp := range s.Datapoints {
					if dp[0] != nil {
						vs = append(vs, *dp[0])
					}
				}
				gVals[s.Target] = append(gVals[s.Target], mean(vs))
			}
			for _, s := range ps {
				name := renderLegend(legend, s.labels)
				pNames = append(pNames, name)
				pVals[name] = append(pVals[name], mean(s.values))
			}
			sort.Strings(gNames)
			sort.Strings(pNames)
			if strings.Join(gNames, "|") != strings.Join(pNames, "|") {
				t.Errorf("%s\n  series names: graphite-web %q, converted %q (legend %q)", what, gNames, pNames, tg.Legend)
				continue
			}
			for name, gv := range gVals {
				pv := pVals[name]
				sort.Float64s(gv)
				sort.Float64s(pv)
				for i := range gv {
					if !valuesAgree(tg.Graphite, gv[i], pv[i]) {
						t.Errorf("%s\n  series %q: graphite-web %.4g, converted %.4g", what, name, gv[i], pv[i])
					}
				}
			}
			t.Logf("panel %q %s: %d series %q, graphite %v, prometheus %v", p.Title, tg.RefID, len(gNames), gNames, gVals, pVals)
			compared++
		}
	}
	if compared != 9+16 {
		t.Errorf("%d targets compared, want the 25 of the two dashboards", compared)
	}
}

// valuesAgree: the timer's upper_90 comes from a histogram (the 200 ms
// timings fall in the 0.1-0.25 s bucket); rates are averaged over 1m
// where statsd counted per flush: 10%.
func valuesAgree(target string, g, p float64) bool {
	if math.IsNaN(g) && math.IsNaN(p) {
		return true
	}
	if strings.Contains(target, "upper_90") {
		return g == 200 && p >= 100 && p <= 250
	}
	if g == 0 {
		return math.Abs(p) < 1e-9
	}
	return math.Abs(p-g)/math.Abs(g) <= 0.10
}

func mean(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, v := range vs {
		s += v
	}
	return s / float64(len(vs))
}

var legendLabelRE = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// renderLegend is Grafana's legendFormat rendering.
func renderLegend(format string, ls map[string]string) string {
	return legendLabelRE.ReplaceAllStringFunc(format, func(m string) string {
		return ls[legendLabelRE.FindStringSubmatch(m)[1]]
	})
}

type promSeries struct {
	labels map[string]string
	values []float64
}

func queryRange(t *testing.T, r *running, q string, start, end time.Time) []promSeries {
	t.Helper()
	u := r.url("/api/v1/query_range?" + url.Values{"query": {q}, "start": {fmt.Sprint(start.Unix())}, "end": {fmt.Sprint(end.Unix())}, "step": {"1"}}.Encode())
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Values [][2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query_range %s: %v %s", q, err, body.Error)
	}
	var out []promSeries
	for _, s := range body.Data.Result {
		ps := promSeries{labels: s.Metric}
		for _, v := range s.Values {
			var f float64
			fmt.Sscanf(fmt.Sprint(v[1]), "%g", &f)
			ps.values = append(ps.values, f)
		}
		out = append(out, ps)
	}
	return out
}
