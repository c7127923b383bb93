package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func wantClusterDefault() ClusterConfig {
	return ClusterConfig{
		PeerTimeout:       15 * time.Second,
		SettleTimeout:     time.Minute,
		GossipInterval:    200 * time.Millisecond,
		PushPullInterval:  time.Minute,
		ReconnectInterval: 10 * time.Second,
		ReconnectTimeout:  5 * time.Minute,
	}
}

func TestAlertingClusterConfig(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"alertmanager.yml": "route: {receiver: x}\nreceivers: [{name: x}]\n",
		"gossip-tls.yml":   "tls_server_config: {cert_file: c.pem, key_file: k.pem}\ntls_client_config: {ca_file: ca.pem}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, yml string
		errs      []string // "" entries: want no error
		check     func(t *testing.T, c ClusterConfig)
	}{
		{name: "off by default", yml: "alerting:\n  config_file: alertmanager.yml\n", check: func(t *testing.T, c ClusterConfig) {
			if c.Enabled() || c.Listen != "" {
				t.Errorf("clustering on by default: %+v", c)
			}
		}},
		{name: "valid", yml: `
alerting:
  config_file: alertmanager.yml
  alertmanagers:
    - urls: ["dns+http://copenhagen-alerting-gossip.copenhagen.svc:9095"]
    - urls: ["dnssrv+http://_http._tcp.copenhagen-alerting"]
  cluster:
    listen: 0.0.0.0:9094
    advertise: 10.0.0.7:9094
    peers: [copenhagen-alerting-0.copenhagen-alerting:9094, "10.0.0.8:9094"]
    peer_name: copenhagen-alerting-1
    peer_timeout: 5s
    settle_timeout: 30s
    gossip_interval: 100ms
    reconnect_timeout: 10m
    label: copenhagen/alerting
    tls_config_file: gossip-tls.yml
`, check: func(t *testing.T, c ClusterConfig) {
			if !c.Enabled() || c.PeerTimeout != 5*time.Second || c.ReconnectTimeout != 10*time.Minute || len(c.Peers) != 2 ||
				c.PushPullInterval != time.Minute || string(c.TLSConfigFile) != filepath.Join(dir, "gossip-tls.yml") {
				t.Errorf("values: %+v", c)
			}
		}},
		{name: "no in-process routing", yml: "alerting:\n  cluster:\n    listen: :9094\n", errs: []string{"alerting.cluster.listen: clusters the in-process Alertmanager"}},
		{name: "bad", yml: `
alerting:
  config_file: alertmanager.yml
  cluster:
    listen: "9094"
    advertise: ":9094"
    peers: ["peer-without-port"]
    peer_name: "two words"
    peer_timeout: 0s
    settle_timeout: -1s
    gossip_interval: 0s
    tls_config_file: missing-tls.yml
`, errs: []string{"alerting.cluster.listen", "alerting.cluster.advertise", "alerting.cluster.peers[0]", "alerting.cluster.peer_name",
			"alerting.cluster.peer_timeout", "alerting.cluster.settle_timeout", "alerting.cluster.gossip_interval", "alerting.cluster.tls_config_file"}},
		{name: "bad tls file", yml: "alerting:\n  config_file: alertmanager.yml\n  cluster:\n    listen: :9094\n    tls_config_file: alertmanager.yml\n",
			errs: []string{"alerting.cluster.tls_config_file: yaml: unmarshal errors"}},
		{name: "peers without listen", yml: "alerting:\n  config_file: alertmanager.yml\n  cluster:\n    peers: [a:9094]\n", errs: []string{"alerting.cluster.listen: peers and advertise need listen"}},
		{name: "bad dns url", yml: "alerting:\n  alertmanagers:\n    - urls: [\"dns+ftp://x:1\"]\n", errs: []string{"alerting.alertmanagers[0].urls[0]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yml")
			if err := os.WriteFile(file, []byte(tc.yml), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Load(file)
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c.Alerting.Cluster)
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, e := range tc.errs {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("error does not mention %q:\n%v", e, err)
				}
			}
		})
	}
}

func TestUnixgramMode(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want uint32
		ok   bool
	}{{"", 0, true}, {"0666", 0o666, true}, {"660", 0o660, true}, {"0", 0, false}, {"888", 0, false}, {"01777", 0, false}, {"rw", 0, false}} {
		c := StatsDConfig{UnixgramMode: tc.v}
		m, err := c.SocketMode()
		if (err == nil) != tc.ok || uint32(m) != tc.want {
			t.Errorf("%q: mode %o err %v", tc.v, m, err)
		}
	}
}
