package evaluate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/teststorage"
)

// The performance scenario of issue 6: 10 000 rules over 100 000 series,
// 15 s interval. 5 000 shards of 10 instances, each instance with a
// counter and a gauge (100 000 series, 40 samples each: 10 minutes at
// 15 s). Per shard one recording rule (the rate of its counters, Seyren's
// sumSeries of a StatsD counter) and one alerting rule (the last value of
// its gauges in a 10 m window, Seyren's check shape), in groups of 10
// rules: 1 000 groups in 10 files.
const (
	perfShards    = 5000
	perfInstances = 10
	perfSteps     = 40
	perfStep      = 15 * time.Second
	perfPerGroup  = 10
	perfFiles     = 10
)

func writePerfRules(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	groupsPerFile := perfShards * 2 / perfPerGroup / perfFiles
	shard := 0
	for f := range perfFiles {
		var b strings.Builder
		b.WriteString("groups:\n")
		for g := range groupsPerFile {
			fmt.Fprintf(&b, "  - name: perf-%d-%d\n    interval: 15s\n    rules:\n", f, g)
			for range perfPerGroup / 2 {
				fmt.Fprintf(&b, "      - record: shard:perf_requests:rate5m\n        expr: sum by (shard) (rate(perf_requests_total{shard=\"s%d\"}[5m]))\n", shard)
				fmt.Fprintf(&b, "      - alert: PerfGaugeHigh\n        expr: max by (shard) (last_over_time(perf_gauge{shard=\"s%d\"}[10m])) >= 95\n        labels:\n          severity: critical\n          check_id: s%d\n        annotations:\n          value: '{{ $value }}'\n", shard, shard)
				shard++
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("perf-%d.yml", f))
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	return files
}

// perfSample is the value of series (shard, instance, kind) at step.
func perfSample(shard, inst, step int, counter bool) float64 {
	if counter {
		return float64(step * (1 + (shard+inst)%7) * 15)
	}
	return float64((shard*7 + inst*13 + step) % 100)
}

func perfLabels(shard, inst int, counter bool) labels.Labels {
	name := "perf_gauge"
	if counter {
		name = "perf_requests_total"
	}
	return labels.FromStrings("__name__", name, "instance", "i"+strconv.Itoa(inst), "job", "perf", "shard", "s"+strconv.Itoa(shard))
}

func loadPerfData(t testing.TB, st storage.Appendable, end time.Time) {
	t.Helper()
	refs := make([]storage.SeriesRef, perfShards*perfInstances*2)
	for step := range perfSteps {
		ts := end.Add(-time.Duration(perfSteps-1-step) * perfStep).UnixMilli()
		app := st.Appender(context.Background())
		i := 0
		for s := range perfShards {
			for in := range perfInstances {
				for _, c := range []bool{true, false} {
					var err error
					if refs[i] == 0 {
						refs[i], err = app.Append(0, perfLabels(s, in, c), ts, perfSample(s, in, step, c))
					} else {
						refs[i], err = app.Append(refs[i], labels.EmptyLabels(), ts, perfSample(s, in, step, c))
					}
					if err != nil {
						t.Fatal(err)
					}
					i++
				}
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkEvaluationCycle evaluates every group of the scenario once per
// op, with Prometheus's rules code over the embedded TSDB (recording
// results and ALERTS appended), and reports CPU seconds (user+system of
// the process) per cycle.
//
//	go test ./alerting/evaluate -run '^$' -bench EvaluationCycle -benchtime=3x
func BenchmarkEvaluationCycle(b *testing.B) {
	st := teststorage.New(b)
	end := time.Now().Truncate(perfStep)
	loadPerfData(b, st, end)
	files := writePerfRules(b, b.TempDir())
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 50e6, Timeout: 2 * time.Minute, LookbackDelta: 5 * time.Minute})
	mgr := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(eng, st),
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
		Context:      context.Background(),
		AppendableV2: st,
		Queryable:    st,
		Registerer:   prometheus.NewRegistry(),
		ResendDelay:  time.Minute,
	})
	groups, errs := mgr.LoadGroups(15*time.Second, labels.EmptyLabels(), "", nil, false, files...)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	var nrules int
	for _, g := range groups {
		nrules += len(g.Rules())
	}
	if nrules != 2*perfShards || len(groups) != 2*perfShards/perfPerGroup {
		b.Fatalf("%d rules in %d groups", nrules, len(groups))
	}
	ctx := context.Background()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := range b.N {
		ts := end.Add(time.Duration(i) * perfStep)
		for _, g := range groups {
			g.Eval(ctx, ts)
		}
	}
	b.StopTimer()
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/cycle")
	firing := 0
	for _, g := range groups {
		for _, r := range g.Rules() {
			if r.Health() == rules.HealthBad {
				b.Fatalf("rule %s: %v", r.Name(), r.LastError())
			}
			if ar, ok := r.(*rules.AlertingRule); ok {
				firing += len(ar.ActiveAlerts())
			}
		}
	}
	b.ReportMetric(float64(firing), "active-alerts")
}

// BenchmarkPrometheus242 runs the same scenario in Debian's Prometheus
// 2.42 (the `prometheus` binary on PATH): the same 100 000 series are
// remote-written into it (the last 10 minutes, as above), it evaluates
// the same rule files every 15 s, and the benchmark reports its CPU
// seconds per cycle (process_cpu_seconds_total over whole cycles) and
// the sum of prometheus_rule_group_last_duration_seconds. It takes about
// two minutes; run it once:
//
//	go test ./alerting/evaluate -run '^$' -bench Prometheus242 -benchtime=1x
func BenchmarkPrometheus242(b *testing.B) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		b.Fatalf("prometheus 2.42 not installed (.ci/deps.d/storage.sh): %v", err)
	}
	dir := b.TempDir()
	files := writePerfRules(b, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := "global:\n  evaluation_interval: 15s\nrule_files:\n"
	for _, f := range files {
		cfg += "  - " + f + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver", "--log.level=warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("prometheus not ready:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	end := time.Now().Truncate(perfStep)
	if err := remoteWritePerfData(base+"/api/v1/write", end); err != nil {
		b.Fatalf("remote write: %v\n%s", err, stderr.String())
	}
	metric := func(name string) float64 {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? (\S+)$`)
		sum := 0.0
		for _, m := range re.FindAllStringSubmatch(string(body), -1) {
			v, _ := strconv.ParseFloat(m[2], 64)
			sum += v
		}
		return sum
	}
	// Let a first full cycle pass (groups start at hashed offsets within
	// the interval), then measure whole cycles.
	time.Sleep(20 * time.Second)
	const cycles = 4
	c0, e0 := metric("process_cpu_seconds_total"), metric("prometheus_rule_evaluations_total")
	time.Sleep(cycles * 15 * time.Second)
	c1, e1 := metric("process_cpu_seconds_total"), metric("prometheus_rule_evaluations_total")
	if f := metric("prometheus_rule_evaluation_failures_total"); f > 0 {
		b.Errorf("%v rule evaluation failures", f)
	}
	b.ReportMetric((c1-c0)/cycles, "cpu-s/cycle")
	b.ReportMetric((e1-e0)/cycles, "rules/cycle")
	b.ReportMetric(metric("prometheus_rule_group_last_duration_seconds"), "sum-group-duration-s")
	b.ReportMetric(metric("prometheus_tsdb_head_series"), "head-series")
}

func remoteWritePerfData(url string, end time.Time) error {
	for step := range perfSteps {
		ts := end.Add(-time.Duration(perfSteps-1-step) * perfStep).UnixMilli()
		var req prompb.WriteRequest
		flush := func() error {
			data, err := req.Marshal()
			if err != nil {
				return err
			}
			r, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(snappy.Encode(nil, data)))
			r.Header.Set("Content-Encoding", "snappy")
			r.Header.Set("Content-Type", "application/x-protobuf")
			r.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				return err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				return fmt.Errorf("%s: %s", resp.Status, body)
			}
			req.Timeseries = req.Timeseries[:0]
			return nil
		}
		for s := range perfShards {
			for in := range perfInstances {
				for _, c := range []bool{true, false} {
					var ls []prompb.Label
					perfLabels(s, in, c).Range(func(l labels.Label) { ls = append(ls, prompb.Label{Name: l.Name, Value: l.Value}) })
					req.Timeseries = append(req.Timeseries, prompb.TimeSeries{Labels: ls, Samples: []prompb.Sample{{Timestamp: ts, Value: perfSample(s, in, step, c)}}})
				}
			}
			if len(req.Timeseries) >= 10000 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if len(req.Timeseries) > 0 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// BenchmarkEvaluationRunning is the like-for-like of
// BenchmarkPrometheus242: the Evaluator runs the scenario on its real
// schedule (15 s, groups at their hashed offsets, our health checks
// included) and the benchmark reports the process's CPU seconds over
// four whole cycles after a first one, as process_cpu_seconds_total
// would. About 100 s; run it once:
//
//	go test ./alerting/evaluate -run '^$' -bench EvaluationRunning -benchtime=1x
func BenchmarkEvaluationRunning(b *testing.B) {
	st := teststorage.New(b)
	loadPerfData(b, st, time.Now().Truncate(perfStep))
	dir := b.TempDir()
	writePerfRules(b, dir)
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 50e6, Timeout: 2 * time.Minute, LookbackDelta: 5 * time.Minute})
	reg := prometheus.NewRegistry()
	ev, err := New(Options{
		Interval:        15 * time.Second,
		QueryFunc:       LocalQueryFunc(eng, st),
		Appendable:      st,
		Queryable:       st,
		ResendDelay:     time.Minute,
		NoDataIntervals: 2,
		Registerer:      reg,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := ev.Update([]string{filepath.Join(dir, "*.yml")}, 0); err != nil {
		b.Fatal(err)
	}
	go ev.Run()
	defer ev.Stop()
	time.Sleep(20 * time.Second)
	const cycles = 4
	c0 := cpuSeconds()
	time.Sleep(cycles * perfStep)
	b.ReportMetric((cpuSeconds()-c0)/cycles, "cpu-s/cycle")
	var sum float64
	for _, g := range ev.Manager().RuleGroups() {
		sum += g.GetEvaluationTime().Seconds()
	}
	b.ReportMetric(sum, "sum-group-duration-s")
}
