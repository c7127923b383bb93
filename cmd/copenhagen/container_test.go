package main

import (
	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"

	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// podmanFlags make podman work on hosts without systemd as PID 1 and
// with hybrid cgroups (these CI machines): runc rather than crun, cgroupfs,
// events in a file.
var podmanFlags = []string{"--cgroup-manager=cgroupfs", "--events-backend=file", "--runtime=runc"}

// TestContainerImage builds deploy/container with build.sh (static
// binary, FROM scratch, --network=none; the binary's compile is shared
// with TestMain's, so this only relinks) and runs it as users would:
// read-only, no capability, its default configuration. StatsD sent to its
// UDP port shows on its /metrics.
func TestContainerImage(t *testing.T) {
	podman := storagetest.NeedTool(t, "podman", ".ci/deps.d/container.sh")
	image := fmt.Sprintf("localhost/copenhagen-test:%d", os.Getpid())
	build := exec.Command("bash", "../../deploy/container/build.sh")
	build.Env = append(os.Environ(), "IMAGE="+image, "VERSION=test-image", "CONTAINER_ENGINE=podman",
		"PODMAN_FLAGS="+strings.Join(podmanFlags, " "))
	start := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	t.Logf("build.sh (go build + image) took %s", time.Since(start).Round(time.Second))
	pm := func(args ...string) (string, error) {
		out, err := exec.Command(podman, append(append([]string{}, podmanFlags...), args...)...).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { pm("rmi", "-f", image) })

	// What the image is: non-root, the binary as entrypoint, and it runs
	// (static: there is no libc in the image) with the version given.
	out, err := pm("image", "inspect", "--format", "{{.Config.User}} {{.Config.Entrypoint}} {{.Config.Cmd}}", image)
	if err != nil || !strings.Contains(out, "65532:65532 [/usr/bin/copenhagen] [run --config /etc/copenhagen/copenhagen.yml]") {
		t.Fatalf("image config: %v %s", err, out)
	}
	if out, err := pm("run", "--rm", "--network=none", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096", image, "version"); err != nil ||
		!strings.Contains(out, "test-image") {
		t.Fatalf("copenhagen version in the image: %v\n%s", err, out)
	}

	httpPort, udpPort := freePort(t), freeUDPPort(t)
	name := fmt.Sprintf("copenhagen-test-%d", os.Getpid())
	out, err = pm("run", "-d", "--name", name, "--read-only", "--cap-drop=ALL", "--security-opt=no-new-privileges",
		"--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
		"-p", fmt.Sprintf("127.0.0.1:%d:8125/udp", udpPort), "-p", fmt.Sprintf("127.0.0.1:%d:9095", httpPort), image)
	if err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	t.Cleanup(func() { pm("rm", "-f", "-v", name) })
	logs := func() string { l, _ := pm("logs", name); return l }
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, _ := httpGet(base + "/-/ready"); c == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready:\n%s", logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", udpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline = time.Now().Add(30 * time.Second)
	for {
		// Resent until seen: the port mapping of a fresh container can
		// drop the first datagram.
		c.Write([]byte("image.home.hits:1|c"))
		code, body := httpGet(base + "/metrics")
		if code == 200 && strings.Contains(body, "image_home_hits ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("image_home_hits not on /metrics:\n%s\nlogs:\n%s", body, logs())
		}
		time.Sleep(300 * time.Millisecond)
	}
	// The default configuration stores what it flushes in the embedded
	// TSDB on the image's volume, written by the non-root user: the
	// query API finds the series after a flush.
	deadline = time.Now().Add(40 * time.Second)
	for {
		code, body := httpGet(base + "/api/v1/query?query=image_home_hits")
		if code == 200 && strings.Contains(body, `"__name__":"image_home_hits"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("image_home_hits not stored: %d %s\nlogs:\n%s", code, body, logs())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if l := logs(); strings.Contains(l, "level=ERROR") || strings.Contains(l, `"level":"ERROR"`) {
		t.Errorf("errors in the container log:\n%s", l)
	}
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
