package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/cluster"
)

// ClusterConfig is alerting.cluster: the in-process Alertmanager as one
// replica of an Alertmanager cluster (Alertmanager's --cluster.* flags),
// so that N replicas page once. Off unless listen is set.
type ClusterConfig struct {
	// Listen is the gossip address, TCP and UDP ("0.0.0.0:9094"); ""
	// disables clustering.
	Listen string `yaml:"listen"`
	// Advertise is the host:port the other replicas reach this one on;
	// "" derives it from listen (needed when listen is 0.0.0.0 behind
	// NAT or with several interfaces: set it to $(POD_IP):9094).
	Advertise string `yaml:"advertise"`
	// Peers are host:port of the other replicas (DNS names resolved at
	// start and every 15 s; a headless Service name resolves to all).
	Peers []string `yaml:"peers"`
	// PeerName orders the replicas (the first by name pages first); ""
	// means $POD_NAME, then the host name.
	PeerName string `yaml:"peer_name"`
	// PeerTimeout is how long each replica waits after the one before it
	// before sending a notification itself.
	PeerTimeout time.Duration `yaml:"peer_timeout"`
	// SettleTimeout bounds the wait at start for the gossip to settle:
	// nothing is sent and /-/ready says not ready before.
	SettleTimeout time.Duration `yaml:"settle_timeout"`
	// GossipInterval, PushPullInterval, ReconnectInterval and
	// ReconnectTimeout are Alertmanager's flags of the same names.
	GossipInterval    time.Duration `yaml:"gossip_interval"`
	PushPullInterval  time.Duration `yaml:"pushpull_interval"`
	ReconnectInterval time.Duration `yaml:"reconnect_interval"`
	ReconnectTimeout  time.Duration `yaml:"reconnect_timeout"`
	// Label is sent on every gossip packet; replicas with another label
	// are ignored, so two clusters on one network cannot merge.
	Label string `yaml:"label"`
	// TLSConfigFile is Alertmanager's --cluster.tls-config file
	// (tls_server_config and tls_client_config): mutual TLS for gossip.
	TLSConfigFile Path `yaml:"tls_config_file"`
}

// SetDefaults sets Alertmanager's defaults, except reconnect_timeout:
// 5m (as prometheus-operator sets it) rather than 6h, so that a replica
// lost with its spot node stops being dialled soon.
func (c *ClusterConfig) SetDefaults() {
	c.PeerTimeout = 15 * time.Second
	c.SettleTimeout = time.Minute
	c.GossipInterval = 200 * time.Millisecond
	c.PushPullInterval = time.Minute
	c.ReconnectInterval = 10 * time.Second
	c.ReconnectTimeout = 5 * time.Minute
}

// Enabled reports whether clustering is on.
func (c *ClusterConfig) Enabled() bool { return c.Listen != "" }

// Validate checks what types alone cannot.
func (c *ClusterConfig) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Listen); err != nil || !validPort(port, 1) {
			add(Fieldf("listen", `expected host:port like "0.0.0.0:9094", got %s`, quote(c.Listen)))
		}
	}
	if c.Advertise != "" {
		add(checkDialAddr("advertise", c.Advertise, "10.0.0.7:9094"))
	}
	for i, p := range c.Peers {
		add(checkDialAddr(fmt.Sprintf("peers[%d]", i), p, "copenhagen-alerting-0.copenhagen-alerting:9094"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"peer_timeout", c.PeerTimeout},
		{"settle_timeout", c.SettleTimeout},
		{"gossip_interval", c.GossipInterval},
		{"pushpull_interval", c.PushPullInterval},
		{"reconnect_interval", c.ReconnectInterval},
		{"reconnect_timeout", c.ReconnectTimeout},
	} {
		if d.v <= 0 {
			add(Fieldf(d.name, "must be greater than 0"))
		}
	}
	if strings.ContainsAny(c.PeerName, " \t\n") {
		add(Fieldf("peer_name", "must not contain spaces, got %s", quote(c.PeerName)))
	}
	if err := checkReadable("tls_config_file", c.TLSConfigFile); err != nil {
		add(err)
	} else if c.TLSConfigFile != "" {
		// Alertmanager's own loader, so that check config refuses what
		// the gossip transport would (run and check must agree).
		if _, err := cluster.GetTLSTransportConfig(string(c.TLSConfigFile)); err != nil {
			add(Fieldf("tls_config_file", "%v", err))
		}
	}
	if c.Listen == "" && (len(c.Peers) > 0 || c.Advertise != "") {
		add(Fieldf("listen", `peers and advertise need listen (e.g. "0.0.0.0:9094"): clustering is off without it`))
	}
	return errors.Join(errs...)
}

func checkDialAddr(field, addr, example string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || !validPort(port, 1) || strings.ContainsAny(host, " \t") {
		return Fieldf(field, "expected host:port like %q, got %s", example, quote(addr))
	}
	return nil
}

// trimDNSPrefix strips the dns+ or dnssrv+ of a DNS-based Alertmanager
// URL, leaving what must be an http(s) URL.
func trimDNSPrefix(s string) string {
	for _, p := range []string{"dns+", "dnssrv+"} {
		if strings.HasPrefix(s, p) {
			return s[len(p):]
		}
	}
	return s
}
