package evaluate

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/teststorage"
)

// recorder is a Sender that keeps what it got.
type recorder struct {
	mu     sync.Mutex
	alerts []*notifier.Alert
}

func (r *recorder) Send(alerts ...*notifier.Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, alerts...)
}

// last returns the newest alert named name, nil if none.
func (r *recorder) last(name string) *notifier.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.alerts) - 1; i >= 0; i-- {
		if r.alerts[i].Labels.Get(labels.AlertName) == name {
			return r.alerts[i]
		}
	}
	return nil
}

type env struct {
	st  *teststorage.TestStorage
	eng *promql.Engine
	rec *recorder
	ev  *Evaluator
	reg *prometheus.Registry
}

func newEnv(t *testing.T, o Options, files ...string) *env {
	t.Helper()
	e := &env{st: teststorage.New(t), rec: &recorder{}, reg: prometheus.NewRegistry()}
	e.eng = promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	if o.QueryFunc == nil {
		o.QueryFunc = LocalQueryFunc(e.eng, e.st)
	}
	o.Appendable = e.st
	o.Queryable = e.st
	o.Sender = e.rec
	o.Registerer = e.reg
	if o.Interval == 0 {
		o.Interval = 100 * time.Millisecond
	}
	ev, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	var pats []string
	for _, f := range files {
		pats = append(pats, filepath.Join("testdata", f))
	}
	if err := ev.Update(pats, 0); err != nil {
		t.Fatal(err)
	}
	e.ev = ev
	go ev.Run()
	t.Cleanup(ev.Stop)
	return e
}

func (e *env) add(t *testing.T, series string, v float64) {
	t.Helper()
	m, err := labelsOf(series)
	if err != nil {
		t.Fatal(err)
	}
	app := e.st.Appender(context.Background())
	if _, err := app.Append(0, m, time.Now().UnixMilli(), v); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

func labelsOf(s string) (labels.Labels, error) {
	m, err := promqlParseMetric(s)
	return m, err
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func firing(a *notifier.Alert) bool { return a != nil && a.EndsAt.After(time.Now()) }

func TestFailingRuleRaisesItsOwnAlert(t *testing.T) {
	e := newEnv(t, Options{NoDataIntervals: 2}, "failing.yml")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	feed := func(series string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
					e.add(t, series, 1)
				}
			}
		}()
	}
	feed(`src{host="a"}`)
	feed(`ref`)
	defer func() { close(stop); wg.Wait() }()

	// Healthy first: no alert of its own.
	waitUntil(t, "a healthy evaluation", 5*time.Second, func() bool {
		rs := e.ev.Manager().Rules()
		return len(rs) == 1 && rs[0].Health() == "ok"
	})
	if a := e.rec.last(AlertRuleFailing); a != nil {
		t.Fatalf("healthy rule raised %v", a.Labels)
	}

	// A second src series: the rule's many-to-one match fails.
	e.add(t, `src{host="b"}`, 1)
	waitUntil(t, AlertRuleFailing, 5*time.Second, func() bool { return firing(e.rec.last(AlertRuleFailing)) })
	a := e.rec.last(AlertRuleFailing)
	want := labels.FromStrings("alertname", AlertRuleFailing, "check_id", "c1", "rule", "Ratio",
		"rule_file", filepath.Join("testdata", "failing.yml"), "rule_group", "seyren-c1", "severity", "warning")
	if !labels.Equal(a.Labels, want) {
		t.Errorf("labels = %v, want %v", a.Labels, want)
	}
	if d := a.Annotations.Get("description"); d == "" || a.Annotations.Get("query") != "src * on () ref > 100" {
		t.Errorf("annotations = %v", a.Annotations)
	}
	if got := testutilGauge(t, e.reg, "copenhagen_rules_self_alerts_firing", AlertRuleFailing); got != 1 {
		t.Errorf("copenhagen_rules_self_alerts_firing = %v, want 1", got)
	}
	if len(e.ev.SelfAlerts()) != 1 {
		t.Errorf("SelfAlerts() = %v", e.ev.SelfAlerts())
	}

	// The second series goes stale: the rule heals and the alert resolves.
	app := e.st.Appender(context.Background())
	m, _ := labelsOf(`src{host="b"}`)
	if _, err := app.Append(0, m, time.Now().UnixMilli(), math.Float64frombits(value.StaleNaN)); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "resolution", 5*time.Second, func() bool {
		a := e.rec.last(AlertRuleFailing)
		return !firing(a)
	})
	if got := testutilGauge(t, e.reg, "copenhagen_rules_self_alerts_firing", AlertRuleFailing); got != 0 {
		t.Errorf("copenhagen_rules_self_alerts_firing = %v after healing, want 0", got)
	}
}

func TestCheckWithoutDataRaisesItsOwnAlert(t *testing.T) {
	e := newEnv(t, Options{NoDataIntervals: 3}, "nodata.yml")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				e.add(t, `queue_size{app="thumbnails"}`, 6000)
			}
		}
	}()
	waitUntil(t, "the check's alert", 5*time.Second, func() bool { return firing(e.rec.last("SeyrenBacklog")) })
	time.Sleep(500 * time.Millisecond)
	if a := e.rec.last(AlertNoData); a != nil {
		t.Fatalf("no-data alert while data flows: %v", a.Labels)
	}
	close(stop)
	<-done
	stoppedAt := time.Now()
	waitUntil(t, AlertNoData, 5*time.Second, func() bool { return firing(e.rec.last(AlertNoData)) })
	// The window is 500ms and three empty evaluations 100ms apart are
	// needed: at least 500+200ms after the last point (sent up to 50ms
	// before stoppedAt).
	if d := time.Since(stoppedAt); d < 600*time.Millisecond {
		t.Errorf("no-data alert %v after the data stopped, before window + 3 intervals", d)
	}
	a := e.rec.last(AlertNoData)
	if want := labels.FromStrings("alertname", AlertNoData, "check_id", "c2", "rule_group", "seyren-c2", "severity", "warning"); !labels.Equal(a.Labels, want) {
		t.Errorf("labels = %v, want %v", a.Labels, want)
	}
	// Seyren semantics kept: the check's own alert keeps firing on the
	// last value.
	if !firing(e.rec.last("SeyrenBacklog")) {
		t.Errorf("the check's alert resolved when its data stopped")
	}
	// Data is back: the no-data alert resolves.
	e.add(t, `queue_size{app="thumbnails"}`, 10)
	waitUntil(t, "no-data resolution", 5*time.Second, func() bool { return !firing(e.rec.last(AlertNoData)) })
}

func TestAPIIsPrometheus(t *testing.T) {
	e := newEnv(t, Options{}, "nodata.yml")
	e.add(t, `queue_size{app="thumbnails"}`, 6000)
	waitUntil(t, "the alert", 5*time.Second, func() bool { return firing(e.rec.last("SeyrenBacklog")) })

	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "query API", 418) })
	e.ev.Register(mux, nil, "test")
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	p := v1.NewAPI(c)
	ctx := context.Background()

	al, err := p.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(al.Alerts) != 1 || al.Alerts[0].State != v1.AlertStateFiring || al.Alerts[0].Labels["alertname"] != "SeyrenBacklog" ||
		al.Alerts[0].Labels["check_id"] != "c2" || al.Alerts[0].Value != "6e+03" /* Prometheus formats with %e */ {
		t.Fatalf("alerts = %+v", al.Alerts)
	}
	rs, err := p.Rules(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Groups) != 1 || rs.Groups[0].Name != "seyren-c2" || rs.Groups[0].Interval != 0.1 || len(rs.Groups[0].Rules) != 2 {
		t.Fatalf("rules = %+v", rs)
	}
	rec, ok := rs.Groups[0].Rules[0].(v1.RecordingRule)
	if !ok || rec.Name != "seyren_check_value" || rec.Health != v1.RuleHealthGood {
		t.Errorf("rules[0] = %+v", rs.Groups[0].Rules[0])
	}
	alr, ok := rs.Groups[0].Rules[1].(v1.AlertingRule)
	if !ok || alr.Name != "SeyrenBacklog" || alr.State != "firing" || len(alr.Alerts) != 1 || alr.Labels["severity"] != "critical" {
		t.Errorf("rules[1] = %+v", rs.Groups[0].Rules[1])
	}
	// Prometheus's filters work.
	resp, err := http.Get(srv.URL + "/api/v1/rules?type=record")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("type=record: %d", resp.StatusCode)
	}
	// The rest of /api/v1 is still the query API's.
	resp, err = http.Get(srv.URL + "/api/v1/query?query=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 418 {
		t.Errorf("/api/v1/query went to the rules API: %d", resp.StatusCode)
	}
	ams, err := p.AlertManagers(ctx)
	if err != nil || len(ams.Active) != 0 {
		t.Errorf("alertmanagers = %+v, %v", ams, err)
	}
}

// The remote query function gives the rules what the local engine gives
// them, through a Prometheus API (here Prometheus's own handler over the
// same storage).
func TestRemoteQueryFuncMatchesLocal(t *testing.T) {
	e := newEnv(t, Options{})
	now := time.Now()
	app := e.st.Appender(context.Background())
	for i, s := range []string{`a{x="1"}`, `a{x="2"}`, `b`} {
		m, _ := labelsOf(s)
		for k := range 10 {
			if _, err := app.Append(0, m, now.Add(-time.Duration(10-k)*time.Second).UnixMilli(), float64(i*10+k)+0.25); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promAPI(t, e.st, e.eng))
	defer srv.Close()
	remote, err := RemoteQueryFunc(srv.URL, nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	local := LocalQueryFunc(e.eng, e.st)
	for _, q := range []string{`a`, `sum(rate(a[1m]))`, `a > 100`, `scalar(b)`, `b + on() group_left a`, `label_replace(a, "y", "$1", "x", "(.*)")`, `vector(1)`} {
		lv, lerr := local(context.Background(), q, now)
		rv, rerr := remote(context.Background(), q, now)
		if (lerr != nil) != (rerr != nil) {
			t.Errorf("%s: local err %v, remote err %v", q, lerr, rerr)
			continue
		}
		if lerr != nil {
			continue
		}
		if len(lv) != len(rv) {
			t.Errorf("%s: local %v, remote %v", q, lv, rv)
			continue
		}
		for i := range lv {
			if !labels.Equal(lv[i].Metric, rv[i].Metric) || lv[i].F != rv[i].F || lv[i].T != rv[i].T {
				t.Errorf("%s: [%d] local %v, remote %v", q, i, lv[i], rv[i])
			}
		}
	}
	// Errors are reported, not an empty result.
	if _, err := remote(context.Background(), `sum(`, now); err == nil {
		t.Errorf("a bad query gave no error")
	}
	if _, err := remote(context.Background(), `a[1m]`, now); err == nil {
		t.Errorf("a range vector gave no error")
	}
}

var _ = model.Time(0)

// A failed start stops an Evaluator that never ran: that must not hang,
// and a late Run must return.
func TestStopBeforeRun(t *testing.T) {
	st := teststorage.New(t)
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute})
	ev, err := New(Options{QueryFunc: LocalQueryFunc(eng, st), Appendable: st})
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Update([]string{filepath.Join("testdata", "*.yml")}, 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		ev.Stop()
		ev.Stop()
		ev.Run()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop before Run hangs")
	}
	if err := ev.Update([]string{filepath.Join("testdata", "nope-*.yml")}, 0); err != nil {
		t.Errorf("a pattern matching nothing: %v", err)
	}
	if err := ev.Check([]string{"[bad"}); err == nil {
		t.Errorf("a bad pattern gave no error")
	}
}
