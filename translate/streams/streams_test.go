package streams

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestAppName(t *testing.T) {
	for pod, want := range map[string]string{
		"web-7d4b9c8f6d-x2x9k":         "web",         // deployment
		"api-gateway-5c9d8f7b6d-k2j4m": "api-gateway", // deployment, dashed name
		"fluent-bit-7xk2p":             "fluent-bit",  // daemonset
		"backup-8v4kq":                 "backup",      // job
		"report-28712345-l2c4x":        "report",      // cronjob
		"mysql-0":                      "mysql",       // statefulset
		"redis-node-12":                "redis-node",  // statefulset
		"web-proxy":                    "web-proxy",   // bare pod: "proxy" has vowels
		"nginx":                        "nginx",
		"static-web-node1":             "static-web-node1",
	} {
		if got := AppName(pod); got != want {
			t.Errorf("AppName(%q) = %q, want %q", pod, got, want)
		}
	}
}

func TestForFilePod(t *testing.T) {
	l := NewLabeler(Options{Node: "node-1"}, nil)
	f := l.ForFile("/var/log/pods/shop_web-7d4b9c8f6d-x2x9k_0f6e-11/php/0.log", nil)
	if want := `{app="web",container="php",job="shop/web",namespace="shop",node="node-1",stream="stderr"}`; f.Labels[2] != want {
		t.Errorf("labels %s, want %s", f.Labels[2], want)
	}
	if len(f.Metadata) != 2 || f.Metadata[0].Value != "web-7d4b9c8f6d-x2x9k" || f.Metadata[1].Value != "0f6e-11" {
		t.Errorf("metadata %v", f.Metadata)
	}
	g := l.ForFile("/var/log/nginx/access.log", map[string]string{"job": "nginx", "env": "prod\"x"})
	if want := `{env="prod\"x",job="nginx",node="node-1"}`; g.Labels[0] != want {
		t.Errorf("VM labels %s, want %s", g.Labels[0], want)
	}
}

func TestLimits(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := NewLabeler(Options{MaxStreams: 4, MaxLabelValueLength: 10}, reg)
	a := l.ForFile("/var/log/pods/ns_a-0_u/c/0.log", nil) // 3 streams
	b := l.ForFile("/var/log/pods/ns_b-0_u/c/0.log", nil) // 3 more: over
	if !strings.Contains(b.Labels[1], `overflow="true"`) {
		t.Errorf("over the limit: %v", b.Labels)
	}
	found := false
	for _, m := range b.Metadata {
		if m.Name == "app" && m.Value == "b" {
			found = true
		}
	}
	if !found {
		t.Errorf("overflowed labels must travel as metadata: %v", b.Metadata)
	}
	a.Release()
	b.Release()
	c := l.ForFile("/var/log/pods/ns_c-0_u/c/0.log", map[string]string{"team": "a-very-long-team-name"})
	if strings.Contains(c.Labels[1], "overflow") || !strings.Contains(c.Labels[1], `team="a-very-lon"`) {
		t.Errorf("after release: %v", c.Labels)
	}
	if got := testutil.ToFloat64(l.limitHits.WithLabelValues("stream_limit")); got != 1 {
		t.Errorf("stream_limit hits %v", got)
	}
	if got := testutil.ToFloat64(l.limitHits.WithLabelValues("label_value_too_long")); got != 1 {
		t.Errorf("label_value_too_long hits %v", got)
	}
}

func TestWithLevelShares(t *testing.T) {
	l := NewLabeler(Options{}, nil)
	f := l.ForFile("/var/log/pods/ns_a-0_u/c/0.log", nil)
	w := NewWithLevel(f.Metadata)
	e1, e2 := w.Get("error"), w.Get("error")
	if &e1[0] != &e2[0] || e1[len(e1)-1].Value != "error" || len(w.Get("")) != 2 {
		t.Error("level metadata not cached or wrong")
	}
}

func BenchmarkForFile(b *testing.B) {
	l := NewLabeler(Options{Node: "n"}, nil)
	b.ReportAllocs()
	for b.Loop() {
		f := l.ForFile("/var/log/pods/shop_web-7d4b9c8f6d-x2x9k_0f6e-11/php/0.log", nil)
		f.Release()
	}
}

func BenchmarkAppName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		AppName("api-gateway-5c9d8f7b6d-k2j4m")
	}
}
