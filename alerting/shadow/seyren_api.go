package shadow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	commoncfg "github.com/prometheus/common/config"
)

// SeyrenCheck is a check as Seyren's API serves it (domain/Check.java):
// warn and error are strings (BigDecimalSerializer), state a name,
// lastCheck epoch milliseconds.
type SeyrenCheck struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Target      string `json:"target"`
	From        string `json:"from,omitempty"`
	Until       string `json:"until,omitempty"`
	Warn        string `json:"warn"`
	Error       string `json:"error"`
	Enabled     bool   `json:"enabled"`
	Live        bool   `json:"live"`
	AllowNoData bool   `json:"allowNoData"`
	State       State  `json:"state"`
	LastCheck   int64  `json:"lastCheck,omitempty"`
}

// SeyrenAlert is one row of a check's alert history (domain/Alert.java):
// value, warn and error are numbers, timestamp epoch milliseconds, target
// the Graphite series name (not the check's expression).
type SeyrenAlert struct {
	ID        string      `json:"id"`
	CheckID   string      `json:"checkId"`
	Value     json.Number `json:"value"`
	Target    string      `json:"target"`
	Warn      json.Number `json:"warn"`
	Error     json.Number `json:"error"`
	FromType  State       `json:"fromType"`
	ToType    State       `json:"toType"`
	Timestamp int64       `json:"timestamp"`
}

// Time is the row's timestamp.
func (a SeyrenAlert) Time() time.Time { return time.UnixMilli(a.Timestamp).UTC() }

// SeyrenPage is the envelope of Seyren's list endpoints.
type SeyrenPage[T any] struct {
	Values []T `json:"values"`
	Items  int `json:"items"`
	Start  int `json:"start"`
	Total  int `json:"total"`
}

// SeyrenAPI is what the shadow reads from Seyren (SeyrenClient; tests
// may stand in for it).
type SeyrenAPI interface {
	Checks(ctx context.Context) ([]SeyrenCheck, error)
	Alerts(ctx context.Context, checkID string, since time.Time) (AlertHistory, error)
	URL() string
}

// AlertHistory is a check's alert rows read newest first, deduplicated by
// id, oldest first.
type AlertHistory struct {
	Rows []SeyrenAlert
	// Pages is how many pages were read.
	Pages int
	// Complete: the reading reached the check's oldest row (nothing
	// older exists, unless deleted); otherwise it stopped at a row older
	// than since, or was cut.
	Complete bool
	// Truncated: cut by MaxPages or MaxRows before reaching since.
	Truncated bool
	// Duplicates counts rows seen twice (inserts while paging shift the
	// pages down).
	Duplicates int
}

// SeyrenClient reads Seyren's HTTP API (seyren-api jaxrs resources).
type SeyrenClient struct {
	base *url.URL
	hc   *http.Client
	// PageSize is the items of one alerts page. Default 500.
	PageSize int
	// MaxPages and MaxRows bound one history read. Defaults 50 and 20000.
	MaxPages, MaxRows int
	// MaxBody bounds one response body. Default 32 MiB.
	MaxBody int64
}

// NewSeyrenClient returns a client of the Seyren at base (http://host:port,
// the UI's root; the API is under /api). hc nil means a client with a
// 30 s timeout.
func NewSeyrenClient(base string, hc *http.Client) (*SeyrenClient, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("seyren_url: expected http(s)://host:port, got %q", redactURL(base))
	}
	if u.User != nil {
		return nil, fmt.Errorf("seyren_url: must not contain credentials; use basic_auth")
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &SeyrenClient{base: u, hc: hc, PageSize: 500, MaxPages: 50, MaxRows: 20000, MaxBody: 32 << 20}, nil
}

// NewSeyrenClientFromConfig is NewSeyrenClient with the shared HTTP client
// options (basic_auth, bearer_token_file, tls_config, oauth2, proxy,
// headers from files).
func NewSeyrenClientFromConfig(base string, cfg commoncfg.HTTPClientConfig) (*SeyrenClient, error) {
	hc, err := commoncfg.NewClientFromConfig(cfg, "copenhagen_shadow_seyren")
	if err != nil {
		return nil, fmt.Errorf("seyren_url: HTTP client: %w", err)
	}
	return NewSeyrenClient(base, hc)
}

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "<unparsable>"
}

// URL is Seyren's base URL, without credentials.
func (c *SeyrenClient) URL() string { return c.base.Redacted() }

// SeyrenError is a failed API request; Kind is the self-metric's result
// label.
type SeyrenError struct {
	Kind string // http_error, network_error, timeout, bad_json, too_large, cancelled, not_found
	URL  string
	Err  error
}

func (e *SeyrenError) Error() string { return fmt.Sprintf("seyren %s: %s: %v", e.URL, e.Kind, e.Err) }
func (e *SeyrenError) Unwrap() error { return e.Err }

// Kinds of SeyrenError, the result label of
// copenhagen_shadow_seyren_requests_total (with "ok").
var seyrenKinds = []string{"ok", "http_error", "not_found", "network_error", "timeout", "bad_json", "too_large", "cancelled"}

func (c *SeyrenClient) get(ctx context.Context, path string, q url.Values, v any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	shown := u.Redacted()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return &SeyrenError{Kind: "network_error", URL: shown, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		kind := "network_error"
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded), isTimeout(err):
			kind = "timeout"
		case errors.Is(ctx.Err(), context.Canceled):
			kind = "cancelled"
		}
		return &SeyrenError{Kind: kind, URL: shown, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.MaxBody+1))
	if err != nil {
		return &SeyrenError{Kind: "network_error", URL: shown, Err: err}
	}
	if int64(len(body)) > c.MaxBody {
		return &SeyrenError{Kind: "too_large", URL: shown, Err: fmt.Errorf("body over %d bytes", c.MaxBody)}
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return &SeyrenError{Kind: "not_found", URL: shown, Err: errors.New(resp.Status)}
	case resp.StatusCode != http.StatusOK:
		return &SeyrenError{Kind: "http_error", URL: shown, Err: fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body[:min(len(body), 200)])))}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &SeyrenError{Kind: "bad_json", URL: shown, Err: err}
	}
	return nil
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// Checks reads GET /api/checks: every check in one answer (Seyren does
// not page it).
func (c *SeyrenClient) Checks(ctx context.Context) ([]SeyrenCheck, error) {
	var p SeyrenPage[SeyrenCheck]
	if err := c.get(ctx, "/api/checks", nil, &p); err != nil {
		return nil, err
	}
	return p.Values, nil
}

// Check reads GET /api/checks/{id}; a missing check is a SeyrenError of
// kind not_found.
func (c *SeyrenClient) Check(ctx context.Context, id string) (SeyrenCheck, error) {
	var ch SeyrenCheck
	err := c.get(ctx, "/api/checks/"+url.PathEscape(id), nil, &ch)
	return ch, err
}

// Alerts pages through GET /api/checks/{id}/alerts, newest first, until a
// row older than since (kept: it gives the state at since), the end of
// the history, or the bounds (Truncated). Rows inserted while paging
// shift the later pages down, so rows come twice: they are deduplicated
// by id. Rows deleted while paging shift them up and one may be missed;
// nothing tells.
func (c *SeyrenClient) Alerts(ctx context.Context, checkID string, since time.Time) (AlertHistory, error) {
	var h AlertHistory
	seen := map[string]bool{}
	path := "/api/checks/" + url.PathEscape(checkID) + "/alerts"
	sinceMs := since.UnixMilli()
	for start := 0; ; {
		if h.Pages >= c.MaxPages || len(h.Rows) >= c.MaxRows {
			h.Truncated = true
			break
		}
		var p SeyrenPage[SeyrenAlert]
		q := url.Values{"start": {strconv.Itoa(start)}, "items": {strconv.Itoa(c.PageSize)}}
		if err := c.get(ctx, path, q, &p); err != nil {
			return h, err
		}
		h.Pages++
		older := false
		for _, a := range p.Values {
			if a.ID != "" && seen[a.ID] {
				h.Duplicates++
				continue
			}
			seen[a.ID] = true
			h.Rows = append(h.Rows, a)
			if a.Timestamp < sinceMs {
				older = true
			}
		}
		start += len(p.Values)
		if len(p.Values) == 0 || start >= p.Total {
			h.Complete = true
			break
		}
		if older {
			break
		}
	}
	sortAlerts(h.Rows)
	return h, nil
}
