package routing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/prometheus/alertmanager/cluster"
	"github.com/prometheus/alertmanager/notify"
)

// ClusterOptions makes a Router one replica of an Alertmanager cluster
// (Options.Cluster; nil means no cluster). The fields are Alertmanager's
// --cluster.* flags, with its defaults for the zero values, and the
// wiring is that of Alertmanager's app package (v0.35 app/app.go):
// cluster.Create, the notification log ("nfl") and silences ("sil")
// added as gossiped states before Join, Settle in the background,
// ClusterGossipSettleStage holding every notification until settled, and
// each replica waiting its position times PeerTimeout before it sends, so
// that the first replica pages and the others find its notification in
// the gossiped log.
type ClusterOptions struct {
	// Listen is the gossip host:port (TCP and UDP), "0.0.0.0:9094".
	Listen string
	// Advertise is the host:port other replicas reach this one on; ""
	// derives it from Listen (a private address of this host when Listen
	// is unspecified).
	Advertise string
	// Peers are host:port of the other replicas; DNS names are resolved
	// at start and every 15 s (a headless Service name resolves to all).
	Peers []string
	// PeerName names this replica; the cluster orders replicas by name
	// (position 0 sends first). "" makes up a random one.
	PeerName string
	// PeerTimeout is how long each position waits after the previous one
	// before it sends (Alertmanager's default 15 s).
	PeerTimeout time.Duration
	// SettleTimeout bounds the wait for the gossip to settle at start
	// (Alertmanager's default: the push-pull interval, 1 m). Nothing is
	// sent before, and Ready reports false.
	SettleTimeout time.Duration
	// GossipInterval, PushPullInterval, ReconnectInterval,
	// ReconnectTimeout, TCPTimeout, ProbeTimeout, ProbeInterval and
	// ResolveTimeout are memberlist's and the peer's timings.
	GossipInterval    time.Duration
	PushPullInterval  time.Duration
	ReconnectInterval time.Duration
	ReconnectTimeout  time.Duration
	TCPTimeout        time.Duration
	ProbeTimeout      time.Duration
	ProbeInterval     time.Duration
	ResolveTimeout    time.Duration
	// Label is put on every gossip packet; replicas with another label
	// are ignored, so two clusters on one network cannot merge.
	Label string
	// TLSConfigFile is Alertmanager's --cluster.tls-config file
	// (tls_server_config and tls_client_config): mutual TLS for gossip.
	TLSConfigFile string
}

// withDefaults fills the zero values with Alertmanager's flag defaults.
func (c ClusterOptions) withDefaults() ClusterOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PeerTimeout, 15*time.Second)
	def(&c.GossipInterval, cluster.DefaultGossipInterval)
	def(&c.PushPullInterval, cluster.DefaultPushPullInterval)
	def(&c.SettleTimeout, c.PushPullInterval)
	def(&c.ReconnectInterval, cluster.DefaultReconnectInterval)
	def(&c.ReconnectTimeout, cluster.DefaultReconnectTimeout)
	def(&c.TCPTimeout, cluster.DefaultTCPTimeout)
	def(&c.ProbeTimeout, cluster.DefaultProbeTimeout)
	def(&c.ProbeInterval, cluster.DefaultProbeInterval)
	def(&c.ResolveTimeout, cluster.DefaultResolvePeersTimeout)
	return c
}

// createPeer is app.go's cluster.Create call: it binds the gossip port
// and resolves the peers, but does not join yet (the states must be
// added first).
func (r *Router) createPeer(c ClusterOptions, reg prometheus.Registerer) error {
	tlsCfg, err := cluster.GetTLSTransportConfig(c.TLSConfigFile)
	if err != nil {
		return fmt.Errorf("alerting cluster tls_config_file: %w", err)
	}
	peer, err := cluster.Create(
		r.logger.With("component", "cluster"),
		reg,
		c.Listen,
		c.Advertise,
		c.Peers,
		true,
		c.PushPullInterval,
		c.GossipInterval,
		c.TCPTimeout,
		c.ResolveTimeout,
		c.ProbeTimeout,
		c.ProbeInterval,
		tlsCfg,
		false,
		c.Label,
		c.PeerName,
	)
	if err != nil {
		return fmt.Errorf("alerting cluster: %w", err)
	}
	enabled := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "alertmanager_cluster_enabled",
		Help: "Indicates whether the clustering is enabled or not.",
	})
	enabled.Set(1)
	if err := reg.Register(enabled); err != nil {
		_ = peer.Leave(0)
		return err
	}
	r.peer = peer
	return nil
}

// joinCluster gossips the notification log and silences, joins the
// peers and settles in the background, as app.go does once the states
// exist.
func (r *Router) joinCluster(c ClusterOptions, reg prometheus.Registerer) {
	nfl := r.peer.AddState("nfl", r.nflog, reg)
	r.nflog.SetBroadcast(nfl.Broadcast)
	sil := r.peer.AddState("sil", r.silences, reg)
	r.silences.SetBroadcast(sil.Broadcast)
	if err := r.peer.Join(c.ReconnectInterval, c.ReconnectTimeout); err != nil {
		// Not fatal, as in Alertmanager: the peer keeps reconnecting.
		r.logger.Warn("unable to join gossip mesh", "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.SettleTimeout)
	r.settleCancel = cancel
	go r.peer.Settle(ctx, c.GossipInterval*10)
}

// leaveCluster is the last step of Stop, as in Alertmanager.
func (r *Router) leaveCluster() error {
	if r.peer == nil {
		return nil
	}
	if r.settleCancel != nil {
		r.settleCancel()
	}
	if err := r.peer.Leave(10 * time.Second); err != nil {
		return fmt.Errorf("unable to leave gossip mesh: %w", err)
	}
	return nil
}

// apiPeer is the peer for the API (/api/v2/status): a nil interface,
// not a nil *cluster.Peer, when there is no cluster.
func (r *Router) apiPeer() cluster.ClusterPeer {
	if r.peer == nil {
		return nil
	}
	return r.peer
}

// pipelinePeer is the peer for ClusterGossipSettleStage, nil-interface
// likewise.
func (r *Router) pipelinePeer() notify.Peer {
	if r.peer == nil {
		return nil
	}
	return r.peer
}

// wait is app/cluster.go's clusterWait: position times peer_timeout.
func (r *Router) wait() time.Duration {
	if r.peer == nil {
		return 0
	}
	return time.Duration(r.peer.Position()) * r.peerTimeout
}

// Ready reports whether the Router may send: always without a cluster,
// once the gossip settled (or SettleTimeout passed) with one. /-/ready
// follows it, so a rolling restart waits for each replica to settle.
func (r *Router) Ready() bool { return r.peer == nil || r.peer.Ready() }

// ClusterStatus is "disabled", "settling" or "ready".
func (r *Router) ClusterStatus() string {
	if r.peer == nil {
		return "disabled"
	}
	return r.peer.Status()
}

// Peer is the cluster peer, nil without a cluster.
func (r *Router) Peer() *cluster.Peer { return r.peer }

var errNoListen = errors.New("alerting cluster: listen is required")
