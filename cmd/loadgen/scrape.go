package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Server self-metrics reported next to the count.
const (
	kernelDropsMetric = "copenhagen_listener_kernel_drops_total"
	rejectedMetric    = "copenhagen_statsd_lines_rejected_total"
)

// scrape is what one read of /metrics told.
type scrape struct {
	counted      float64 // sum of the series made from the load's names
	series       int
	kernelDrops  float64
	haveKernel   bool
	rejected     float64
	haveRejected bool
}

// fetchScrape reads url and sums the series whose name starts with prefix
// (the escaped load prefix followed by '_').
func fetchScrape(ctx context.Context, client *http.Client, url, prefix string) (scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return scrape{}, err
	}
	// The classic text format: no _created series to tell apart.
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return scrape{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return scrape{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseScrape(resp.Body, prefix)
}

// parseScrape scans the Prometheus text format line by line. It is more
// tolerant than a full parser on purpose: one odd family elsewhere on the
// page must not stop the measurement.
func parseScrape(r io.Reader, prefix string) (scrape, error) {
	var s scrape
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		name, value, ok := parseSample(sc.Text())
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(name, prefix) && !strings.HasSuffix(name, "_created"):
			s.counted += value
			s.series++
		case name == kernelDropsMetric:
			s.kernelDrops += value
			s.haveKernel = true
		case name == rejectedMetric:
			s.rejected += value
			s.haveRejected = true
		}
	}
	return s, sc.Err()
}

// parseSample splits `name{labels} value [timestamp]`.
func parseSample(line string) (name string, value float64, ok bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", 0, false
	}
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return "", 0, false
	}
	name, rest := line[:i], line[i:]
	if rest[0] == '{' {
		end := labelsEnd(rest)
		if end < 0 {
			return "", 0, false
		}
		rest = rest[end+1:]
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", 0, false
	}
	return name, v, true
}

// labelsEnd returns the index of the '}' closing s[0]=='{', skipping
// quoted label values (which may contain '}' and escaped quotes).
func labelsEnd(s string) int {
	inQuote := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == '}':
			return i
		}
	}
	return -1
}

// countResult is how the server's count evolved after sending ended.
type countResult struct {
	final   scrape
	catchup time.Duration // from the end of sending to the last increase
	settled bool          // the count reached what was sent, or stopped growing
}

// waitForCount polls until the server counted want lines more than in
// base, or the count stopped growing for settle, or wait elapsed after
// sendEnd.
func waitForCount(ctx context.Context, client *http.Client, url, prefix string, base scrape, want float64,
	sendEnd time.Time, wait, settle, every time.Duration) (countResult, error) {
	var res countResult
	last := -1.0
	lastGrowth := time.Now()
	for {
		s, err := fetchScrape(ctx, client, url, prefix)
		now := time.Now()
		if err == nil {
			res.final = s
			if s.counted != last {
				last = s.counted
				lastGrowth = now
				res.catchup = now.Sub(sendEnd)
			}
			if s.counted-base.counted >= want {
				res.settled = true
				return res, nil
			}
			if s.counted > base.counted && now.Sub(lastGrowth) >= settle {
				res.settled = true
				return res, nil
			}
		}
		if now.Sub(sendEnd) >= wait {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(every):
		}
	}
}
