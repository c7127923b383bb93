package logs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Source is a set of files to tail: a glob, and static labels for its
// entries (logs.files on VMs; none for the Kubernetes pod globs).
type Source struct {
	Glob   string
	Labels map[string]string
}

// MultilineRule applies Multiline to the files whose path matches Glob.
type MultilineRule struct {
	Glob string
	Multiline
}

// FileInfo describes a file being tailed, for the Output.
type FileInfo struct {
	Path   string
	Labels map[string]string // static labels of the Source
	Cursor *Cursor           // the Ack target of the file's records
}

// Config is what a Manager needs.
type Config struct {
	Sources   []Source
	Multiline []MultilineRule
	// StartAtEnd makes files found at the first start (no positions file
	// yet) start at their end; files created later are always read from
	// their start.
	StartAtEnd bool
	Positions  *Positions
	// PollInterval is how often a file is checked when inotify is not
	// available (and how soon rotations finish); with inotify files are
	// checked at 10 times this interval as a safety net.
	PollInterval time.Duration
	// ScanInterval is how often the globs are expanded again; with
	// inotify, new files are found as soon as they are created.
	ScanInterval time.Duration
	// MaxLineSize bounds the memory one line can take: longer lines are
	// cut, and counted.
	MaxLineSize int
	// NoInotify polls only (network file systems do not deliver inotify
	// events for writes made on other hosts).
	NoInotify bool
	// Output gives the Sink of a newly tailed file; a Sink with a Close
	// method is closed when the file is no longer tailed.
	Output func(FileInfo) Sink
	Logger *slog.Logger
}

// Metrics of the tailers.
type metrics struct {
	tailed      prometheus.Gauge
	files       *prometheus.CounterVec
	bytesRead   prometheus.Counter
	entries     prometheus.Counter
	parseErrors *prometheus.CounterVec
	rotations   *prometheus.CounterVec
	cutLines    prometheus.Counter
	skipped     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		tailed: f.NewGauge(prometheus.GaugeOpts{Name: "copenhagen_logs_files_tailed", Help: "Files being tailed."}),
		files: f.NewCounterVec(prometheus.CounterOpts{Name: "copenhagen_logs_files_detected_total",
			Help: "Files whose format was detected, by format (cri, docker, plain)."}, []string{"format"}),
		bytesRead: f.NewCounter(prometheus.CounterOpts{Name: "copenhagen_logs_read_bytes_total", Help: "Bytes read from log files."}),
		entries:   f.NewCounter(prometheus.CounterOpts{Name: "copenhagen_logs_entries_total", Help: "Log entries read (after reassembly and multiline grouping)."}),
		parseErrors: f.NewCounterVec(prometheus.CounterOpts{Name: "copenhagen_logs_parse_errors_total",
			Help: "Lines of a CRI or Docker file that did not parse; they are shipped as they are."}, []string{"format"}),
		rotations: f.NewCounterVec(prometheus.CounterOpts{Name: "copenhagen_logs_rotations_total",
			Help: "Rotations: truncate (copytruncate, read again from 0), truncate_regrown (copytruncate seen only by the changed head of a file that grew past the old offset, read again from 0), finished (a renamed or deleted file drained and closed)."}, []string{"kind"}),
		cutLines: f.NewCounter(prometheus.CounterOpts{Name: "copenhagen_logs_lines_cut_total",
			Help: "Lines longer than logs.max_line_size, shipped in pieces."}),
		skipped: f.NewCounterVec(prometheus.CounterOpts{Name: "copenhagen_logs_files_skipped_total",
			Help: "Files matched by a glob but not tailed, by reason (compressed, open_error)."}, []string{"reason"}),
	}
	m.parseErrors.WithLabelValues("cri")
	m.parseErrors.WithLabelValues("docker")
	return m
}

// readers is the number of read slots (see Manager.readSlots).
const readers = 16

// Manager finds files, runs one tailer per file and stops them.
type Manager struct {
	cfg Config
	log *slog.Logger
	met *metrics

	mu      sync.Mutex
	tailers map[fileKey]*tailer
	byDir   map[string]map[*tailer]struct{}
	wg      sync.WaitGroup

	inotify bool
	scanNow chan struct{}
	// readSlots bounds how many tailers read at once. A tailer holds its
	// read buffer and its not yet shipped lines while it reads (and while
	// it waits for the shipper), so this, not the number of files, bounds
	// that memory: 1000 tailed files cost little more than 10.
	readSlots chan struct{}
}

// NewManager checks cfg; Run starts tailing.
func NewManager(cfg Config, reg prometheus.Registerer) (*Manager, error) {
	if cfg.Positions == nil || cfg.Output == nil {
		return nil, errors.New("logs: Positions and Output are required")
	}
	for _, s := range cfg.Sources {
		if _, err := filepath.Match(s.Glob, ""); err != nil {
			return nil, fmt.Errorf("logs: glob %q: %w", s.Glob, err)
		}
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.ScanInterval <= 0 {
		cfg.ScanInterval = 10 * time.Second
	}
	if cfg.MaxLineSize <= 0 {
		cfg.MaxLineSize = 256 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: cfg, log: cfg.Logger, met: newMetrics(reg), tailers: map[fileKey]*tailer{},
		byDir: map[string]map[*tailer]struct{}{}, scanNow: make(chan struct{}, 1),
		readSlots: make(chan struct{}, readers)}, nil
}

func (m *Manager) pollEvery() time.Duration {
	if m.inotify {
		return 10 * m.cfg.PollInterval
	}
	return m.cfg.PollInterval
}

// skipName reports files never read: compressed or being compressed
// rotations.
func skipName(path string) bool {
	return strings.HasSuffix(path, ".gz") || strings.HasSuffix(path, ".tmp")
}

// Run tails until ctx is done, then waits for the tailers to stop. Entries
// not yet acknowledged are read again at the next start.
func (m *Manager) Run(ctx context.Context) error {
	var w *watcher
	err := errors.New("disabled")
	if !m.cfg.NoInotify {
		w, err = newWatcher()
	}
	if err != nil {
		w = nil
		m.log.Warn("inotify unavailable, polling files", "err", err, "poll_interval", m.cfg.PollInterval)
	} else {
		m.inotify = true
		defer w.close()
		go w.run(ctx, m.onEvent)
	}
	m.recoverRotated(ctx)
	m.scan(ctx, w, m.cfg.Positions.FirstStart() && m.cfg.StartAtEnd)
	scanEvery := m.cfg.ScanInterval
	if !m.inotify {
		scanEvery = min(scanEvery, 4*m.cfg.PollInterval)
	}
	t := time.NewTicker(scanEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.wg.Wait()
			return nil
		case <-t.C:
		case <-m.scanNow:
			// Let a burst of creations settle into one scan.
			time.Sleep(20 * time.Millisecond)
		}
		m.scan(ctx, w, false)
	}
}

// onEvent is called by the watcher for activity in dir.
func (m *Manager) onEvent(dir string, created bool) {
	m.mu.Lock()
	for t := range m.byDir[dir] {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
	m.mu.Unlock()
	if created {
		select {
		case m.scanNow <- struct{}{}:
		default:
		}
	}
}

// scan expands the globs, starts tailers for new files and watches the
// directories on the way to them.
func (m *Manager) scan(ctx context.Context, w *watcher, initial bool) {
	for i := range m.cfg.Sources {
		src := &m.cfg.Sources[i]
		if w != nil {
			for _, d := range globDirs(src.Glob) {
				w.add(d)
			}
		}
		matches, _ := filepath.Glob(src.Glob)
		for _, path := range matches {
			if skipName(path) {
				m.met.skipped.WithLabelValues("compressed").Inc()
				continue
			}
			m.start(ctx, src, path, initial, false)
		}
	}
}

// globDirs lists the existing directories on the way to a glob's files:
// for /var/log/pods/*/*/*.log, /var/log/pods and every match of
// /var/log/pods/* and /var/log/pods/*/*, so that new pods are noticed.
func globDirs(glob string) []string {
	dir := filepath.Dir(glob)
	var parts []string
	for d := dir; ; d = filepath.Dir(d) {
		parts = append(parts, d)
		if !hasMeta(d) || d == filepath.Dir(d) {
			break
		}
	}
	var out []string
	for _, p := range parts {
		if !hasMeta(p) {
			out = append(out, p)
			continue
		}
		ms, _ := filepath.Glob(p)
		out = append(out, ms...)
	}
	return out
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// gone reports whether path no longer names the file key (rotated or
// deleted).
func (m *Manager) gone(path string, key fileKey) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return true
	}
	return statKey(fi) != key
}

// start begins tailing path unless its file is already tailed.
func (m *Manager) start(ctx context.Context, src *Source, path string, initial, drain bool) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	key := statKey(fi)
	m.mu.Lock()
	_, running := m.tailers[key]
	m.mu.Unlock()
	if running {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		m.met.skipped.WithLabelValues("open_error").Inc()
		m.log.Warn("cannot open log file", "path", path, "err", err)
		return
	}
	if fi2, err := f.Stat(); err != nil || statKey(fi2) != key {
		f.Close() // replaced between stat and open; the next scan gets it
		return
	}
	pos := m.cfg.Positions
	saved := pos.lookup(key, func(n int, fp uint64) bool {
		if n == 0 {
			return true
		}
		b := make([]byte, n)
		if _, err := f.ReadAt(b, 0); err != nil {
			return false
		}
		return fingerprint(b) == fp
	})
	var offset int64
	switch {
	case saved != nil:
		offset = saved.Offset()
		if offset > fi.Size() {
			offset = 0 // truncated while we were away
		}
	case drain:
		f.Close()
		return
	case initial:
		offset = fi.Size()
	}
	cur := pos.track(key, path, offset, saved)
	if saved == nil {
		pos.markDirty()
	}
	if _, err := f.Seek(offset, 0); err != nil {
		f.Close()
		return
	}
	t := &tailer{m: m, path: path, dir: filepath.Dir(path), key: key, f: f, cursor: cur, readOff: offset,
		wake: make(chan struct{}, 1), drain: drain}
	if saved != nil {
		t.fpLen, t.fp = saved.fpLen, saved.fp
	}
	if offset > 0 && t.fpLen == 0 {
		t.updateFingerprint()
	}
	for i := range m.cfg.Multiline {
		if ok, _ := filepath.Match(m.cfg.Multiline[i].Glob, path); ok {
			t.ml = &m.cfg.Multiline[i].Multiline
			break
		}
	}
	var labels map[string]string
	if src != nil {
		labels = src.Labels
	}
	t.sink = m.cfg.Output(FileInfo{Path: path, Labels: labels, Cursor: cur})
	m.mu.Lock()
	m.tailers[key] = t
	if m.byDir[t.dir] == nil {
		m.byDir[t.dir] = map[*tailer]struct{}{}
	}
	m.byDir[t.dir][t] = struct{}{}
	m.met.tailed.Set(float64(len(m.tailers)))
	m.mu.Unlock()
	m.log.Debug("tailing", "path", path, "offset", offset)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t.run(ctx)
		if c, ok := t.sink.(interface{ Close() }); ok {
			c.Close()
		}
		m.mu.Lock()
		delete(m.tailers, key)
		delete(m.byDir[t.dir], t)
		if len(m.byDir[t.dir]) == 0 {
			delete(m.byDir, t.dir)
		}
		m.met.tailed.Set(float64(len(m.tailers)))
		m.mu.Unlock()
	}()
}

// recoverRotated finishes files that were being read when the agent
// stopped and have been renamed since (kubelet's N.log.<timestamp>): their
// saved identity is looked for among the files next to the saved path.
func (m *Manager) recoverRotated(ctx context.Context) {
	for _, c := range m.cfg.Positions.saved() {
		m.cfg.Positions.mu.Lock()
		path := c.path
		m.cfg.Positions.mu.Unlock()
		if fi, err := os.Stat(path); err == nil && statKey(fi) == c.key {
			continue // still at its name: the scan takes it
		}
		src := m.sourceOf(path)
		found := false
		ents, _ := os.ReadDir(filepath.Dir(path))
		for _, e := range ents {
			p := filepath.Join(filepath.Dir(path), e.Name())
			if skipName(p) {
				continue
			}
			fi, err := os.Stat(p)
			if err != nil || statKey(fi) != c.key {
				continue
			}
			m.log.Info("finishing a file rotated while stopped", "path", p, "was", path)
			m.start(ctx, src, p, false, true)
			found = true
			break
		}
		if !found {
			m.cfg.Positions.forget(c)
		}
	}
}

func (m *Manager) sourceOf(path string) *Source {
	for i := range m.cfg.Sources {
		if ok, _ := filepath.Match(m.cfg.Sources[i].Glob, path); ok {
			return &m.cfg.Sources[i]
		}
	}
	return nil
}
