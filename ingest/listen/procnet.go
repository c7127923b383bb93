package listen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
)

// procNetUDPFiles are read at scrape time. A socket bound to ":port" is an
// IPv6 dual-stack socket and shows up in udp6, so both are searched.
var procNetUDPFiles = []string{"/proc/net/udp", "/proc/net/udp6"}

// sockStats is what the kernel reports for a set of sockets.
type sockStats struct {
	found   int    // sockets of the set seen in the file
	drops   uint64 // datagrams dropped (receive buffer full, checksum, ...)
	rxQueue uint64 // bytes waiting to be read
}

// parseProcNetUDP adds to st the drops and rx_queue of the sockets whose
// inode is in inodes. The format is the one of /proc/net/udp and udp6:
//
//	sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
//	0: 00000000:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 12345 2 0000000000000000 0
//
// Lines it cannot read are skipped: a kernel that adds a column must not
// make the metric disappear for the others.
func parseProcNetUDP(r io.Reader, inodes map[uint64]bool, st *sockStats) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	header := true
	for sc.Scan() {
		if header {
			header = false
			continue
		}
		var fields [13][]byte
		n := splitFields(sc.Bytes(), fields[:])
		if n < len(fields) {
			continue
		}
		inode, err := strconv.ParseUint(string(fields[9]), 10, 64)
		if err != nil || !inodes[inode] {
			continue
		}
		drops, err := strconv.ParseUint(string(fields[12]), 10, 64)
		if err != nil {
			continue
		}
		st.found++
		st.drops += drops
		// tx_queue:rx_queue, both hexadecimal.
		q := fields[4]
		for i, c := range q {
			if c == ':' {
				if rx, err := strconv.ParseUint(string(q[i+1:]), 16, 64); err == nil {
					st.rxQueue += rx
				}
				break
			}
		}
	}
	return sc.Err()
}

// splitFields stores the first len(dst) space-separated fields of line in
// dst and returns how many it found.
func splitFields(line []byte, dst [][]byte) int {
	n := 0
	i := 0
	for n < len(dst) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		dst[n] = line[i:j]
		n++
		i = j
	}
	return n
}

// readSockStats searches files for the sockets in inodes.
func readSockStats(files []string, inodes map[uint64]bool) (sockStats, error) {
	var st sockStats
	var errs []error
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		err = parseProcNetUDP(f, inodes, &st)
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s: %w", name, err))
		}
	}
	return st, errors.Join(errs...)
}

// kernelCollector exposes the kernel's view of one UDP listener's sockets.
// Each listener registers its own collector with a constant listener label,
// so several listeners share the metric families without sharing state.
type kernelCollector struct {
	logger     *slog.Logger
	logLimit   *ratelog.Limiter
	files      []string
	inodes     map[uint64]bool
	rcvbuf     int // bytes granted, as SO_RCVBUF reports it halved
	drops      *prometheus.Desc
	queue      *prometheus.Desc
	bufferSize *prometheus.Desc
}

func newKernelCollector(name string, inodes []uint64, rcvbuf int, logger *slog.Logger) *kernelCollector {
	labels := prometheus.Labels{"listener": name}
	c := &kernelCollector{
		logger:   logger,
		logLimit: ratelog.New(time.Minute),
		files:    procNetUDPFiles,
		inodes:   make(map[uint64]bool, len(inodes)),
		rcvbuf:   rcvbuf,
		drops: prometheus.NewDesc("copenhagen_listener_kernel_drops_total",
			"Datagrams the kernel dropped for the listener's sockets, mostly because the receive buffer was full (drops column of /proc/net/udp).",
			nil, labels),
		queue: prometheus.NewDesc("copenhagen_listener_kernel_receive_queue_bytes",
			"Bytes (including kernel overhead) waiting in the listener's socket receive queues at scrape time.",
			nil, labels),
		bufferSize: prometheus.NewDesc("copenhagen_listener_receive_buffer_bytes",
			"Receive buffer size the kernel granted per socket (SO_RCVBUF).",
			nil, labels),
	}
	for _, ino := range inodes {
		c.inodes[ino] = true
	}
	return c
}

func (c *kernelCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.drops
	ch <- c.queue
	ch <- c.bufferSize
}

func (c *kernelCollector) Collect(ch chan<- prometheus.Metric) {
	if c.rcvbuf > 0 {
		ch <- prometheus.MustNewConstMetric(c.bufferSize, prometheus.GaugeValue, float64(c.rcvbuf))
	}
	st, err := readSockStats(c.files, c.inodes)
	if err != nil {
		// Failing the scrape would hide every other metric; the log says
		// why this one is missing.
		c.logLimit.Warn(c.logger, "cannot read kernel socket statistics", "err", err)
		return
	}
	if st.found == 0 {
		// Not Linux, or the sockets are closed: no number is better than a
		// made-up zero.
		return
	}
	ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(st.drops))
	ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(st.rxQueue))
}
