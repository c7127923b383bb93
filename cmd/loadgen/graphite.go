package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// graphiteConfig is the graphite command's flags.
type graphiteConfig struct {
	addr     string
	points   int
	names    int
	rate     int64
	step     time.Duration
	prefix   string
	queryURL string
	wait     time.Duration
	chunk    int
}

func parseGraphiteFlags(args []string, stderr io.Writer) (graphiteConfig, error) {
	var c graphiteConfig
	fs := flag.NewFlagSet("loadgen graphite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:2003", "carbon plaintext (TCP) address")
	fs.IntVar(&c.points, "points", 3_000_000, "points to send")
	fs.IntVar(&c.names, "names", 10_000, "distinct paths; the points go round them, so each gets points/names points")
	fs.Int64Var(&c.rate, "rate", 0, "points per second (0: as fast as the connection takes them)")
	fs.DurationVar(&c.step, "step", time.Second, "time between two points of one path; the last point is stamped now")
	fs.StringVar(&c.prefix, "prefix", "", "path prefix (default lg<random run id>)")
	fs.StringVar(&c.queryURL, "query-url", "", "Prometheus-compatible API base URL (Copenhagen, Prometheus, VictoriaMetrics) to count the stored points (empty: do not count)")
	fs.DurationVar(&c.wait, "wait", 60*time.Second, "how long after sending to wait for every point to be stored")
	fs.IntVar(&c.chunk, "chunk", 64<<10, "bytes per write (lines are never split)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.points <= 0:
		return c, errors.New("-points must be positive")
	case c.names <= 0:
		return c, errors.New("-names must be positive")
	case c.rate < 0:
		return c, errors.New("-rate must not be negative")
	case c.step < time.Millisecond:
		return c, errors.New("-step must be at least 1ms")
	case c.chunk <= 0:
		return c, errors.New("-chunk must be positive")
	}
	if c.prefix == "" {
		var b [4]byte
		rand.Read(b[:])
		c.prefix = "lg" + hex.EncodeToString(b[:])
	}
	return c, nil
}

// graphiteTraffic is every line, built before the clock starts, cut into
// writes of whole lines.
type graphiteTraffic struct {
	buf    []byte
	writes []int // end offset of each write
	lines  []int // lines in each write
	first  time.Time
	last   time.Time
}

// buildGraphiteTraffic writes point i as path prefix.m<i mod names> with
// the timestamp of round i/names and the round as its value: every path's
// points are in order, one step apart, and the last round is stamped at
// now.
func buildGraphiteTraffic(c graphiteConfig, now time.Time) *graphiteTraffic {
	rounds := (c.points + c.names - 1) / c.names
	tr := &graphiteTraffic{}
	tr.last = now.Truncate(time.Millisecond)
	tr.first = tr.last.Add(-time.Duration(rounds-1) * c.step)
	tr.buf = make([]byte, 0, c.points*(len(c.prefix)+32))
	start, lines := 0, 0
	for i := range c.points {
		lineStart := len(tr.buf)
		ts := tr.first.Add(time.Duration(i/c.names) * c.step)
		b := append(tr.buf, c.prefix...)
		b = append(b, ".m"...)
		b = strconv.AppendInt(b, int64(i%c.names), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(i/c.names), 10) // the round: see runGraphite
		b = append(b, ' ')
		b = strconv.AppendInt(b, ts.Unix(), 10)
		if ms := ts.UnixMilli() % 1000; ms != 0 {
			b = append(b, '.')
			b = append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
		}
		tr.buf = append(b, '\n')
		if len(tr.buf)-start > c.chunk && lines > 0 {
			tr.writes = append(tr.writes, lineStart)
			tr.lines = append(tr.lines, lines)
			start, lines = lineStart, 0
		}
		lines++
	}
	tr.writes = append(tr.writes, len(tr.buf))
	tr.lines = append(tr.lines, lines)
	return tr
}

func runGraphite(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseGraphiteFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "loadgen graphite:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	tr := buildGraphiteTraffic(cfg, time.Now())
	fmt.Fprintf(stdout, "loadgen graphite: tcp %s, %d points over %d paths (%s.m*), %.1f MB, timestamps %s to %s\n",
		cfg.addr, cfg.points, cfg.names, cfg.prefix, float64(len(tr.buf))/1e6,
		tr.first.UTC().Format(time.RFC3339), tr.last.UTC().Format(time.RFC3339))

	conn, err := net.Dial("tcp", cfg.addr)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen graphite:", err)
		return 1
	}
	cpuBefore := cpuTime()
	start := time.Now()
	sent, err := sendGraphite(ctx, conn, tr, cfg.rate, start)
	if cerr := conn.Close(); err == nil {
		err = cerr
	}
	sendEnd := time.Now()
	elapsed := sendEnd.Sub(start)
	fmt.Fprintf(stdout, "sent      %d points in %v: %.0f points/s; loadgen used %.2fs CPU\n",
		sent, elapsed.Round(time.Millisecond), float64(sent)/elapsed.Seconds(), (cpuTime() - cpuBefore).Seconds())
	if err != nil {
		fmt.Fprintf(stdout, "          send error: %v\n", err)
	}
	if cfg.queryURL == "" {
		if err != nil {
			return 1
		}
		return 0
	}
	client := &http.Client{Timeout: 60 * time.Second}
	selector := fmt.Sprintf(`{__name__=~"%s_m[0-9]+"}[%ds]`, escapeName(cfg.prefix), int64(tr.last.Sub(tr.first).Seconds())+60)
	at := tr.last.Add(time.Second)
	// The points arrive in order on one connection, so the last round
	// being stored means everything before it is. A cheap probe counts
	// the series whose latest value is the last round (a comparison keeps
	// the metric names, so this works on every Prometheus-compatible
	// engine); the exact count of every point follows, untimed.
	rounds := (cfg.points + cfg.names - 1) / cfg.names
	lastRound := cfg.points - (rounds-1)*cfg.names
	probe := fmt.Sprintf(`count({__name__=~"%s_m[0-9]+"} >= %d)`, escapeName(cfg.prefix), rounds-1)
	var storedAt time.Time
	deadline := sendEnd.Add(cfg.wait)
	for {
		v, qerr := instantQuery(ctx, client, cfg.queryURL, probe, at)
		if qerr == nil && v >= float64(lastRound) {
			storedAt = time.Now()
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if qerr != nil {
				fmt.Fprintf(stderr, "loadgen graphite: querying %s: %v\n", cfg.queryURL, qerr)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stored, qerr := countStored(ctx, client, cfg.queryURL, selector, at)
	if qerr != nil {
		fmt.Fprintf(stderr, "loadgen graphite: counting the stored points: %v\n", qerr)
	}
	query := selector
	e2e := storedAt.Sub(start)
	loss := 100 * (float64(sent) - stored) / float64(sent)
	fmt.Fprintf(stdout, "stored    %.0f of %d points (%.3f%% missing), counted over %s\n", stored, sent, loss, query)
	if !storedAt.IsZero() {
		fmt.Fprintf(stdout, "end to end %.0f points/s (first byte sent to the answer of the probe that saw the last round stored: %v)\n",
			float64(sent)/e2e.Seconds(), e2e.Round(time.Millisecond))
	} else {
		fmt.Fprintf(stdout, "the last round was not stored within -wait %v\n", cfg.wait)
	}
	if err != nil || stored < float64(sent) {
		return 1
	}
	return 0
}

// sendGraphite writes the traffic on one connection, paced in 10ms slices
// when rate > 0.
func sendGraphite(ctx context.Context, conn net.Conn, tr *graphiteTraffic, rate int64, start time.Time) (int, error) {
	sent, off := 0, 0
	for i, end := range tr.writes {
		if ctx.Err() != nil {
			return sent, ctx.Err()
		}
		if rate > 0 {
			due := start.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))
			if d := time.Until(due); d > 10*time.Millisecond {
				time.Sleep(d)
			}
		}
		if _, err := conn.Write(tr.buf[off:end]); err != nil {
			return sent, err
		}
		sent += tr.lines[i]
		off = end
	}
	return sent, nil
}

// countStored counts the samples a range selector holds at time at:
// sum(count_over_time(sel)) where the server can (VictoriaMetrics;
// Prometheus-compatible engines with delayed name removal), else the raw
// samples of the instant range query, counted here: Prometheus refuses
// count_over_time over several metric names ("vector cannot contain
// metrics with the same labelset", the function drops the name).
func countStored(ctx context.Context, client *http.Client, base, sel string, at time.Time) (float64, error) {
	v, err := instantQuery(ctx, client, base, "sum(count_over_time("+sel+"))", at)
	if err == nil || !strings.Contains(err.Error(), "same labelset") {
		return v, err
	}
	body, err := apiQuery(ctx, client, base, sel, at)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Values []json.RawMessage `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, errors.New(r.Error)
	}
	n := 0
	for _, s := range r.Data.Result {
		n += len(s.Values)
	}
	return float64(n), nil
}

// apiQuery runs /api/v1/query and returns the body of a 2xx or 4xx
// response (the API reports query errors as JSON with 4xx).
func apiQuery(ctx context.Context, client *http.Client, base, query string, at time.Time) (io.ReadCloser, error) {
	u := base + "/api/v1/query?" + url.Values{
		"query": {query},
		"time":  {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)},
	}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 500 {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s", base, resp.Status)
	}
	return resp.Body, nil
}

// instantQuery evaluates a PromQL query returning one number through the
// Prometheus HTTP API (/api/v1/query), which Copenhagen, Prometheus and
// VictoriaMetrics all serve. An empty result is 0.
func instantQuery(ctx context.Context, client *http.Client, base, query string, at time.Time) (float64, error) {
	rc, err := apiQuery(ctx, client, base, query, at)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&body); err != nil {
		return 0, fmt.Errorf("%s: %w", base, err)
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("%s: %s", base, body.Error)
	}
	if len(body.Data.Result) == 0 {
		return 0, nil
	}
	s, ok := body.Data.Result[0].Value[1].(string)
	if !ok {
		return 0, fmt.Errorf("%s: unexpected value %v", base, body.Data.Result[0].Value)
	}
	return strconv.ParseFloat(s, 64)
}
