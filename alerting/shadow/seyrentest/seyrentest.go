// Package seyrentest is a stand-in for Seyren's HTTP API, for tests.
//
// Seyren itself cannot run on this project's machines: it is a Java 7 /
// Spring application that needs MongoDB, which is not packaged by Debian,
// no container registry is reachable and Maven Central is not one of the
// machine's registries. So the API is stood in for, reproducing its
// contract as scobal/seyren 8bb5b37 has it (../shared/ref/switchover.md
// §1.1):
//   - GET /api/checks: {values, items, start, total} with every check, no
//     paging (start and items are ignored);
//   - GET /api/checks/{id}: the check, 404 when missing;
//   - GET /api/checks/{id}/alerts?start=0&items=20: the check's alert rows
//     sorted by timestamp descending, then skip/limit; total is the count
//     of all the check's rows; negative start or items give 400;
//   - checks with warn/error as strings, state as a name, lastCheck epoch
//     ms; alert rows with value/warn/error as numbers, timestamp epoch ms.
//
// It is seeded from fixture JSON ({"checks": [...], "alerts": [...]}, the
// shapes above) and has a recorder (Recorder) that writes rows the way
// Seyren's CheckRunner does, with alerting/shadow's port of the runner
// over a real graphite-web. Agreement between the emulator and rows the
// recorder wrote with that same emulator proves nothing about the
// emulator: the fixture histories are what test the reconstruction.
package seyrentest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/copenhagen-obs/copenhagen/alerting/shadow"
)

// Fixture is the seed of a Server: checks as GET /api/checks gives them,
// alert rows as GET /api/checks/{id}/alerts gives them.
type Fixture struct {
	Checks []shadow.SeyrenCheck `json:"checks"`
	Alerts []shadow.SeyrenAlert `json:"alerts"`
}

// LoadFixture reads a fixture file.
func LoadFixture(t testing.TB, path string) Fixture {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f Fixture
	d := json.NewDecoder(strings.NewReader(string(data)))
	d.UseNumber()
	if err := d.Decode(&f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server

	mu     sync.Mutex
	checks []shadow.SeyrenCheck
	alerts []shadow.SeyrenAlert
	nextID int
	down   bool
	// beforePage runs before an alerts page is served (unlocked), so a
	// test can insert rows between pages.
	beforePage func(checkID string, start int)
	requests   map[string]int
	// user and pass, when set, are required (Seyren behind an
	// authenticating proxy, as users run it); unauthorized counts refusals.
	user, pass   string
	unauthorized int
}

// New starts a stand-in seeded with f, stopped by t.Cleanup.
func New(t testing.TB, f Fixture) *Server {
	s := &Server{checks: slices.Clone(f.Checks), alerts: slices.Clone(f.Alerts), nextID: 1, requests: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/checks", s.listChecks)
	mux.HandleFunc("GET /api/checks/{id}", s.getCheck)
	mux.HandleFunc("GET /api/checks/{id}/alerts", s.listAlerts)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		down := s.down
		s.requests[r.URL.Path]++
		user, pass := s.user, s.pass
		if u, p, ok := r.BasicAuth(); user != "" && (!ok || u != user || p != pass) {
			s.unauthorized++
			s.mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Basic realm="seyren"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		s.mu.Unlock()
		if down {
			// Seyren's Jetty up, its MongoDB gone: what users see.
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// RequireBasicAuth refuses requests without these credentials (401).
func (s *Server) RequireBasicAuth(user, pass string) {
	s.mu.Lock()
	s.user, s.pass = user, pass
	s.mu.Unlock()
}

// Unauthorized is how many requests were refused for their credentials.
func (s *Server) Unauthorized() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unauthorized
}

// SetDown makes every request fail with 503 (true) or serves again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// BeforePage sets a function run before each alerts page is served.
func (s *Server) BeforePage(f func(checkID string, start int)) {
	s.mu.Lock()
	s.beforePage = f
	s.mu.Unlock()
}

// Requests is how many requests a path got.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// AddAlert inserts a row (its id is set when empty) and returns it.
func (s *Server) AddAlert(a shadow.SeyrenAlert) shadow.SeyrenAlert {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.ID == "" {
		a.ID = fmt.Sprintf("rec-%06d", s.nextID)
		s.nextID++
	}
	s.alerts = append(s.alerts, a)
	return a
}

// Alerts is a copy of every row held.
func (s *Server) Alerts() []shadow.SeyrenAlert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.alerts)
}

// SetCheckState sets a check's state and lastCheck (epoch ms), as
// CheckRunner does after each run.
func (s *Server) SetCheckState(id string, st shadow.State, lastCheckMs int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.checks {
		if s.checks[i].ID == id {
			s.checks[i].State, s.checks[i].LastCheck = st, lastCheckMs
		}
	}
}

// page is Seyren's list envelope.
type page struct {
	Values any `json:"values"`
	Items  int `json:"items"`
	Start  int `json:"start"`
	Total  int `json:"total"`
}

// checkJSON is a check as Seyren serializes it: warn/error strings
// (BigDecimalSerializer), state a name.
type checkJSON struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	Target      string  `json:"target"`
	From        *string `json:"from"`
	Until       *string `json:"until"`
	Warn        string  `json:"warn"`
	Error       string  `json:"error"`
	Enabled     bool    `json:"enabled"`
	Live        bool    `json:"live"`
	AllowNoData bool    `json:"allowNoData"`
	State       string  `json:"state"`
	LastCheck   *int64  `json:"lastCheck"`
	Subs        []any   `json:"subscriptions"`
}

func toJSON(c shadow.SeyrenCheck) checkJSON {
	j := checkJSON{ID: c.ID, Name: c.Name, Target: c.Target, Warn: c.Warn, Error: c.Error, Enabled: c.Enabled,
		Live: c.Live, AllowNoData: c.AllowNoData, State: c.State.String(), Subs: []any{}}
	if c.From != "" {
		j.From = &c.From
	}
	if c.Until != "" {
		j.Until = &c.Until
	}
	if c.LastCheck != 0 {
		j.LastCheck = &c.LastCheck
	}
	return j
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// listChecks is ChecksResource.getChecks: every check, start and items
// ignored.
func (s *Server) listChecks(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	vals := make([]checkJSON, 0, len(s.checks))
	for _, c := range s.checks {
		vals = append(vals, toJSON(c))
	}
	s.mu.Unlock()
	writeJSON(w, page{Values: vals, Items: len(vals), Start: 0, Total: len(vals)})
}

func (s *Server) getCheck(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.checks {
		if c.ID == id {
			writeJSON(w, toJSON(c))
			return
		}
	}
	w.WriteHeader(http.StatusNotFound)
}

// intParam reads a query integer with its default; AlertsBean answers 400
// to a negative one.
func intParam(r *http.Request, name string, def int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// listAlerts is AlertsResource.getAlerts for one check: MongoStore sorts
// by timestamp descending, then skips and limits; total counts all rows.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	start, ok1 := intParam(r, "start", 0)
	items, ok2 := intParam(r, "items", 20)
	if !ok1 || !ok2 {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	before := s.beforePage
	s.mu.Unlock()
	if before != nil {
		before(id, start)
	}
	s.mu.Lock()
	var rows []shadow.SeyrenAlert
	for _, a := range s.alerts {
		if a.CheckID == id {
			rows = append(rows, a)
		}
	}
	s.mu.Unlock()
	// Mongo's sort on timestamp alone: equal timestamps come in insertion
	// order, reversed by the stable descending sort below.
	slices.SortStableFunc(rows, func(a, b shadow.SeyrenAlert) int {
		switch {
		case a.Timestamp > b.Timestamp:
			return -1
		case a.Timestamp < b.Timestamp:
			return 1
		}
		return 0
	})
	total := len(rows)
	lo := min(start, total)
	hi := min(lo+items, total)
	writeJSON(w, page{Values: alertsJSON(rows[lo:hi]), Items: items, Start: start, Total: total})
}

type alertJSON struct {
	ID        string      `json:"id"`
	CheckID   string      `json:"checkId"`
	Value     json.Number `json:"value"`
	Target    string      `json:"target"`
	Warn      json.Number `json:"warn"`
	Error     json.Number `json:"error"`
	FromType  string      `json:"fromType"`
	ToType    string      `json:"toType"`
	Timestamp int64       `json:"timestamp"`
}

func alertsJSON(rows []shadow.SeyrenAlert) []alertJSON {
	out := make([]alertJSON, 0, len(rows))
	for _, a := range rows {
		out = append(out, alertJSON{ID: a.ID, CheckID: a.CheckID, Value: num(a.Value), Target: a.Target,
			Warn: num(a.Warn), Error: num(a.Error), FromType: a.FromType.String(), ToType: a.ToType.String(),
			Timestamp: a.Timestamp})
	}
	return out
}

func num(n json.Number) json.Number {
	if n == "" {
		return "0"
	}
	return n
}
