package storage

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/storage"
	yamlv2 "go.yaml.in/yaml/v2"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
)

// Native histograms and remote write.
//
// Prometheus's queue manager does not send native histograms to a target
// whose send_native_histograms is false, and does not count them either:
// its WAL watcher does not even read histogram records for such a queue,
// so prometheus_remote_storage_histograms_dropped_total stays at 0. A
// StatsD timer mapped to a native histogram would then reach the local
// TSDB and nothing else, silently. The storage counts those histograms
// itself, per target, when they are committed (what the WAL holds is what
// the queue would have read), and says so in a rate-limited log line.

// SkippedNotSent is the reason label of
// copenhagen_remote_write_histograms_skipped_total for a target whose
// send_native_histograms is false.
const SkippedNotSent = "send_native_histograms_false"

// skipLogEvery is how often at most the skip is logged, per target.
const skipLogEvery = time.Minute

// histogramSkips counts, per remote write target that does not take native
// histograms, the histogram samples committed while it is configured.
type histogramSkips struct {
	vec     *prometheus.CounterVec
	logger  *slog.Logger
	targets atomic.Pointer[[]*skipTarget] // replaced by ApplyRemoteWrite
}

// skipTarget is one target that does not receive native histograms.
type skipTarget struct {
	name, url string
	skipped   prometheus.Counter
	log       *ratelog.Limiter
}

func newHistogramSkips(reg prometheus.Registerer, logger *slog.Logger) *histogramSkips {
	s := &histogramSkips{
		vec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_remote_write_histograms_skipped_total",
			Help: "Native histogram samples committed to the storage that a remote write target does not receive, by reason (send_native_histograms_false: the target's send_native_histograms is false, and Prometheus's queue manager skips them without counting).",
		}, []string{"remote_name", "url", "reason"}),
		logger: logger,
	}
	reg.MustRegister(s.vec)
	s.targets.Store(&[]*skipTarget{})
	return s
}

// apply sets the targets from the remote write configs being applied. A
// target that stays keeps its counter and its log limiter.
func (s *histogramSkips) apply(rws []*promconfig.RemoteWriteConfig) error {
	old := map[string]*skipTarget{}
	for _, t := range *s.targets.Load() {
		old[t.name+"\x00"+t.url] = t
	}
	var next []*skipTarget
	for _, rw := range rws {
		if rw.SendNativeHistograms {
			continue
		}
		name, err := QueueName(rw)
		if err != nil {
			return err
		}
		u := rw.URL.Redacted()
		if t, ok := old[name+"\x00"+u]; ok {
			next = append(next, t)
			continue
		}
		next = append(next, &skipTarget{
			name: name, url: u,
			skipped: s.vec.WithLabelValues(name, u, SkippedNotSent),
			log:     ratelog.New(skipLogEvery),
		})
	}
	s.targets.Store(&next)
	return nil
}

// committed counts n committed histogram samples as skipped by every
// target that does not take them.
func (s *histogramSkips) committed(n int) {
	if n == 0 {
		return
	}
	for _, t := range *s.targets.Load() {
		t.skipped.Add(float64(n))
		t.log.Warn(s.logger, "native histograms are stored locally but not sent to this remote_write target: its send_native_histograms is false",
			"remote_name", t.name, "url", t.url, "histograms", n,
			"hint", "set send_native_histograms: true if the receiver stores native histograms (Prometheus >= 2.40 with --enable-feature=native-histograms, Prometheus 3); see copenhagen_remote_write_histograms_skipped_total")
	}
}

// QueueName is the remote_name label Prometheus gives the queue of rw:
// its name, or the first six hex digits of the hash of its config.
func QueueName(rw *promconfig.RemoteWriteConfig) (string, error) {
	if rw.Name != "" {
		return rw.Name, nil
	}
	h, err := configHash(rw)
	if err != nil {
		return "", err
	}
	return h[:6], nil
}

// histogramCount counts the histogram samples an appender took, for
// histogramSkips at Commit.
type histogramCount struct {
	n     int
	skips *histogramSkips
}

func (c *histogramCount) add(err error) {
	var partial *storage.AppendPartialError
	if err == nil || errors.As(err, &partial) { // partial: the sample is in, an exemplar is not
		c.n++
	}
}

func (c *histogramCount) commit(err error) error {
	if err == nil {
		c.skips.committed(c.n)
	}
	c.n = 0
	return err
}

// configHash is remote.Storage's hash of a remote write config (md5 of its
// YAML, with the YAML library Prometheus uses there), from which a queue
// without a name takes its remote_name.
func configHash(rw *promconfig.RemoteWriteConfig) (string, error) {
	b, err := yamlv2.Marshal(rw)
	if err != nil {
		return "", err
	}
	h := md5.Sum(b)
	return hex.EncodeToString(h[:]), nil
}
