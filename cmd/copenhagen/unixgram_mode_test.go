package main

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// statsd.unixgram_mode reaches the socket: with "0666" an app of another
// user on the node (the Kubernetes unixgram overlay) may send.
func TestUnixgramMode(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "statsd.sock")
	r := start(t, "statsd:\n  unixgram: "+sock+"\n  unixgram_mode: \"0666\"\n")
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o666 {
		t.Fatalf("socket mode %o, want 666", got)
	}
	u, err := net.Dial("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("unix.mode:1|c"))
	u.Close()
	expectSeries(t, r, map[string]float64{"unix_mode": 1})
}
