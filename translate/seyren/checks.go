// Package seyren turns Seyren checks (from its API or an export) into
// Prometheus alerting rules, an Alertmanager configuration, promtool unit
// tests and a report, keeping Seyren's semantics: inclusive thresholds whose
// direction flips when warn > error, one state per series, the last non-null
// point of the [from, until] window, notifications only on change, and the
// subscriptions' days and hours.
package seyren

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Seyren's defaults when a check has no from/until (Check.getFrom/getUntil).
const (
	DefaultFrom  = "-11minutes"
	DefaultUntil = "-1minutes"
)

// Check is one Seyren check. Fields Seyren may leave null or serialise in
// several ways are kept raw until Validate, so that one bad check is
// reported on its own instead of failing the whole import.
type Check struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Description   string         `json:"description"`
	Target        string         `json:"target"`
	From          string         `json:"from"`
	Until         string         `json:"until"`
	Warn          Decimal        `json:"warn"`
	Error         Decimal        `json:"error"`
	Enabled       bool           `json:"enabled"`
	Live          bool           `json:"live"`
	AllowNoData   bool           `json:"allowNoData"`
	State         string         `json:"state"`
	Subscriptions []Subscription `json:"subscriptions"`

	// Problems found while decoding (bad field types); the check is then
	// reported untranslated with them as the reason.
	Problems []string `json:"-"`
}

// Subscription is who Seyren notified for a check, on which days and hours,
// and which state changes they did not want.
type Subscription struct {
	ID          string `json:"id"`
	Target      string `json:"target"`
	Type        string `json:"type"`
	Su          bool   `json:"su"`
	Mo          bool   `json:"mo"`
	Tu          bool   `json:"tu"`
	We          bool   `json:"we"`
	Th          bool   `json:"th"`
	Fr          bool   `json:"fr"`
	Sa          bool   `json:"sa"`
	FromTime    string `json:"fromTime"`
	ToTime      string `json:"toTime"`
	IgnoreWarn  bool   `json:"ignoreWarn"`
	IgnoreError bool   `json:"ignoreError"`
	IgnoreOk    bool   `json:"ignoreOk"`
	Enabled     bool   `json:"enabled"`
}

// Decimal is a Seyren threshold. Seyren serialises BigDecimal as a JSON
// string ("80"), older exports as a number; both are accepted. The text is
// kept so the rule shows the threshold exactly as the user typed it.
type Decimal struct {
	Text  string
	Value float64
	Set   bool
}

// UnmarshalJSON accepts "80", 80 and null.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*d = Decimal{}
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*d = Decimal{}
			return nil
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != v || v > 1e300 || v < -1e300 {
		return fmt.Errorf("not a decimal: %q", s)
	}
	*d = Decimal{Text: s, Value: v, Set: true}
	return nil
}

// MarshalJSON writes the decimal back as Seyren does, as a string.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if !d.Set {
		return []byte("null"), nil
	}
	return json.Marshal(d.Text)
}

// ParseChecks reads an export: the API's page object {"values": [...]} or a
// bare array of checks. A check whose fields have the wrong type is kept
// with its Problems filled, so it is reported rather than lost.
func ParseChecks(data []byte) ([]Check, error) {
	data = bytes.TrimSpace(data)
	var raws []json.RawMessage
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &raws); err != nil {
			return nil, fmt.Errorf("seyren export: %w", err)
		}
	} else {
		var page struct {
			Values []json.RawMessage `json:"values"`
		}
		if err := json.Unmarshal(data, &page); err != nil {
			return nil, fmt.Errorf("seyren export: %w", err)
		}
		if page.Values == nil {
			return nil, errors.New(`seyren export: neither an array of checks nor an object with "values"`)
		}
		raws = page.Values
	}
	checks := make([]Check, 0, len(raws))
	for i, raw := range raws {
		checks = append(checks, decodeCheck(raw, i))
	}
	return checks, nil
}

// decodeCheck decodes one check field by field so that a bad field is a
// problem of that check only.
func decodeCheck(raw json.RawMessage, index int) Check {
	var c Check
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		c.ID = fmt.Sprintf("#%d", index)
		c.Problems = append(c.Problems, fmt.Sprintf("check #%d is not a JSON object: %v", index, err))
		return c
	}
	field := func(name string, dst any) {
		v, ok := fields[name]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return
		}
		if err := json.Unmarshal(v, dst); err != nil {
			c.Problems = append(c.Problems, fmt.Sprintf("field %s: %v", name, simplifyJSONError(err)))
		}
	}
	field("id", &c.ID)
	field("name", &c.Name)
	field("description", &c.Description)
	field("target", &c.Target)
	field("from", &c.From)
	field("until", &c.Until)
	field("warn", &c.Warn)
	field("error", &c.Error)
	field("enabled", &c.Enabled)
	field("live", &c.Live)
	field("allowNoData", &c.AllowNoData)
	field("state", &c.State)
	field("subscriptions", &c.Subscriptions)
	if c.ID == "" {
		c.ID = fmt.Sprintf("#%d", index)
		c.Problems = append(c.Problems, "check has no id")
	}
	if c.From == "" {
		c.From = DefaultFrom
	}
	if c.Until == "" {
		c.Until = DefaultUntil
	}
	return c
}

func simplifyJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)
	}
	return err.Error()
}

// maxPages bounds the paging loop against a server that never says it is
// done (total growing, items ignored).
const maxPages = 10000

// pageSize is how many checks are asked per API call.
const pageSize = 100

// FetchChecks reads every check from a Seyren server: GET
// <base>/api/checks?start=N&items=M until "total" checks were read or a page
// comes back empty.
func FetchChecks(ctx context.Context, client *http.Client, base string) ([]Check, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil {
		return nil, fmt.Errorf("seyren url: %w", err)
	}
	u.Path += "/api/checks"
	var all []Check
	start := 0
	for page := 0; page < maxPages; page++ {
		q := u.Query()
		q.Set("start", strconv.Itoa(start))
		q.Set("items", strconv.Itoa(pageSize))
		u.RawQuery = q.Encode()
		body, err := get(ctx, client, u.String())
		if err != nil {
			return nil, err
		}
		var meta struct {
			Values []json.RawMessage `json:"values"`
			Total  *int              `json:"total"`
		}
		if err := json.Unmarshal(body, &meta); err != nil {
			return nil, fmt.Errorf("seyren api %s: %w", redactURL(u), err)
		}
		checks, err := ParseChecks(body)
		if err != nil {
			return nil, fmt.Errorf("seyren api %s: %w", redactURL(u), err)
		}
		all = append(all, checks...)
		start += len(checks)
		if len(checks) == 0 || meta.Total == nil || start >= *meta.Total {
			return all, nil
		}
	}
	return nil, fmt.Errorf("seyren api: more than %d pages, giving up", maxPages)
}

func get(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("seyren api: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("seyren api: reading answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("seyren api: %s answered %s", req.URL.Redacted(), resp.Status)
	}
	return body, nil
}

func redactURL(u *url.URL) string { return u.Redacted() }

// IsURL says whether --from names a server rather than a file.
func IsURL(from string) bool {
	return strings.HasPrefix(from, "http://") || strings.HasPrefix(from, "https://")
}
