package main

import (
	"errors"
	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"

	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The HA alerting tests run three real Copenhagen replicas, each in its
// own network namespace: a "gossip" network between the replicas (a
// bridge in a fourth namespace, like the pod network) and a point-to-point
// link from each replica to the test (where the Slack stand-in listens,
// reachable from every replica as Slack is from every zone). A partition
// takes a replica's link to the bridge down: gossip and the other
// evaluators' alerts are cut, its notifications still reach the receiver,
// so a page it should not send would be counted.

// netLab is the network of one test.
type netLab struct {
	t      *testing.T
	id     string // short unique suffix of namespace and link names
	subnet int    // 10.213.<subnet>.0/24 gossip, 10.214.<subnet>.0/24 links
	n      int
}

func (l *netLab) ns(i int) string { return fmt.Sprintf("h13-%s-r%d", l.id, i) }
func (l *netLab) sw() string      { return fmt.Sprintf("h13-%s-sw", l.id) }

// gossipIP is replica i's address on the bridge.
func (l *netLab) gossipIP(i int) string { return fmt.Sprintf("10.213.%d.%d", l.subnet, 10+i) }

// linkIP is replica i's address on its link to the test; hostIP the
// test's end of it.
func (l *netLab) linkIP(i int) string { return fmt.Sprintf("10.214.%d.%d", l.subnet, 4*i+2) }
func (l *netLab) hostIP(i int) string { return fmt.Sprintf("10.214.%d.%d", l.subnet, 4*i+1) }

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// newNetLab builds the namespaces, or skips (fails under CI) where
// network namespaces cannot be made (not root, no ip).
func newNetLab(t *testing.T, n int) *netLab {
	t.Helper()
	unavailable := func(why string) {
		storagetest.Need(t, "network namespaces (root and iproute2)", "run as root with iproute2", errors.New(why))
	}
	if os.Geteuid() != 0 {
		unavailable("not root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		unavailable(err.Error())
	}
	pid := os.Getpid()
	l := &netLab{t: t, id: fmt.Sprintf("%04x", pid&0xffff), subnet: 10 + pid%240, n: n}
	t.Cleanup(func() {
		for i := 0; i < n; i++ {
			_ = ipCmd("netns", "del", l.ns(i)) // takes its links along
		}
		_ = ipCmd("netns", "del", l.sw())
	})
	steps := [][]string{
		{"netns", "add", l.sw()},
		{"-n", l.sw(), "link", "add", "br0", "type", "bridge"},
		{"-n", l.sw(), "link", "set", "br0", "up"},
	}
	for i := 0; i < n; i++ {
		g, s := fmt.Sprintf("c%sg%d", l.id, i), fmt.Sprintf("c%ss%d", l.id, i)
		e, h := fmt.Sprintf("c%se%d", l.id, i), fmt.Sprintf("c%sh%d", l.id, i)
		steps = append(steps,
			[]string{"netns", "add", l.ns(i)},
			[]string{"-n", l.ns(i), "link", "set", "lo", "up"},
			// gossip: replica <-> bridge
			[]string{"link", "add", g, "type", "veth", "peer", "name", s},
			[]string{"link", "set", g, "netns", l.ns(i)},
			[]string{"link", "set", s, "netns", l.sw()},
			[]string{"-n", l.sw(), "link", "set", s, "master", "br0"},
			[]string{"-n", l.sw(), "link", "set", s, "up"},
			[]string{"-n", l.ns(i), "addr", "add", l.gossipIP(i) + "/24", "dev", g},
			[]string{"-n", l.ns(i), "link", "set", g, "up"},
			// link to the test
			[]string{"link", "add", h, "type", "veth", "peer", "name", e},
			[]string{"link", "set", e, "netns", l.ns(i)},
			[]string{"addr", "add", l.hostIP(i) + "/30", "dev", h},
			[]string{"link", "set", h, "up"},
			[]string{"-n", l.ns(i), "addr", "add", l.linkIP(i) + "/30", "dev", e},
			[]string{"-n", l.ns(i), "link", "set", e, "up"},
		)
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			unavailable(err.Error())
		}
	}
	return l
}

// partition cuts replica i off the gossip network; heal restores it.
func (l *netLab) partition(i int) {
	if err := ipCmd("-n", l.sw(), "link", "set", fmt.Sprintf("c%ss%d", l.id, i), "down"); err != nil {
		l.t.Fatal(err)
	}
}

func (l *netLab) heal(i int) {
	if err := ipCmd("-n", l.sw(), "link", "set", fmt.Sprintf("c%ss%d", l.id, i), "up"); err != nil {
		l.t.Fatal(err)
	}
}

// pager is the Slack stand-in: a webhook receiver that counts, per
// alertname, the notifications in which the alert is firing.
type pager struct {
	mu     sync.Mutex
	firing map[string]int
	srv    *http.Server
	port   int
}

func newPager(t *testing.T) *pager {
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pager{firing: map[string]int{}, port: ln.Addr().(*net.TCPAddr).Port}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m webhookMsg
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		p.mu.Lock()
		for _, a := range m.Alerts {
			if a.Status == "firing" {
				p.firing[a.Labels["alertname"]]++
			}
		}
		p.mu.Unlock()
	})}
	go p.srv.Serve(ln)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

func (p *pager) count(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.firing[name]
}

// replica is one running Copenhagen in its namespace.
type replica struct {
	i    int
	dir  string
	cfg  string
	http string
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

func (r *replica) start(t *testing.T, l *netLab) {
	t.Helper()
	r.log = &bytes.Buffer{}
	r.cmd = exec.Command("ip", "netns", "exec", l.ns(r.i), binary, "run", "--config", r.cfg)
	r.cmd.Dir = r.dir
	r.cmd.Stderr = r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := r.cmd
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
}

// kill is a crash: SIGKILL, no Leave, no snapshot. ip netns exec execs
// the binary, so the process is Copenhagen itself.
func (r *replica) kill() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

func (r *replica) get(path string) (int, string) { return httpGet("http://" + r.http + path) }

func (r *replica) post(t *testing.T, path, body string) string {
	t.Helper()
	resp, err := http.Post("http://"+r.http+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("replica %d POST %s: %v", r.i, path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("replica %d POST %s: %d %s", r.i, path, resp.StatusCode, b.String())
	}
	return b.String()
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool, logs ...*replica) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	var sb strings.Builder
	for _, r := range logs {
		fmt.Fprintf(&sb, "--- replica %d log:\n%s\n", r.i, lastLines(r.log.String(), 30))
	}
	t.Fatalf("not within %s: %s\n%s", d, what, sb.String())
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

const haPeerTimeout = 3 * time.Second

// startHACluster writes the configuration of n replicas and starts them:
// every replica evaluates the same rule (vector(1): the same data
// everywhere, as with rules.query_url to one vmselect) and sends its
// alerts to every replica, the static list of all gossip addresses.
func startHACluster(t *testing.T, l *netLab, pg *pager) []*replica {
	t.Helper()
	var urls, peers []string
	for i := 0; i < l.n; i++ {
		urls = append(urls, fmt.Sprintf("http://%s:9095", l.gossipIP(i)))
		peers = append(peers, fmt.Sprintf("%s:9094", l.gossipIP(i)))
	}
	rs := make([]*replica, l.n)
	for i := range rs {
		dir := t.TempDir()
		r := &replica{i: i, dir: dir, cfg: filepath.Join(dir, "copenhagen.yml"), http: l.linkIP(i) + ":9095"}
		am := fmt.Sprintf(`route:
  receiver: slack
  group_by: [alertname]
  group_wait: 2s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: slack
    webhook_configs:
      - url: http://%s:%d/hook
        send_resolved: false
`, l.hostIP(i), pg.port)
		rules := `groups:
  - name: ha
    interval: 1s
    rules:
      - alert: HAOncePerCluster
        expr: vector(1)
        labels: {severity: page}
`
		others := make([]string, 0, l.n-1)
		for j, p := range peers {
			if j != i {
				others = append(others, p)
			}
		}
		cfg := fmt.Sprintf(`http:
  listen: 0.0.0.0:9095
statsd: {udp: "", tcp: ""}
graphite: {tcp: "", udp: "", pickle: ""}
rules:
  files: [rules.yml]
  evaluation_interval: 1s
alerting:
  config_file: am.yml
  alertmanagers:
    - urls: [%s]
  cluster:
    listen: %s:9094
    peers: [%s]
    peer_name: copenhagen-%d
    peer_timeout: %s
    settle_timeout: 10s
    gossip_interval: 100ms
    pushpull_interval: 2s
    reconnect_interval: 1s
    label: h13-test
`, strings.Join(urls, ", "), l.gossipIP(i), strings.Join(others, ", "), i, haPeerTimeout)
		for name, body := range map[string]string{"am.yml": am, "rules.yml": rules, "copenhagen.yml": cfg} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if out, errs, code := cli(t, "check", "config", r.cfg); code != 0 {
			t.Fatalf("check config: %s%s", out, errs)
		}
		rs[i] = r
	}
	for _, r := range rs {
		r.start(t, l)
	}
	for _, r := range rs {
		eventually(t, 30*time.Second, fmt.Sprintf("replica %d ready (settled)", r.i), func() bool {
			c, _ := r.get("/-/ready")
			return c == 200
		}, rs...)
	}
	return rs
}

type amStatus struct {
	Cluster struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Peers  []struct {
			Name    string `json:"name"`
			Address string `json:"address"`
		} `json:"peers"`
	} `json:"cluster"`
}

func (r *replica) status(t *testing.T) amStatus {
	var s amStatus
	c, body := r.get("/api/v2/status")
	if c != 200 {
		return s
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("status: %v: %s", err, body)
	}
	return s
}

func postAlert(t *testing.T, rs []*replica, name string) {
	t.Helper()
	body := fmt.Sprintf(`[{"labels":{"alertname":%q,"severity":"page"},"startsAt":%q,"endsAt":%q}]`,
		name, time.Now().Format(time.RFC3339), time.Now().Add(time.Hour).Format(time.RFC3339))
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.post(t, "/api/v2/alerts", body)
		}()
	}
	wg.Wait()
}

// stays asserts that name was paged exactly want times, now and for d.
func stays(t *testing.T, pg *pager, name string, want int, d time.Duration, rs []*replica) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if got := pg.count(name); got != want {
			var sb strings.Builder
			for _, r := range rs {
				fmt.Fprintf(&sb, "--- replica %d log:\n%s\n", r.i, lastLines(r.log.String(), 20))
			}
			t.Fatalf("%s paged %d times, want %d\n%s", name, got, want, sb.String())
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestHAAlertingThreeReplicas is issue 13's HA scenario on three real
// replicas: a rule firing on all three pages once; amtool sees the
// cluster; a silence set on one replica is on the others within seconds;
// a partitioned replica neither pages again while cut off nor when the
// partition heals; and when the replica that should send is killed
// (SIGKILL) before it does, the next one pages, once.
func TestHAAlertingThreeReplicas(t *testing.T) {
	l := newNetLab(t, 3)
	pg := newPager(t)
	rs := startHACluster(t, l, pg)

	// 1. Every evaluator fires HAOncePerCluster into every replica: one page.
	eventually(t, 20*time.Second, "HAOncePerCluster paged", func() bool { return pg.count("HAOncePerCluster") > 0 }, rs...)
	// The last replica (position 2) would page 2 peer timeouts after the
	// first; wait well past that.
	stays(t, pg, "HAOncePerCluster", 1, 3*haPeerTimeout+4*time.Second, rs)

	// Cluster status as Alertmanager serves it, and as amtool reads it.
	for _, r := range rs {
		s := r.status(t)
		if s.Cluster.Status != "ready" || len(s.Cluster.Peers) != 3 || s.Cluster.Name != fmt.Sprintf("copenhagen-%d", r.i) {
			t.Fatalf("replica %d /api/v2/status cluster = %+v", r.i, s.Cluster)
		}
	}
	if amtool, err := exec.LookPath("amtool"); err == nil {
		out, err := exec.Command(amtool, "--alertmanager.url=http://"+rs[1].http, "cluster", "show").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Cluster Status:  ready") || !strings.Contains(string(out), "Node Name:       copenhagen-1") {
			t.Fatalf("amtool cluster show: %v\n%s", err, out)
		}
		out, err = exec.Command(amtool, "--alertmanager.url=http://"+rs[1].http, "cluster", "show", "-o", "json").CombinedOutput()
		for _, want := range []string{`"name":"copenhagen-0"`, `"name":"copenhagen-2"`, `"address":"` + l.gossipIP(2) + `:9094"`} {
			if err != nil || !strings.Contains(string(out), want) {
				t.Fatalf("amtool cluster show -o json: %v, want %s in\n%s", err, want, out)
			}
		}
	} else if storagetest.UnderCI() {
		t.Fatalf("amtool not installed (.ci/deps.d/routing.sh): %v", err)
	}
	_, metrics := rs[0].get("/metrics")
	for _, m := range []string{"alertmanager_cluster_enabled 1", "alertmanager_cluster_members 3", "alertmanager_peer_position 0",
		`alertmanager_cluster_peer_info{peer="copenhagen-0"} 1`} {
		if !strings.Contains(metrics, m) {
			t.Errorf("replica 0 /metrics lacks %q", m)
		}
	}

	// 2. A silence set on replica 1 is on replicas 0 and 2 within seconds.
	silence := fmt.Sprintf(`{"matchers":[{"name":"alertname","value":"Silenced","isRegex":false,"isEqual":true}],"startsAt":%q,"endsAt":%q,"createdBy":"h13","comment":"gossip"}`,
		time.Now().Format(time.RFC3339), time.Now().Add(time.Hour).Format(time.RFC3339))
	var id struct {
		SilenceID string `json:"silenceID"`
	}
	json.Unmarshal([]byte(rs[1].post(t, "/api/v2/silences", silence)), &id)
	if id.SilenceID == "" {
		t.Fatal("no silence id")
	}
	start := time.Now()
	for _, i := range []int{0, 2} {
		eventually(t, 5*time.Second, fmt.Sprintf("silence on replica %d", i), func() bool {
			c, body := rs[i].get("/api/v2/silence/" + id.SilenceID)
			return c == 200 && strings.Contains(body, `"active"`)
		}, rs...)
	}
	t.Logf("silence on every replica %s after it was set", time.Since(start).Round(10*time.Millisecond))

	// 3. Partition replica 2 off the others. It keeps evaluating, its own
	// router is alone and first in its cluster of one, and its receiver
	// is reachable: it must not page an alert the cluster already paged.
	l.partition(2)
	eventually(t, 30*time.Second, "replica 2 sees itself alone", func() bool { return len(rs[2].status(t).Cluster.Peers) == 1 }, rs...)
	stays(t, pg, "HAOncePerCluster", 1, 3*2*time.Second, rs) // three group_intervals alone
	l.heal(2)
	eventually(t, 30*time.Second, "replica 2 back in the cluster", func() bool { return len(rs[2].status(t).Cluster.Peers) == 3 }, rs...)
	stays(t, pg, "HAOncePerCluster", 1, 3*2*time.Second+2*haPeerTimeout, rs)

	// 4. A new alert posted to all; replica 0, which sends first, is
	// killed before its group_wait (2s) ends. Replica 1 pages, once.
	postAlert(t, rs, "HAKilledFirst")
	rs[0].kill()
	eventually(t, 20*time.Second, "HAKilledFirst paged by a surviving replica", func() bool { return pg.count("HAKilledFirst") > 0 }, rs...)
	stays(t, pg, "HAKilledFirst", 1, 3*haPeerTimeout+4*time.Second, rs)
}
