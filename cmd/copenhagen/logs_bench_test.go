package main

import (
	"bufio"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkLogsEndToEnd ships CRI logs from many files to a real
// VictoriaLogs through the copenhagen binary and reports the agent's CPU
// seconds per GiB and peak RSS. It runs once whatever b.N:
//
//	COPENHAGEN_BENCH_LOGS_MIB=1024 COPENHAGEN_BENCH_LOGS_FILES=200 \
//	  go test ./cmd/copenhagen -run XXX -bench LogsEndToEnd -benchtime 1x
//
// (defaults: 256 MiB across 200 files).
func BenchmarkLogsEndToEnd(b *testing.B) {
	mib, files := 256, 200
	if v, err := strconv.Atoi(os.Getenv("COPENHAGEN_BENCH_LOGS_MIB")); err == nil {
		mib = v
	}
	if v, err := strconv.Atoi(os.Getenv("COPENHAGEN_BENCH_LOGS_FILES")); err == nil {
		files = v
	}
	vl := startVictoriaLogs(b)
	dir := b.TempDir()
	lines := genCRI(b, filepath.Join(dir, "pods"), files, int64(mib)<<20)
	httpPort := freeTCPPort(b)
	body := fmt.Sprintf(`http: {listen: "127.0.0.1:%d"}
statsd: {udp: "", tcp: ""}
graphite: {udp: "", tcp: "", pickle: ""}
logs:
  paths: [%s/pods/*/*/*.log]
  positions_file: %s/positions.json
loki:
  url: %s
`, httpPort, dir, dir, vl.pushURL())
	b.ResetTimer()
	start := time.Now()
	a := startLogsAgent(b, dir, body)
	defer a.kill(syscall.SIGTERM)
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)
	var read float64
	for {
		m := scrapeMetrics(metrics)
		if m["copenhagen_loki_entries_sent_total"] >= float64(lines) {
			read = m["copenhagen_logs_read_bytes_total"]
			break
		}
		if time.Since(start) > 30*time.Minute {
			b.Fatal("not shipped after 30 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	wall := time.Since(start)
	b.StopTimer()
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", a.cmd.Process.Pid))
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	cpu := (ut + st) / 100 // USER_HZ
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.cmd.Process.Pid))
	var hwm float64
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			hwm, _ = strconv.ParseFloat(strings.Fields(l)[1], 64)
		}
	}
	gib := read / (1 << 30)
	b.ReportMetric(cpu/gib, "cpu-s/GiB")
	b.ReportMetric(hwm/1024, "peak-RSS-MiB")
	b.ReportMetric(read/(1<<20)/wall.Seconds(), "MiB/s")
	b.ReportMetric(float64(lines), "lines")
}

func scrapeMetrics(url string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get(url)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		name, val, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(val, 64)
		out[name] = v
	}
	return out
}

// genCRI writes total bytes of realistic CRI lines (access logs, one in
// ten a Monolog JSON error on stderr) across files pod log files.
func genCRI(b *testing.B, dir string, files int, total int64) int {
	r := rand.New(rand.NewSource(1))
	ts := time.Now().Add(-time.Hour).UTC()
	paths := []string{"/api/v1/items", "/checkout", "/video/manifest.m3u8", "/health", "/login"}
	lines := 0
	for f := 0; f < files; f++ {
		d := filepath.Join(dir, fmt.Sprintf("ns%d_app%d-7d4b9c8f6d-x2x9k_uid-%d", f%10, f%50, f), "c")
		os.MkdirAll(d, 0o755)
		fh, err := os.Create(filepath.Join(d, "0.log"))
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(fh, 1<<20)
		var n int64
		for n < total/int64(files) {
			ts = ts.Add(time.Microsecond * time.Duration(r.Intn(100)))
			var s string
			if r.Intn(10) == 0 {
				s = fmt.Sprintf("%s stderr F {\"message\":\"Payment failed for order %d\",\"context\":{\"user\":%d},\"level\":400,\"level_name\":\"ERROR\",\"channel\":\"app\"}\n", ts.Format(time.RFC3339Nano), r.Intn(1e6), r.Intn(1e5))
			} else {
				s = fmt.Sprintf("%s stdout F 10.0.%d.%d - - \"GET %s/%d HTTP/1.1\" 200 %d %dms level=info request_id=%016x\n", ts.Format(time.RFC3339Nano), r.Intn(255), r.Intn(255), paths[r.Intn(5)], r.Intn(1e6), r.Intn(50000), r.Intn(500), r.Uint64())
			}
			w.WriteString(s)
			n += int64(len(s))
			lines++
		}
		w.Flush()
		fh.Close()
	}
	return lines
}
