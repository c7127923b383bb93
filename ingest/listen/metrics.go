package listen

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/copenhagen-obs/copenhagen/ingest/sharedmetric"
)

// Drop reasons used in copenhagen_listener_dropped_total.
const (
	ReasonDatagramTruncated = "datagram_truncated" // larger than the read buffer
	ReasonLineTooLong       = "line_too_long"      // TCP line longer than MaxLineLength
	ReasonIncompleteLine    = "incomplete_line"    // TCP connection ended in a line, not at EOF
	ReasonConnectionLimit   = "connection_limit"   // TCP connection refused at MaxConnections
)

// vecs are shared by every listener registered on the same Registerer: the
// StatsD and Graphite listeners expose one family each, told apart by the
// listener label.
type vecs struct {
	datagrams   *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	connections *prometheus.GaugeVec
}

func newVecs(reg prometheus.Registerer) (*vecs, error) {
	v := &vecs{
		datagrams: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_listener_datagrams_received_total",
			Help: "Datagrams read from UDP or unix datagram sockets, including truncated ones.",
		}, []string{"listener"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_listener_bytes_received_total",
			Help: "Bytes read from the listener's sockets.",
		}, []string{"listener"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_listener_dropped_total",
			Help: "Datagrams, lines or connections the listener dropped, by reason.",
		}, []string{"listener", "reason"}),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "copenhagen_listener_connections",
			Help: "Open TCP connections.",
		}, []string{"listener"}),
	}
	if reg == nil {
		return v, nil
	}
	var err error
	if v.datagrams, err = sharedmetric.Register(reg, v.datagrams); err != nil {
		return nil, err
	}
	if v.bytes, err = sharedmetric.Register(reg, v.bytes); err != nil {
		return nil, err
	}
	if v.dropped, err = sharedmetric.Register(reg, v.dropped); err != nil {
		return nil, err
	}
	if v.connections, err = sharedmetric.Register(reg, v.connections); err != nil {
		return nil, err
	}
	return v, nil
}

// counters are one listener's children of the shared vectors, resolved once
// so that readers only do an atomic add per batch.
type counters struct {
	datagrams   prometheus.Counter
	bytes       prometheus.Counter
	truncated   prometheus.Counter
	lineTooLong prometheus.Counter
	incomplete  prometheus.Counter
	connLimit   prometheus.Counter
	connections prometheus.Gauge
}

func newCounters(name string, reg prometheus.Registerer, stream bool) (*counters, error) {
	v, err := newVecs(reg)
	if err != nil {
		return nil, err
	}
	// Only the series that can move for this kind of listener are exposed
	// (at zero from the start, so rate() works from the first drop); the
	// others are counted into collectors nobody registered.
	unused := func() prometheus.Counter { return prometheus.NewCounter(prometheus.CounterOpts{Name: "unused"}) }
	c := &counters{
		bytes:       v.bytes.WithLabelValues(name),
		datagrams:   unused(),
		truncated:   unused(),
		lineTooLong: unused(),
		incomplete:  unused(),
		connLimit:   unused(),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "unused"}),
	}
	if stream {
		c.lineTooLong = v.dropped.WithLabelValues(name, ReasonLineTooLong)
		c.incomplete = v.dropped.WithLabelValues(name, ReasonIncompleteLine)
		c.connLimit = v.dropped.WithLabelValues(name, ReasonConnectionLimit)
		c.connections = v.connections.WithLabelValues(name)
	} else {
		c.datagrams = v.datagrams.WithLabelValues(name)
		c.truncated = v.dropped.WithLabelValues(name, ReasonDatagramTruncated)
	}
	return c, nil
}
