package listen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseProcNetUDP(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		inodes []uint64
		want   sockStats
	}{
		{"one socket", "proc_net_udp", []uint64{4242}, sockStats{found: 1, drops: 17, rxQueue: 0x1A00}},
		{"reuseport sockets are summed", "proc_net_udp", []uint64{4242, 4243}, sockStats{found: 2, drops: 22, rxQueue: 0x1D00}},
		{"other sockets are ignored", "proc_net_udp", []uint64{1}, sockStats{}},
		{"unreadable drops column is skipped", "proc_net_udp", []uint64{4244}, sockStats{}},
		{"udp6 dual-stack socket", "proc_net_udp6", []uint64{5150}, sockStats{found: 1, drops: 1000, rxQueue: 0x100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			inodes := map[uint64]bool{}
			for _, i := range tt.inodes {
				inodes[i] = true
			}
			var got sockStats
			if err := parseProcNetUDP(f, inodes, &got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReadSockStatsSumsFilesAndIgnoresMissingOnes(t *testing.T) {
	files := []string{"testdata/proc_net_udp", "testdata/proc_net_udp6", "testdata/does_not_exist"}
	st, err := readSockStats(files, map[uint64]bool{4242: true, 5151: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (sockStats{found: 2, drops: 24, rxQueue: 0x1A00}); st != want {
		t.Errorf("got %+v, want %+v", st, want)
	}
}

func TestParseProcNetUDPEmptyAndHeaderOnly(t *testing.T) {
	for _, in := range []string{"", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"} {
		var st sockStats
		if err := parseProcNetUDP(strings.NewReader(in), map[uint64]bool{0: true}, &st); err != nil {
			t.Fatal(err)
		}
		if st != (sockStats{}) {
			t.Errorf("%q: got %+v", in, st)
		}
	}
}
