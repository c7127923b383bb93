package main

import (
	"context"
	enc "encoding/binary"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/copenhagen-obs/copenhagen/ingest/relay/relaytest"
)

// graphiteYAML binds the Graphite listeners to free loopback ports.
const graphiteYAML = "graphite:\n  tcp: 127.0.0.1:0\n  udp: 127.0.0.1:0\n  pickle: 127.0.0.1:0\n"

func startGraphite(t *testing.T, extra string) (*running, *graphiteWiring) {
	t.Helper()
	// An explicit data directory per test: the default "data" is not
	// resolved against the config file's directory when it is a default.
	r := start(t, graphiteYAML+extra+"storage:\n  path: "+t.TempDir()+"\n")
	w := r.app.graphite
	if w == nil {
		t.Fatal("buildGraphite did not run")
	}
	if r.app.storage == nil {
		t.Fatal("no storage: the Graphite end-to-end tests need the embedded TSDB")
	}
	return r, w
}

type stored struct {
	series string
	t      int64
	v      float64
}

func (s stored) String() string { return fmt.Sprintf("%s@%d=%v", s.series, s.t, s.v) }

// storedSamples reads every sample of the series whose name matches re
// back from the app's storage.
func storedSamples(t *testing.T, r *running, nameRe string) []stored {
	t.Helper()
	q, err := r.app.storage.Querier(0, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, nameRe))
	var out []stored
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		for it.Next() != 0 {
			ts, v := it.At()
			out = append(out, stored{s.Labels().String(), ts, v})
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].series != out[j].series {
			return out[i].series < out[j].series
		}
		return out[i].t < out[j].t
	})
	return out
}

func waitStored(t *testing.T, r *running, nameRe string, want []stored) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := storedSamples(t, r, nameRe)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored:\n  %v\nwant:\n  %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sendTCP(t *testing.T, addr net.Addr, data string) {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
}

func TestGraphitePlaintextTCPAndUDPStoredWithTheirTimestamps(t *testing.T) {
	r, w := startGraphite(t, "")
	tcp, udp, _ := w.addrs()
	base := time.Now().Add(-10*time.Minute).Unix() / 60 * 60
	// One TCP connection carries good lines around bad ones; none of
	// them closes it.
	sendTCP(t, tcp, fmt.Sprintf("e2e.tcp.load 0.5 %d\n"+
		"e2e.tcp.load not-a-number %d\n"+
		"e2e.tcp.load 1.5e1 %d\r\n"+
		"e2e.tcp.cpu;host=web01;data-center=par 42 %d\n"+
		"e2e.tcp.nan nan %d\n"+
		"e2e.tcp.load 7 %d", base, base+30, base+60, base, base, base+120))
	sendUDP(t, udp.String(), fmt.Sprintf("e2e.udp.hits-total 3 %d\ne2e.udp.hits-total 4 %d\n", base, base+10))
	ms := base * 1000
	waitStored(t, r, "e2e_.*", []stored{
		{`{__name__="e2e_tcp_cpu", data_center="par", host="web01"}`, ms, 42},
		{`{__name__="e2e_tcp_load"}`, ms, 0.5},
		{`{__name__="e2e_tcp_load"}`, ms + 60000, 15},
		{`{__name__="e2e_tcp_load"}`, ms + 120000, 7},
		{`{__name__="e2e_udp_hits_total"}`, ms, 3},
		{`{__name__="e2e_udp_hits_total"}`, ms + 10000, 4},
	})
	expectSeries(t, r, map[string]float64{
		`copenhagen_graphite_points_rejected_total{reason="bad_value"}`: 1,
		`copenhagen_graphite_points_rejected_total{reason="nan_value"}`: 1,
		`copenhagen_graphite_points_received_total{format="plaintext"}`: 6,
		`copenhagen_graphite_samples_appended_total{source="graphite"}`: 6,
	})
}

// pythonPickle returns a carbon pickle frame (length prefix included)
// written by Python's own pickle module.
func pythonPickle(t *testing.T, protocol int, points string) []byte {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("%s is needed to write real pickle payloads: %v", py, err)
	}
	script := fmt.Sprintf("import pickle, struct, sys\np = pickle.dumps(%s, protocol=%d)\nsys.stdout.buffer.write(struct.pack('!L', len(p)) + p)\n", points, protocol)
	out, err := exec.Command(py, "-c", script).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	return out
}

func TestGraphitePickleFromPython(t *testing.T) {
	r, w := startGraphite(t, "")
	_, _, pickle := w.addrs()
	base := time.Now().Add(-5*time.Minute).Unix() / 60 * 60
	var frames []byte
	for proto := range 3 {
		frames = append(frames, pythonPickle(t, proto, fmt.Sprintf(
			"[('e2e.pickle.p%d', (%d, 1.25)), ('e2e.pickle.p%d', (%d.5, 2)), ('e2e.pickle.tagged;env=prod', (%d, %d)), ('bad', 5)]",
			proto, base, proto, base+1, base+int64(proto), proto))...)
	}
	// A frame that is not the carbon shape is refused; the next one on the
	// same connection is read.
	bad := []byte("\x80\x02cos\nsystem\n.")
	frames = append(frames, enc.BigEndian.AppendUint32(nil, uint32(len(bad)))...)
	frames = append(frames, bad...)
	frames = append(frames, pythonPickle(t, 2, fmt.Sprintf("[('e2e.pickle.after', (%d, 9))]", base))...)
	sendTCP(t, pickle, string(frames))
	ms := base * 1000
	want := []stored{{`{__name__="e2e_pickle_after"}`, ms, 9}}
	for proto := range 3 {
		name := fmt.Sprintf(`{__name__="e2e_pickle_p%d"}`, proto)
		want = append(want, stored{name, ms, 1.25}, stored{name, ms + 1500, 2})
	}
	for proto := range 3 {
		want = append(want, stored{`{__name__="e2e_pickle_tagged", env="prod"}`, ms + int64(proto)*1000, float64(proto)})
	}
	sort.Slice(want, func(i, j int) bool {
		if want[i].series != want[j].series {
			return want[i].series < want[j].series
		}
		return want[i].t < want[j].t
	})
	waitStored(t, r, "e2e_pickle_.*", want)
	expectSeries(t, r, map[string]float64{
		`copenhagen_graphite_points_rejected_total{reason="bad_pickle_item"}`: 3,
		`copenhagen_graphite_points_rejected_total{reason="bad_pickle"}`:      1,
		`copenhagen_graphite_points_received_total{format="pickle"}`:          10,
	})
}

func TestGraphiteRelayRoutesAndStillStores(t *testing.T) {
	collectd, rest := relaytest.StartCarbon(t, "127.0.0.1:0"), relaytest.StartCarbon(t, "127.0.0.1:0")
	r, w := startGraphite(t, fmt.Sprintf("  relay:\n    mode: first\n    routes:\n"+
		"      - match: '^collectd\\.'\n        targets: [%q]\n"+
		"      - targets: [%q]\n", collectd.Addr(), rest.Addr()))
	tcp, _, pickle := w.addrs()
	base := time.Now().Add(-time.Minute).Unix()
	sendTCP(t, tcp, fmt.Sprintf("collectd.web01.load 1 %d\napp.requests 2 %d\ngarbage line that carbon rejects too\n", base, base))
	sendTCP(t, pickle, string(pythonPickle(t, 2, fmt.Sprintf("[('collectd.web02.load', (%d, 3.5))]", base))))
	wantCollectd := []string{fmt.Sprintf("collectd.web01.load 1 %d", base), fmt.Sprintf("collectd.web02.load 3.5 %d", base)}
	wantRest := []string{fmt.Sprintf("app.requests 2 %d", base), "garbage line that carbon rejects too"}
	collectd.WaitLines(t, wantCollectd)
	rest.WaitLines(t, wantRest)
	waitStored(t, r, "collectd_.*|app_.*", []stored{
		{`{__name__="app_requests"}`, base * 1000, 2},
		{`{__name__="collectd_web01_load"}`, base * 1000, 1},
		{`{__name__="collectd_web02_load"}`, base * 1000, 3.5},
	})
	// Each line once, to one route: checked again after shutdown has
	// flushed the relay, so a late duplicate is seen.
	r.stop(t)
	collectd.ExpectLines(t, wantCollectd)
	rest.ExpectLines(t, wantRest)
}

// stop shuts the app down and waits for it; the test's cleanup then finds
// it stopped.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup registered by start
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown took more than 10s")
	}
}

func TestGraphiteMappingFileAndReload(t *testing.T) {
	dir := t.TempDir()
	mapping := filepath.Join(dir, "graphite-mapping.yml")
	rules := "mappings:\n- match: servers.*.cpu.*\n  name: server_cpu\n  labels: {host: $1, mode: $2}\n"
	must(t, os.WriteFile(mapping, []byte(rules), 0o644))
	r, w := startGraphite(t, "  mapping_file: "+mapping+"\n")
	tcp, _, _ := w.addrs()
	base := time.Now().Add(-time.Minute).Unix()
	sendTCP(t, tcp, fmt.Sprintf("servers.web01.cpu.user 12 %d\n", base))
	waitStored(t, r, "server_cpu", []stored{{`{__name__="server_cpu", host="web01", mode="user"}`, base * 1000, 12}})

	must(t, os.WriteFile(mapping, []byte(strings.Replace(rules, "server_cpu", "node_cpu", 1)), 0o644))
	writeMapping(t, r, "mappings: []\n") // the StatsD file, and POST /-/reload
	sendTCP(t, tcp, fmt.Sprintf("servers.web01.cpu.user 13 %d\n", base+1))
	waitStored(t, r, "node_cpu", []stored{{`{__name__="node_cpu", host="web01", mode="user"}`, (base + 1) * 1000, 13}})

	// A broken file is refused as a whole: the running rules stay.
	must(t, os.WriteFile(mapping, []byte("mappings:\n- match: a..b\n  name: x\n"), 0o644))
	if err := r.app.reload(); err == nil || !strings.Contains(err.Error(), "graphite.mapping_file") {
		t.Fatalf("reload of a broken graphite mapping: %v", err)
	}
	sendTCP(t, tcp, fmt.Sprintf("servers.web01.cpu.user 14 %d\n", base+2))
	waitStored(t, r, "node_cpu", []stored{
		{`{__name__="node_cpu", host="web01", mode="user"}`, (base + 1) * 1000, 13},
		{`{__name__="node_cpu", host="web01", mode="user"}`, (base + 2) * 1000, 14},
	})
}

func TestGraphiteMaxSeries(t *testing.T) {
	r, w := startGraphite(t, "  max_series: 2\n")
	tcp, _, _ := w.addrs()
	base := time.Now().Add(-time.Minute).Unix()
	sendTCP(t, tcp, fmt.Sprintf("lim.a 1 %d\nlim.b 1 %d\nlim.c 1 %d\nlim.c 2 %d\nlim.a 2 %d\n", base, base, base, base+1, base+1))
	expectSeries(t, r, map[string]float64{
		`copenhagen_graphite_samples_dropped_total{reason="series_limit",source="graphite"}`: 2,
		`copenhagen_graphite_series{source="graphite"}`:                                      2,
	})
	if got := storedSamples(t, r, "lim_.*"); len(got) != 3 {
		t.Fatalf("stored %v", got)
	}
}
