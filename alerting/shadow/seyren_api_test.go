package shadow_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/alerting/shadow"
	"github.com/copenhagen-obs/copenhagen/alerting/shadow/seyrentest"
)

// The Seyren side of these tests is the seyrentest stand-in reproducing
// Seyren's API contract (Seyren itself, Java 7 + MongoDB, cannot run
// here), seeded from testdata/seyren/history.json.

func fixture(t *testing.T) seyrentest.Fixture {
	return seyrentest.LoadFixture(t, filepath.Join("testdata", "seyren", "history.json"))
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSeyrenStandInContract: what the client relies on, as Seyren serves
// it: /api/checks unpaged, 404 for a missing check, 400 for negative
// paging, rows newest first with total over all of a check's rows.
func TestSeyrenStandInContract(t *testing.T) {
	f := fixture(t)
	srv := seyrentest.New(t, f)
	code, body := get(t, srv.URL+"/api/checks?start=1&items=1")
	var page struct {
		Values []map[string]any `json:"values"`
		Total  int              `json:"total"`
	}
	if err := json.Unmarshal([]byte(body), &page); code != 200 || err != nil || len(page.Values) != 3 || page.Total != 3 {
		t.Fatalf("/api/checks?start=1&items=1: %d %v %s, want all 3 checks (no paging)", code, err, body)
	}
	if w, ok := page.Values[0]["warn"].(string); !ok || w != "100" || page.Values[0]["state"] != "OK" {
		t.Errorf("check JSON: warn %#v state %#v, want the string \"100\" and a state name", page.Values[0]["warn"], page.Values[0]["state"])
	}
	if code, _ := get(t, srv.URL+"/api/checks/nope"); code != 404 {
		t.Errorf("missing check: %d, want 404", code)
	}
	for _, q := range []string{"start=-1", "items=-5"} {
		if code, _ := get(t, srv.URL+"/api/checks/queue/alerts?"+q); code != 400 {
			t.Errorf("alerts?%s: %d, want 400", q, code)
		}
	}
	code, body = get(t, srv.URL+"/api/checks/queue/alerts?start=2&items=3")
	var alerts struct {
		Values []map[string]any `json:"values"`
		Total  int              `json:"total"`
	}
	if err := json.Unmarshal([]byte(body), &alerts); code != 200 || err != nil || len(alerts.Values) != 3 || alerts.Total != 10 {
		t.Fatalf("alerts page: %d %v %s, want 3 of the check's 10 rows", code, err, body)
	}
	ts := func(i int) float64 { return alerts.Values[i]["timestamp"].(float64) }
	if !(ts(0) >= ts(1) && ts(1) >= ts(2)) {
		t.Errorf("rows not newest first: %v", alerts.Values)
	}
	if _, ok := alerts.Values[0]["value"].(float64); !ok {
		t.Errorf("alert value %#v, want a number", alerts.Values[0]["value"])
	}

	c, err := shadow.NewSeyrenClient(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks, err := c.Checks(context.Background())
	if err != nil || len(checks) != 3 || checks[0].State != shadow.OK || checks[0].Warn != "100" || checks[0].LastCheck == 0 {
		t.Fatalf("Checks: %+v %v", checks, err)
	}
	if _, err := c.Check(context.Background(), "nope"); !isKind(err, "not_found") {
		t.Errorf("Check(nope): %v, want not_found", err)
	}
	if ch, err := c.Check(context.Background(), "deleted"); err != nil || ch.State != shadow.Warn || ch.From != "-11minutes" {
		t.Errorf("Check(deleted): %+v %v", ch, err)
	}
}

func isKind(err error, kind string) bool {
	var se *shadow.SeyrenError
	return errors.As(err, &se) && se.Kind == kind
}

// TestSeyrenClientPagingWithInserts: rows inserted while the client pages
// push the later pages down; the client reads every row once (dedupe by
// id) and reaches the end.
func TestSeyrenClientPagingWithInserts(t *testing.T) {
	f := fixture(t)
	srv := seyrentest.New(t, f)
	inserts := 0
	srv.BeforePage(func(checkID string, start int) {
		if checkID == "queue" && start > 0 {
			inserts++
			srv.AddAlert(shadow.SeyrenAlert{CheckID: "queue", Target: "stats.gauges.web1.queue", Value: "300", Warn: "100", Error: "200",
				FromType: shadow.Error, ToType: shadow.Error, Timestamp: time.Now().UnixMilli() + int64(inserts)})
		}
	})
	c, err := shadow.NewSeyrenClient(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.PageSize = 3
	h, err := c.Alerts(context.Background(), "queue", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, r := range h.Rows {
		ids[r.ID]++
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("row %s read %d times", id, n)
		}
	}
	for _, a := range f.Alerts {
		if a.CheckID == "queue" && ids[a.ID] != 1 {
			t.Errorf("fixture row %s missing after paging with inserts", a.ID)
		}
	}
	if inserts == 0 || h.Duplicates != inserts || !h.Complete || h.Truncated {
		t.Errorf("inserts %d: duplicates %d complete %v truncated %v pages %d, want one duplicate per insert and the end reached",
			inserts, h.Duplicates, h.Complete, h.Truncated, h.Pages)
	}
	if !slices.IsSortedFunc(h.Rows, func(a, b shadow.SeyrenAlert) int { return int(a.Timestamp - b.Timestamp) }) {
		t.Errorf("rows not oldest first")
	}
}

// TestSeyrenClientWindowAndBounds: paging stops at the first row older
// than the window (kept, for the state at its start), and the bounds cut
// a long history, saying so.
func TestSeyrenClientWindowAndBounds(t *testing.T) {
	srv := seyrentest.New(t, fixture(t))
	c, err := shadow.NewSeyrenClient(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.PageSize = 2
	since := time.UnixMilli(1764583200000 + 17000).Add(6 * time.Minute) // after the queue's m5 row
	h, err := c.Alerts(context.Background(), "queue", since)
	if err != nil {
		t.Fatal(err)
	}
	if h.Complete || h.Truncated || h.Pages != 2 || len(h.Rows) != 4 || !h.Rows[0].Time().Before(since) {
		t.Errorf("window: pages %d rows %d complete %v truncated %v, want 2 pages and a row older than since", h.Pages, len(h.Rows), h.Complete, h.Truncated)
	}
	c.MaxPages = 2
	h, err = c.Alerts(context.Background(), "queue", time.Time{})
	if err != nil || !h.Truncated || h.Complete || len(h.Rows) != 4 {
		t.Errorf("bounded: %+v %v, want truncated after 2 pages", h, err)
	}
	srv.SetDown(true)
	if _, err := c.Checks(context.Background()); !isKind(err, "http_error") || !strings.Contains(err.Error(), "503") {
		t.Errorf("Seyren down: %v, want an http_error naming 503", err)
	}
	srv.Close()
	if _, err := c.Checks(context.Background()); !isKind(err, "network_error") {
		t.Errorf("Seyren gone: %v, want network_error", err)
	}
}
