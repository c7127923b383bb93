package seyren

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestParseChecksForms(t *testing.T) {
	page, err := ParseChecks([]byte(`{"values":[{"id":"a","name":"A","target":"x.y","warn":"80","error":90.5,"enabled":true,"someNewField":{"x":1}}],"items":1,"start":0,"total":1}`))
	if err != nil {
		t.Fatal(err)
	}
	arr, err := ParseChecks([]byte(`[{"id":"a","name":"A","target":"x.y","warn":"80","error":"90.5","enabled":true}]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, checks := range [][]Check{page, arr} {
		if len(checks) != 1 {
			t.Fatalf("%d checks", len(checks))
		}
		c := checks[0]
		if c.Warn.Value != 80 || c.Error.Value != 90.5 || !c.Warn.Set || len(c.Problems) != 0 {
			t.Errorf("thresholds %+v %+v problems %v", c.Warn, c.Error, c.Problems)
		}
		if c.From != DefaultFrom || c.Until != DefaultUntil {
			t.Errorf("defaults: from %q until %q", c.From, c.Until)
		}
	}
	if _, err := ParseChecks([]byte(`{"checks":[]}`)); err == nil {
		t.Error("object without values accepted")
	}
	if _, err := ParseChecks([]byte(`not json`)); err == nil {
		t.Error("garbage accepted")
	}
}

// A bad field is a problem of its check only; the good check next to it
// is translated.
func TestParseChecksBadFieldsPerCheck(t *testing.T) {
	checks, err := ParseChecks([]byte(`[
		{"id":"bad","name":"B","target":"x","warn":"eighty","error":"90","enabled":true,"subscriptions":"nope"},
		{"name":"no id","target":"x","warn":"1","error":"2","enabled":true},
		{"id":"good","name":"G","target":"x","warn":"1","error":"2","enabled":true}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 3 || len(checks[0].Problems) != 2 || len(checks[1].Problems) != 1 || len(checks[2].Problems) != 0 {
		t.Fatalf("problems: %q / %q / %q", checks[0].Problems, checks[1].Problems, checks[2].Problems)
	}
	out, err := Import(checks, Options{Translator: fakeTranslator{"x": ok("x")}})
	if err != nil {
		t.Fatal(err)
	}
	st := map[string]string{}
	for _, c := range out.Report.Checks {
		st[c.ID] = c.Status + ": " + c.Reason
	}
	if st["bad"][:len(StatusUntranslated)] != StatusUntranslated || st["good"] != StatusTranslated+": " || st["#1"][:len(StatusUntranslated)] != StatusUntranslated {
		t.Errorf("statuses %q", st)
	}
}

// seyrenServer serves checks the way Seyren pages them, at most perPage
// per answer whatever "items" asks.
func seyrenServer(t *testing.T, checks []json.RawMessage, perPage int) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/checks" {
			http.NotFound(w, r)
			return
		}
		start, _ := strconv.Atoi(r.URL.Query().Get("start"))
		items, _ := strconv.Atoi(r.URL.Query().Get("items"))
		if items <= 0 || items > perPage {
			items = perPage
		}
		end := min(start+items, len(checks))
		if start > end {
			start = end
		}
		json.NewEncoder(w).Encode(map[string]any{"values": checks[start:end], "items": end - start, "start": start, "total": len(checks)})
	}))
}

func TestFetchChecksAllPages(t *testing.T) {
	var checks []json.RawMessage
	for i := 0; i < 12; i++ {
		checks = append(checks, json.RawMessage(`{"id":"c`+strconv.Itoa(i)+`","name":"n","target":"t","warn":"1","error":"2"}`))
	}
	srv := seyrenServer(t, checks, 5)
	defer srv.Close()
	got, err := FetchChecks(context.Background(), srv.Client(), srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 12 {
		t.Fatalf("read %d checks over the pages, want 12", len(got))
	}
	for i, c := range got {
		if c.ID != "c"+strconv.Itoa(i) {
			t.Errorf("check %d has id %q", i, c.ID)
		}
	}
}

func TestFetchChecksErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer srv.Close()
	if _, err := FetchChecks(context.Background(), srv.Client(), srv.URL); err == nil {
		t.Error("HTTP 500 accepted")
	}
}
