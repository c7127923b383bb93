package tv

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
)

// Paths the page is served on, relative to each other so that it works
// behind a reverse proxy's prefix: /tv links tv/tv.css, tv/tv.js and
// polls tv/state.
const (
	PathPage  = "/tv"
	PathState = "/tv/state"
	PathJS    = "/tv/tv.js"
	PathCSS   = "/tv/tv.css"
)

// Limits of the query parameters.
const (
	DefaultRefresh = 10 * time.Second
	MinRefresh     = time.Second
	MaxRefresh     = 10 * time.Minute
	maxTeamLength  = 200
	queryTimeout   = 10 * time.Second
)

// Options configure a Handler.
type Options struct {
	Rules  Rules
	Values Values
	// StaleIntervals: a tile is stale when its rule group has not been
	// evaluated for this many of its intervals. Default 3.
	StaleIntervals int
	// Now is the clock (tests). Default time.Now.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Handler serves the TV page and its state.
type Handler struct {
	b      builder
	now    func() time.Time
	logger *slog.Logger

	requests     *prometheus.CounterVec
	valuesFailed prometheus.Counter
}

//go:embed assets/tv.css
var css []byte

//go:embed assets/tv.js
var js []byte

//go:embed assets/page.html
var pageHTML string

var page = template.Must(template.New("tv").Parse(pageHTML))

// New builds a Handler.
func New(o Options) (*Handler, error) {
	if o.Rules == nil || o.Values == nil {
		return nil, errors.New("tv: Rules and Values are required")
	}
	if o.StaleIntervals <= 0 {
		o.StaleIntervals = 3
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	h := &Handler{
		b:      builder{rules: o.Rules, values: o.Values, staleIntervals: o.StaleIntervals, parser: parser.NewParser(parser.Options{})},
		now:    o.Now,
		logger: o.Logger,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_tv_requests_total",
			Help: "Requests to the TV page, by what was asked (page, state) and result (ok, bad_request).",
		}, []string{"path", "result"}),
		valuesFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "copenhagen_tv_value_query_failures_total",
			Help: "TV board computations whose query of seyren_check_value failed (tiles then show their alert state without a value).",
		}),
	}
	for _, c := range []prometheus.Collector{h.requests, h.valuesFailed} {
		if err := o.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Register mounts the page on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathPage, h.servePage)
	mux.HandleFunc("GET "+PathPage+"/{$}", func(w http.ResponseWriter, r *http.Request) {
		u := "../tv"
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, u, http.StatusFound)
	})
	mux.HandleFunc("GET "+PathState, h.serveState)
	mux.HandleFunc("GET "+PathJS, asset("text/javascript; charset=utf-8", js))
	mux.HandleFunc("GET "+PathCSS, asset("text/css; charset=utf-8", css))
}

func asset(ctype string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(body)
	}
}

// params are the page's query parameters.
type params struct {
	team    string
	refresh time.Duration
}

func parseParams(r *http.Request) (params, error) {
	q := r.URL.Query()
	p := params{team: strings.TrimSpace(q.Get("team")), refresh: DefaultRefresh}
	if len(p.team) > maxTeamLength {
		return p, errors.New("team: longer than 200 characters")
	}
	if s := q.Get("refresh"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return p, errors.New("refresh: not a duration (10s, 1m)")
		}
		if d < MinRefresh || d > MaxRefresh {
			return p, errors.New("refresh: must be between 1s and 10m")
		}
		p.refresh = d
	}
	return p, nil
}

func (h *Handler) board(r *http.Request, team string) Board {
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	b := h.b.build(ctx, team, h.now())
	if b.ValuesError != "" {
		h.valuesFailed.Inc()
		h.logger.Warn("tv: querying the checks' values failed", "err", b.ValuesError)
		b.ValuesError = "values unavailable" // the query error stays in the log
	}
	return b
}

func securityHeaders(w http.ResponseWriter) {
	hd := w.Header()
	// Everything is served from here: no CDN, no inline script.
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		h.requests.WithLabelValues("page", "bad_request").Inc()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b := h.board(r, p.team)
	title := "All teams"
	if p.team != "" {
		title = "Team " + p.team
	}
	securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	h.requests.WithLabelValues("page", "ok").Inc()
	if err := page.Execute(w, pageData{
		Title:          title,
		Board:          b,
		RefreshMillis:  p.refresh.Milliseconds(),
		RefreshSeconds: int(max(p.refresh/time.Second, 1)),
		Updated:        b.Generated.Format("15:04:05"),
	}); err != nil {
		h.logger.Debug("tv: writing the page", "err", err)
	}
}

type pageData struct {
	Title          string
	Board          Board
	RefreshMillis  int64
	RefreshSeconds int
	Updated        string
}

func (h *Handler) serveState(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		h.requests.WithLabelValues("state", "bad_request").Inc()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b := h.board(r, p.team)
	securityHeaders(w)
	w.Header().Set("Content-Type", "application/json")
	h.requests.WithLabelValues("state", "ok").Inc()
	enc := json.NewEncoder(w)
	if err := enc.Encode(b); err != nil {
		h.logger.Debug("tv: writing the state", "err", err)
	}
}

// counts is used by the template: "2 critical · 1 warning".
func (b Board) Summary() string {
	var parts []string
	for _, s := range []string{StateCritical, StateWarning, StateStale, StateNoData, StateOK} {
		if n := b.Counts[s]; n > 0 {
			parts = append(parts, strconv.Itoa(n)+" "+summaryWord[s])
		}
	}
	return strings.Join(parts, " · ")
}

var summaryWord = map[string]string{
	StateCritical: "critical", StateWarning: "warning", StateStale: "stale", StateNoData: "no data", StateOK: "ok",
}

// StateWord is the word a tile shows beside its colour, for viewers who
// cannot tell red from green.
func (t Tile) StateWord() string { return stateWords[t.State] }

var stateWords = map[string]string{
	StateOK: "OK", StateWarning: "WARNING", StateCritical: "CRITICAL", StateNoData: "NO DATA", StateStale: "STALE",
}
