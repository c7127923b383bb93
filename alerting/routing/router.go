// Package routing runs Alertmanager in-process: the alerts that rule
// evaluation fires go through Alertmanager's own route tree, grouping,
// inhibition, time intervals, silences and notification log, and out
// through its integrations (Slack, PagerDuty, email, webhook), so that a
// configuration written for Alertmanager (the Seyren import writes one)
// behaves exactly as it would in a separate Alertmanager, without running
// one.
//
// The wiring follows Alertmanager's own app package (app/app.go and
// app/reloader.go in v0.35): long-lived state (alert provider, silences,
// notification log, API) is built once; the configuration-scoped part
// (templates, receivers, pipeline, inhibitor, dispatcher) is rebuilt and
// swapped on every reload. With Options.Cluster, replicas form an
// Alertmanager cluster with Alertmanager's own cluster package
// (cluster.go): one page per alert, whichever replicas receive it.
package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"

	amalert "github.com/prometheus/alertmanager/alert"
	apiv2 "github.com/prometheus/alertmanager/api/v2"
	"github.com/prometheus/alertmanager/cluster"
	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/inhibit"
	"github.com/prometheus/alertmanager/labelset"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/timeinterval"

	"github.com/copenhagen-obs/copenhagen/alerting"
	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
)

// Defaults, those of Alertmanager's flags unless said otherwise.
const (
	DefaultRetention           = 120 * time.Hour
	DefaultMaintenanceInterval = 15 * time.Minute
	DefaultQueueSize           = 10000
	// DefaultResolveTimeout applies to alerts sent without an end time;
	// Prometheus always sets one, so it only matters for other senders.
	DefaultResolveTimeout = 5 * time.Minute
)

// Options configures a Router.
type Options struct {
	// ConfigFile is an Alertmanager configuration file. *_file paths in it
	// are resolved as Alertmanager does (against the working directory,
	// or absolute as the Seyren import writes them).
	ConfigFile string
	// DataDir holds the notification log ("nflog") and silences
	// ("silences") snapshots, written periodically and at Stop, so a
	// restart neither forgets silences nor pages twice.
	DataDir string
	// Retention is how long the notification log remembers a
	// notification and expired silences are kept. It must be at least
	// the longest repeat_interval, or Alertmanager notifies again once it
	// forgot (the Seyren import uses a year). 0 means the longest
	// repeat_interval of the configuration plus a day, at least
	// DefaultRetention, for the notification log, and DefaultRetention
	// for expired silences.
	Retention time.Duration
	// MaintenanceInterval is how often snapshots are written.
	MaintenanceInterval time.Duration
	// ExternalURL is where users reach Copenhagen; notifications link to
	// ExternalURL/alerts.
	ExternalURL *url.URL
	// QueueSize bounds the alerts buffered between Send and the
	// dispatcher; beyond it Send drops (counted) rather than block
	// evaluation. Prometheus resends firing alerts every evaluation, so
	// a drop delays a notification, it does not lose it.
	QueueSize int
	// SeyrenURL is Seyren's base URL for the seyrenUrl field of Seyren
	// HTTP payloads; "" derives it from the seyren_url annotation.
	SeyrenURL string
	// Cluster, when set, makes this Router one replica of a gossip
	// cluster (cluster.go); nil is a single Alertmanager.
	Cluster *ClusterOptions
	// Limits bound the silences the API accepts (limits.go).
	Limits Limits

	Logger     *slog.Logger
	Registerer prometheus.Registerer

	// httpOpts reach every integration's HTTP client; tests use them to
	// point PagerDuty Events v1, whose endpoint is fixed, at a local server.
	httpOpts []commoncfg.HTTPClientOption
}

// Router is an in-process Alertmanager. It implements alerting.Sender.
type Router struct {
	opts   Options
	logger *slog.Logger

	alerts          *mem.Alerts
	silences        *silence.Silences
	silencer        *silence.Silencer
	nflog           *nflog.Log
	api             *apiv2.API
	pipelineBuilder *notify.PipelineBuilder
	dispMetrics     *dispatch.DispatcherMetrics
	recorder        eventrecorder.Recorder
	startTime       time.Time

	peer         *cluster.Peer // nil without a cluster (cluster.go)
	peerTimeout  time.Duration
	settleCancel context.CancelFunc

	mu         sync.Mutex // serialises apply and Stop
	dispatcher atomic.Pointer[dispatch.Dispatcher]
	inhibitor  atomic.Pointer[inhibit.Inhibitor]
	conf       atomic.Pointer[config.Config]
	limits     atomic.Pointer[Limits] // read by silences at every new one
	stopped    bool

	sendMu    sync.RWMutex // guards queue against Send after Stop
	closed    bool
	queue     chan []*amalert.Alert
	queueDone chan struct{}
	stopc     chan struct{}
	wg        sync.WaitGroup

	dropped  *prometheus.CounterVec
	received prometheus.Counter
	dropLog  *ratelog.Limiter // one drop line per 10 s
}

var _ alerting.Sender = (*Router)(nil)

// New loads the configuration, restores silences and the notification
// log from DataDir, and starts routing. Stop releases it.
func New(o Options) (*Router, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.MaintenanceInterval <= 0 {
		o.MaintenanceInterval = DefaultMaintenanceInterval
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.ExternalURL == nil {
		o.ExternalURL = &url.URL{Scheme: "http", Host: "localhost:9095"}
	}
	if o.DataDir == "" {
		return nil, errors.New("routing: DataDir is required")
	}
	conf, err := Validate(o.ConfigFile)
	if err != nil {
		return nil, err
	}
	limits, err := o.Limits.withDefaults()
	if err != nil {
		return nil, err
	}
	// Expired silences are kept for silenceRetention: a year of them
	// (the automatic retention for the Seyren import) would only clutter
	// listings.
	silenceRetention := o.Retention
	if o.Retention <= 0 {
		o.Retention = AutoRetention(conf)
		silenceRetention = DefaultRetention
	}
	if err := os.MkdirAll(o.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("alerting data directory: %w", err)
	}
	r := &Router{
		dropLog:   ratelog.New(10 * time.Second),
		opts:      o,
		logger:    o.Logger,
		startTime: time.Now(),
		queue:     make(chan []*amalert.Alert, o.QueueSize),
		queueDone: make(chan struct{}),
		stopc:     make(chan struct{}),
	}
	r.limits.Store(&limits)
	reg := o.Registerer
	r.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "copenhagen_alerting_dropped_alerts_total",
		Help: "Alerts from rule evaluation that the in-process Alertmanager did not take, by reason.",
	}, []string{"reason"})
	r.received = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "copenhagen_alerting_received_alerts_total",
		Help: "Alerts handed to the in-process Alertmanager by rule evaluation.",
	})
	if err := reg.Register(r.dropped); err != nil {
		return nil, err
	}
	if err := reg.Register(r.received); err != nil {
		return nil, err
	}
	if o.Cluster != nil {
		c := o.Cluster.withDefaults()
		if c.Listen == "" {
			return nil, errNoListen
		}
		o.Cluster, r.opts.Cluster, r.peerTimeout = &c, &c, c.PeerTimeout
		if err := r.createPeer(c, reg); err != nil {
			return nil, err
		}
	}
	ff := featurecontrol.NoopFlags{}
	r.nflog, err = nflog.New(nflog.Options{
		SnapshotFile: filepath.Join(o.DataDir, "nflog"),
		Retention:    o.Retention,
		Logger:       o.Logger.With("component", "nflog"),
		Metrics:      reg,
	})
	if err != nil {
		_ = r.leaveCluster()
		return nil, fmt.Errorf("notification log: %w", err)
	}
	r.silences, err = silence.New(silence.Options{
		SnapshotFile:  filepath.Join(o.DataDir, "silences"),
		Retention:     silenceRetention,
		Logger:        o.Logger.With("component", "silences"),
		Metrics:       reg,
		EventRecorder: r.recorder,
		Limits:        r.silenceLimits(),
	})
	if err != nil {
		_ = r.leaveCluster()
		return nil, fmt.Errorf("silences: %w", err)
	}
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		r.nflog.Maintenance(o.MaintenanceInterval, filepath.Join(o.DataDir, "nflog"), r.stopc, nil)
	}()
	go func() {
		defer r.wg.Done()
		r.silences.Maintenance(o.MaintenanceInterval, filepath.Join(o.DataDir, "silences"), r.stopc, nil)
	}()
	r.silencer = silence.NewSilencer(r.silences, o.Logger, r.recorder)
	if r.peer != nil {
		r.joinCluster(*o.Cluster, reg)
	}
	r.alerts, err = mem.NewAlerts(context.Background(), 30*time.Minute, 0, r.silencer, o.Logger, r.recorder, reg, ff)
	if err != nil {
		r.stopMaintenance()
		_ = r.leaveCluster()
		return nil, fmt.Errorf("alert provider: %w", err)
	}
	r.api, err = apiv2.NewAPI(r.alerts, r.groups, r.silences, r.apiPeer(), o.Logger.With("component", "api"), reg)
	if err != nil {
		r.alerts.Close()
		r.stopMaintenance()
		_ = r.leaveCluster()
		return nil, fmt.Errorf("alertmanager API: %w", err)
	}
	r.pipelineBuilder = notify.NewPipelineBuilder(reg, ff, r.recorder)
	r.dispMetrics = dispatch.NewDispatcherMetrics(false, reg, ff)
	if err := r.apply(conf); err != nil {
		r.alerts.Close()
		r.stopMaintenance()
		_ = r.leaveCluster()
		return nil, err
	}
	go r.feed()
	return r, nil
}

// Validate loads an Alertmanager configuration file the way Alertmanager
// does, and also builds its templates and receivers, so that what it
// accepts will run.
func Validate(file string) (*config.Config, error) {
	conf, err := config.LoadFile(file)
	if err != nil {
		return nil, fmt.Errorf("alerting.config_file: %w", locate(file, err))
	}
	if err := checkTemplates(conf); err != nil {
		return nil, fmt.Errorf("alerting.config_file: %w", locate(file, err))
	}
	if _, _, err := buildReceivers(conf, nil, slog.New(slog.DiscardHandler), "", nil); err != nil {
		return nil, fmt.Errorf("alerting.config_file: %w", locate(file, err))
	}
	return conf, nil
}

// AutoRetention is the notification log retention that keeps "notify
// once" true for conf: the longest repeat_interval plus a day, and at
// least Alertmanager's default.
func AutoRetention(conf *config.Config) time.Duration {
	ret := DefaultRetention
	dispatch.NewRoute(conf.Route, nil).Walk(func(rt *dispatch.Route) {
		if d := rt.RouteOpts.RepeatInterval + 24*time.Hour; d > ret {
			ret = d
		}
	})
	return ret
}

// Prepare validates file and limits for a reload; the returned commit
// applies both. A file that does not load, or limits that are not valid,
// leave the running configuration and limits untouched.
func (r *Router) Prepare(file string, limits Limits) (commit func() error, err error) {
	conf, err := Validate(file)
	if err != nil {
		return nil, err
	}
	if limits, err = limits.withDefaults(); err != nil {
		return nil, err
	}
	return func() error {
		if err := r.apply(conf); err != nil {
			return err
		}
		r.limits.Store(&limits)
		return nil
	}, nil
}

// apply mirrors Alertmanager's app/reloader.go: every fallible step
// first, then stop the old inhibitor and dispatcher and start new ones.
func (r *Router) apply(conf *config.Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return errors.New("routing: stopped")
	}
	receivers, tmpl, err := buildReceivers(conf, r.opts.ExternalURL, r.logger, r.opts.SeyrenURL, r.opts.httpOpts)
	if err != nil {
		return err
	}
	routes := dispatch.NewRoute(conf.Route, nil)
	intervals := make(map[string][]timeinterval.TimeInterval, len(conf.MuteTimeIntervals)+len(conf.TimeIntervals))
	for _, ti := range conf.MuteTimeIntervals {
		intervals[ti.Name] = ti.TimeIntervals
	}
	for _, ti := range conf.TimeIntervals {
		intervals[ti.Name] = ti.TimeIntervals
	}
	intervener := timeinterval.NewIntervener(intervals)

	if old := r.inhibitor.Load(); old != nil {
		old.Stop()
	}
	if old := r.dispatcher.Load(); old != nil {
		old.Stop()
	}
	inhibitor := inhibit.NewInhibitor(r.alerts, conf.InhibitRules, r.logger, r.recorder)
	pipeline := r.pipelineBuilder.New(receivers, r.wait, inhibitor, r.silencer, intervener, r.nflog, r.pipelinePeer())
	r.api.Update(conf, func(ctx context.Context, labels labelset.LabelSet) {
		r.inhibitor.Load().Mutes(ctx, labels)
		r.silencer.Mutes(ctx, labels)
	})
	timeout := func(d time.Duration) time.Duration { return max(d, notify.MinTimeout) + r.wait() }
	d := dispatch.NewDispatcher(r.alerts, routes, pipeline, intervener, timeout, 30*time.Second, nil, r.logger, r.recorder, r.dispMetrics, tmpl)
	routes.Walk(func(rt *dispatch.Route) {
		if rt.RouteOpts.RepeatInterval > r.opts.Retention {
			r.logger.Warn("repeat_interval is longer than alerting.retention: notifications will repeat when the notification log forgets them",
				"repeat_interval", rt.RouteOpts.RepeatInterval, "retention", r.opts.Retention, "route", rt.Key())
		}
	})
	go inhibitor.Run()
	inhibitor.WaitForLoading()
	r.inhibitor.Store(inhibitor)
	go d.Run(r.startTime)
	d.WaitForLoading()
	r.dispatcher.Store(d)
	r.conf.Store(conf)
	return nil
}

func (r *Router) groups(ctx context.Context, routeFilter func(*dispatch.Route) bool, alertFilter dispatch.AlertFilter) (dispatch.AlertGroups, map[model.Fingerprint][]string, error) {
	d := r.dispatcher.Load()
	if d == nil {
		return nil, nil, errors.New("routing: not started")
	}
	return d.Groups(ctx, routeFilter, alertFilter)
}

// Send queues alerts for the dispatcher and returns at once: a slow
// receiver, or a dispatcher busy with a reload, never holds up rule
// evaluation. When the queue is full the alerts are dropped and counted;
// Prometheus resends firing alerts at every evaluation.
func (r *Router) Send(alerts ...*notifier.Alert) {
	if len(alerts) == 0 {
		return
	}
	now := time.Now()
	batch := make([]*amalert.Alert, 0, len(alerts))
	for _, a := range alerts {
		if a == nil {
			continue
		}
		ls := make(model.LabelSet, a.Labels.Len())
		a.Labels.Range(func(l labels.Label) { ls[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
		if err := ls.Validate(); err != nil || len(ls) == 0 {
			r.dropped.WithLabelValues("invalid").Inc()
			r.logDrop("invalid alert labels", "err", err)
			continue
		}
		ann := make(model.LabelSet, a.Annotations.Len())
		a.Annotations.Range(func(l labels.Label) { ann[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
		m := model.Alert{
			Labels:       ls,
			Annotations:  ann,
			StartsAt:     a.StartsAt,
			EndsAt:       a.EndsAt,
			GeneratorURL: a.GeneratorURL,
		}
		// What Alertmanager's API does with posted alerts.
		if m.StartsAt.IsZero() {
			if m.EndsAt.IsZero() {
				m.StartsAt = now
			} else {
				m.StartsAt = m.EndsAt
			}
		}
		timeout := false
		if m.EndsAt.IsZero() {
			timeout = true
			m.EndsAt = now.Add(DefaultResolveTimeout)
		}
		batch = append(batch, amalert.New(m, now, timeout))
	}
	if len(batch) == 0 {
		return
	}
	r.sendMu.RLock()
	defer r.sendMu.RUnlock()
	if r.closed {
		r.dropped.WithLabelValues("stopped").Add(float64(len(batch)))
		return
	}
	r.received.Add(float64(len(batch)))
	select {
	case r.queue <- batch:
	default:
		r.dropped.WithLabelValues("queue_full").Add(float64(len(batch)))
		r.logDrop("alert queue full, alerts dropped until the dispatcher catches up; they are sent again at the next evaluation", "alerts", len(batch))
	}
}

// logDrop logs at most once every 10 seconds.
func (r *Router) logDrop(msg string, args ...any) { r.dropLog.Warn(r.logger, msg, args...) }

// feed moves queued alerts into the provider; Put blocks while the
// dispatcher's subscription channel is full, which is why it happens here
// and not in Send.
func (r *Router) feed() {
	defer close(r.queueDone)
	for batch := range r.queue {
		if err := r.alerts.Put(context.Background(), batch...); err != nil {
			r.dropped.WithLabelValues("provider").Add(float64(len(batch)))
			r.logDrop("alert provider refused alerts", "err", err)
		}
	}
}

// Stop flushes queued alerts into the dispatcher, stops it, and writes
// the notification log and silences snapshots.
func (r *Router) Stop() error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return nil
	}
	r.stopped = true
	r.mu.Unlock()
	r.sendMu.Lock()
	r.closed = true
	close(r.queue)
	r.sendMu.Unlock()
	<-r.queueDone
	if i := r.inhibitor.Load(); i != nil {
		i.Stop()
	}
	if d := r.dispatcher.Load(); d != nil {
		d.Stop()
	}
	r.alerts.Close()
	r.stopMaintenance()
	return r.leaveCluster()
}

func (r *Router) stopMaintenance() {
	close(r.stopc)
	r.wg.Wait()
}

// APIHandler serves Alertmanager's API v2 under /api/v2/ (what amtool
// and Grafana's Alertmanager data source use).
func (r *Router) APIHandler() http.Handler { return r.api.Handler }

// Config is the configuration running now.
func (r *Router) Config() *config.Config { return r.conf.Load() }
