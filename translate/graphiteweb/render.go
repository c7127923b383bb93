package graphiteweb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	commoncfg "github.com/prometheus/common/config"
)

// DefaultMaxBody bounds a render answer: a check rendering that much is
// broken (a wildcard matching everything), and reading it would cost the
// shadow memory that evaluation needs.
const DefaultMaxBody = 32 << 20

// Client renders targets from one graphite-web.
type Client struct {
	base    *url.URL
	http    *http.Client
	maxBody int64
}

// NewClient returns a client of the graphite-web at base
// ("http://graphite:8080", or with a path prefix). hc may be nil for
// http.DefaultClient; timeouts come from the request's context.
func NewClient(base string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("graphite-web url: expected http(s)://host[:port][/prefix], got %q", redact(base))
	}
	if u.User != nil {
		return nil, errors.New("graphite-web url: must not hold credentials (use basic_auth.password_file)")
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: u, http: hc, maxBody: DefaultMaxBody}, nil
}

// NewClientFromConfig builds the HTTP client from prometheus/common's
// HTTPClientConfig (credentials and headers read from files at each
// request, so a rotated secret is picked up without a restart).
func NewClientFromConfig(base string, cfg commoncfg.HTTPClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("graphite-web http client: %w", err)
	}
	hc, err := commoncfg.NewClientFromConfig(cfg, "copenhagen-shadow")
	if err != nil {
		return nil, fmt.Errorf("graphite-web http client: %w", err)
	}
	return NewClient(base, hc)
}

// Request is one render: Seyren's parameters plus now.
type Request struct {
	Target string
	From   string // Graphite time, e.g. "-11minutes"
	Until  string // e.g. "-1minutes"
	// Now pins relative times (graphite-web's now=, passed down to
	// whisper.fetch). Zero: graphite-web's own clock.
	Now time.Time
	// NoCache asks graphite-web not to answer from its caches.
	NoCache bool
}

// URL returns the render URL for r, as kept in the shadow's evidence. It
// holds no credential (those travel in headers).
func (c *Client) URL(r Request) string {
	u := *c.base
	u.Path += "/render"
	q := url.Values{}
	q.Set("target", r.Target)
	if r.From != "" {
		q.Set("from", r.From)
	}
	if r.Until != "" {
		q.Set("until", r.Until)
	}
	if !r.Now.IsZero() {
		q.Set("now", strconv.FormatInt(r.Now.Unix(), 10))
	}
	if r.NoCache {
		q.Set("noCache", "1")
	}
	q.Set("format", "json")
	u.RawQuery = q.Encode()
	return u.String()
}

// Error kinds of a failed render, for the shadow's outcome counters.
const (
	KindTimeout   = "timeout"
	KindHTTP      = "http_error"
	KindNetwork   = "network_error"
	KindBadJSON   = "bad_json"
	KindTooLarge  = "too_large"
	KindCancelled = "cancelled"
)

// RenderError is a render that gave no usable answer.
type RenderError struct {
	Kind string // one of the Kind* constants
	URL  string
	Err  error
}

func (e *RenderError) Error() string {
	return fmt.Sprintf("graphite-web render %s: %s: %v", e.URL, e.Kind, e.Err)
}

func (e *RenderError) Unwrap() error { return e.Err }

// Render fetches r and decodes graphite-web's JSON answer.
func (c *Client) Render(ctx context.Context, r Request) ([]Series, error) {
	u := c.URL(r)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &RenderError{Kind: KindNetwork, URL: u, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &RenderError{Kind: errorKind(ctx, err), URL: u, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, &RenderError{Kind: errorKind(ctx, err), URL: u, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		snippet := strings.TrimSpace(string(body[:min(len(body), 200)]))
		return nil, &RenderError{Kind: KindHTTP, URL: u, Err: fmt.Errorf("%s: %q", resp.Status, snippet)}
	}
	if int64(len(body)) > c.maxBody {
		return nil, &RenderError{Kind: KindTooLarge, URL: u, Err: fmt.Errorf("answer larger than %d bytes", c.maxBody)}
	}
	series, err := ParseRender(body)
	if err != nil {
		return nil, &RenderError{Kind: KindBadJSON, URL: u, Err: err}
	}
	return series, nil
}

func errorKind(ctx context.Context, err error) string {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	case ctx.Err() != nil:
		return KindCancelled
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return KindTimeout
	}
	return KindNetwork
}

// Series is one rendered series.
type Series struct {
	// Target is the series name graphite-web gives (Seyren keys its
	// per-target state on it).
	Target string
	Points []Point
}

// Point is one datapoint; Null points have no value.
type Point struct {
	Time  int64 // unix seconds
	Null  bool
	Value float64
	// Text is the value as graphite-web wrote it ("12.5", "1e9999"),
	// which Seyren parses as a decimal.
	Text string
}

// Step is the spacing of the series' points (0 with fewer than two).
func (s Series) Step() int64 {
	if len(s.Points) < 2 {
		return 0
	}
	return s.Points[1].Time - s.Points[0].Time
}

// LastNonNull returns the last point with a value, as Seyren's
// GraphiteTargetChecker takes it (a reverse scan skipping nulls).
func (s Series) LastNonNull() (Point, bool) {
	for i := len(s.Points) - 1; i >= 0; i-- {
		if !s.Points[i].Null {
			return s.Points[i], true
		}
	}
	return Point{}, false
}

// maxSeries and maxPoints bound what one answer may hold after decoding.
const (
	maxSeries = 100000
	maxPoints = 10_000_000
)

// ParseRender decodes a /render?format=json answer:
// [{"target": name, "datapoints": [[value|null, ts], ...]}, ...].
// Other fields (tags) are ignored.
func ParseRender(body []byte) ([]Series, error) {
	var raw []struct {
		Target     *string             `json:"target"`
		Datapoints [][]json.RawMessage `json:"datapoints"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a render JSON answer: %w", err)
	}
	if len(raw) > maxSeries {
		return nil, fmt.Errorf("%d series, more than %d", len(raw), maxSeries)
	}
	out := make([]Series, 0, len(raw))
	total := 0
	for i, r := range raw {
		if r.Target == nil {
			return nil, fmt.Errorf("series %d has no target", i)
		}
		total += len(r.Datapoints)
		if total > maxPoints {
			return nil, fmt.Errorf("more than %d points", maxPoints)
		}
		s := Series{Target: *r.Target, Points: make([]Point, 0, len(r.Datapoints))}
		for j, dp := range r.Datapoints {
			p, err := parsePoint(dp)
			if err != nil {
				return nil, fmt.Errorf("series %q point %d: %w", s.Target, j, err)
			}
			s.Points = append(s.Points, p)
		}
		out = append(out, s)
	}
	return out, nil
}

func parsePoint(dp []json.RawMessage) (Point, error) {
	if len(dp) != 2 {
		return Point{}, fmt.Errorf("expected [value, timestamp], got %d elements", len(dp))
	}
	ts, err := strconv.ParseFloat(string(bytes.TrimSpace(dp[1])), 64)
	if err != nil || math.IsNaN(ts) || math.IsInf(ts, 0) {
		return Point{}, fmt.Errorf("timestamp %q is not a number", dp[1])
	}
	p := Point{Time: int64(ts)}
	text := string(bytes.TrimSpace(dp[0]))
	if text == "null" {
		p.Null = true
		return p, nil
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		// 1e9999 (graphite-web's Infinity) overflows: ParseFloat gives ±Inf
		// with a range error, which is what it means.
		var ne *strconv.NumError
		if !errors.As(err, &ne) || !errors.Is(ne.Err, strconv.ErrRange) {
			return Point{}, fmt.Errorf("value %q is not a number", text)
		}
	}
	p.Value, p.Text = v, text
	return p, nil
}

func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User("<secret>")
		return u.String()
	}
	return s
}
