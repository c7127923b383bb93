package evaluate

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/notifier"
)

// AlertmanagerTarget is one external Alertmanager set (alerting.alertmanagers
// entry): every URL gets every alert, as Prometheus sends to every member
// of an Alertmanager cluster.
type AlertmanagerTarget struct {
	// URLs are base URLs sharing scheme and path: "http://am-1:9093". A
	// URL prefixed "dns+" ("dns+http://copenhagen-alerting:9095") is
	// every address its host name resolves to (A/AAAA, e.g. a headless
	// Service: every replica of an HA tier), "dnssrv+" every target of
	// its SRV record; both are resolved again every DNSRefreshInterval.
	URLs    []string
	Timeout time.Duration
	// HTTPClient holds credentials (files only) and TLS, Prometheus's
	// http_config.
	HTTPClient commoncfg.HTTPClientConfig
}

// Alertmanagers sends alerts to external Alertmanagers with Prometheus's
// notifier (queue, batching, per-Alertmanager send loops, the
// prometheus_notifications_* metrics); it is an alerting.Sender.
type Alertmanagers struct {
	mgr     *notifier.Manager
	tsets   chan map[string][]*targetgroup.Group
	done    chan struct{}
	running atomic.Bool

	// DNS-based targets (dns.go): the static groups and the names to
	// resolve of the applied configuration.
	targets atomic.Pointer[targetSet]
	resolve chan struct{}
	stopc   chan struct{}
}

// NewAlertmanagers builds the notifier; Run starts it. queueCapacity 0
// means Prometheus's default (10 000 alerts).
func NewAlertmanagers(queueCapacity int, reg prometheus.Registerer, logger *slog.Logger) *Alertmanagers {
	if queueCapacity <= 0 {
		queueCapacity = 10000
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Alertmanagers{
		mgr: notifier.NewManager(&notifier.Options{
			QueueCapacity:   queueCapacity,
			DrainOnShutdown: true,
			Registerer:      reg,
			MaxBatchSize:    notifier.DefaultMaxBatchSize,
		}, model.UTF8Validation, logger.With("component", "notifier")),
		tsets:   make(chan map[string][]*targetgroup.Group, 1),
		done:    make(chan struct{}),
		resolve: make(chan struct{}, 1),
		stopc:   make(chan struct{}),
	}
}

// Prepare turns targets into Prometheus's alerting configuration and
// checks it, for the first phase of a reload; the returned func applies
// it.
func (a *Alertmanagers) Prepare(targets []AlertmanagerTarget) (apply func() error, err error) {
	cfg := promconfig.DefaultConfig
	tgs := map[string][]*targetgroup.Group{}
	var names []dnsName
	for i, t := range targets {
		if len(t.URLs) == 0 {
			return nil, fmt.Errorf("alertmanagers[%d]: no URL", i)
		}
		amc := promconfig.DefaultAlertmanagerConfig
		amc.HTTPClientConfig = t.HTTPClient
		if err := amc.HTTPClientConfig.Validate(); err != nil {
			return nil, fmt.Errorf("alertmanagers[%d]: %w", i, err)
		}
		if t.Timeout > 0 {
			amc.Timeout = model.Duration(t.Timeout)
		}
		amc.APIVersion = promconfig.AlertmanagerAPIVersionV2
		g := &targetgroup.Group{Source: fmt.Sprintf("alertmanagers[%d]", i)}
		for j, s := range t.URLs {
			var srv, isDNS bool
			switch {
			case strings.HasPrefix(s, "dns+"):
				s, isDNS = strings.TrimPrefix(s, "dns+"), true
			case strings.HasPrefix(s, "dnssrv+"):
				s, isDNS, srv = strings.TrimPrefix(s, "dnssrv+"), true, true
			}
			u, err := url.Parse(s)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("alertmanagers[%d].urls[%d]: not a URL", i, j)
			}
			if j == 0 {
				amc.Scheme = u.Scheme
				amc.PathPrefix = strings.TrimSuffix(u.Path, "/")
			} else if u.Scheme != amc.Scheme || strings.TrimSuffix(u.Path, "/") != amc.PathPrefix {
				return nil, fmt.Errorf("alertmanagers[%d].urls[%d]: scheme and path differ from urls[0]", i, j)
			}
			if isDNS {
				if !srv && u.Port() == "" {
					return nil, fmt.Errorf("alertmanagers[%d].urls[%d]: a dns+ URL needs a port", i, j)
				}
				names = append(names, dnsName{key: fmt.Sprintf("config-%d", i), host: u.Hostname(), port: u.Port(), srv: srv})
				continue
			}
			g.Targets = append(g.Targets, model.LabelSet{model.AddressLabel: model.LabelValue(u.Host)})
		}
		cfg.AlertingConfig.AlertmanagerConfigs = append(cfg.AlertingConfig.AlertmanagerConfigs, &amc)
		tgs[fmt.Sprintf("config-%d", i)] = []*targetgroup.Group{g}
	}
	return func() error {
		if err := a.mgr.ApplyConfig(&cfg); err != nil {
			return err
		}
		a.targets.Store(&targetSet{static: tgs, names: names})
		if len(names) == 0 {
			a.push(tgs)
			return nil
		}
		// Resolved by the refresh loop (Run), at once.
		select {
		case a.resolve <- struct{}{}:
		default:
		}
		return nil
	}, nil
}

// Run sends until Stop; it blocks.
func (a *Alertmanagers) Run() {
	a.running.Store(true)
	defer close(a.done)
	go a.refreshDNS()
	a.mgr.Run(a.tsets)
}

// Stop stops accepting alerts and waits (bounded by each Alertmanager's
// timeout) for queued ones to be sent.
func (a *Alertmanagers) Stop() {
	select {
	case <-a.stopc:
	default:
		close(a.stopc)
	}
	a.mgr.Stop()
	if !a.running.Load() {
		return
	}
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
	}
}

// Send queues alerts for every Alertmanager; it never blocks on the
// network (a full queue drops the oldest, counted in
// prometheus_notifications_dropped_total).
func (a *Alertmanagers) Send(alerts ...*notifier.Alert) { a.mgr.Send(alerts...) }

// Alertmanagers lists the Alertmanagers in use, for /api/v1/alertmanagers.
func (a *Alertmanagers) Alertmanagers() []*url.URL { return a.mgr.Alertmanagers() }

// DroppedAlertmanagers is always empty: there is no relabelling.
func (a *Alertmanagers) DroppedAlertmanagers() []*url.URL { return a.mgr.DroppedAlertmanagers() }
