package logs

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// fileKey identifies a file on disk independently of its name, so that a
// renamed (rotated) file keeps its position. Inodes are reused after a
// delete, hence the fingerprint of the first bytes kept next to it.
type fileKey struct {
	Dev, Ino uint64
}

// fingerprintSize is how many leading bytes identify a file's content.
const fingerprintSize = 1024

// Cursor is the committed position of one file: the offset up to which
// every entry was acknowledged by the server. The pusher calls Acked.
type Cursor struct {
	store *Positions
	key   fileKey

	// guarded by store.mu
	path   string
	fpLen  int
	fp     uint64
	offset int64
	done   bool  // the tailer stopped (file gone)
	final  int64 // offset read when done
}

// Acked commits offset: every entry of the file before it is stored.
func (c *Cursor) Acked(offset int64) {
	s := c.store
	s.mu.Lock()
	// Acknowledgements arrive in read order, so the latest is the
	// furthest; plain assignment (not max) lets a truncated file's
	// position go back to its new, smaller offsets.
	c.offset = offset
	if c.done && c.offset >= c.final {
		delete(s.files, c.key)
	}
	s.mu.Unlock()
	s.markDirty()
}

// setFingerprint records the fingerprint of the first n bytes.
func (c *Cursor) setFingerprint(n int, fp uint64) {
	c.store.mu.Lock()
	c.fpLen, c.fp = n, fp
	c.store.mu.Unlock()
}

// finish says the tailer will read no more from the file: once everything
// read is acknowledged, the entry is forgotten.
func (c *Cursor) finish(readOffset int64) {
	s := c.store
	s.mu.Lock()
	c.done, c.final = true, readOffset
	if c.offset >= c.final {
		delete(s.files, c.key)
	}
	s.mu.Unlock()
	s.markDirty()
}

// Offset is the committed offset.
func (c *Cursor) Offset() int64 {
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	return c.offset
}

// Positions is the positions file: committed offsets by file identity,
// replaced atomically (temporary file, fsync, rename, fsync of the
// directory) whenever acknowledgements move them, by one writer goroutine
// so that writes coalesce under load.
type Positions struct {
	path    string
	every   time.Duration // least time between two writes
	existed bool          // the file was there at start: not a first start
	log     *slog.Logger
	onWrite func(error)

	mu    sync.Mutex
	files map[fileKey]*Cursor

	dirty   chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

type positionsDoc struct {
	Version int             `json:"version"`
	Files   []positionEntry `json:"files"`
}

type positionEntry struct {
	Path   string `json:"path"`
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"inode"`
	FPLen  int    `json:"fingerprint_len"`
	FP     string `json:"fingerprint"`
	Offset int64  `json:"offset"`
}

// OpenPositions loads the positions file (absent: a first start). The
// file is rewritten after acknowledgements, at most once per every (0:
// after each one). A replacement costs a file creation and two fsyncs, so
// under load every bounds that cost; the price is that a kill -9 may
// resend up to every's worth of acknowledged entries on top of the
// unacknowledged ones.
func OpenPositions(path string, every time.Duration, log *slog.Logger, onWrite func(error)) (*Positions, error) {
	p := &Positions{path: path, every: every, log: log, onWrite: onWrite, files: map[fileKey]*Cursor{},
		dirty: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading positions file: %w", err)
	default:
		p.existed = true
		var doc positionsDoc
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("positions file %s: %w (move it away to start over)", path, err)
		}
		for _, e := range doc.Files {
			var fp uint64
			if _, err := fmt.Sscanf(e.FP, "%x", &fp); err != nil && e.FPLen > 0 {
				continue
			}
			k := fileKey{e.Dev, e.Ino}
			p.files[k] = &Cursor{store: p, key: k, path: e.Path, fpLen: e.FPLen, fp: fp, offset: e.Offset}
		}
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("positions directory: %w", err)
		}
	}
	go p.writer()
	return p, nil
}

// FirstStart reports whether there was no positions file: only then does
// logs.start_at apply.
func (p *Positions) FirstStart() bool { return !p.existed }

// lookup returns the saved cursor of a file if its identity matches.
func (p *Positions) lookup(k fileKey, match func(fpLen int, fp uint64) bool) *Cursor {
	p.mu.Lock()
	c := p.files[k]
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	p.mu.Lock()
	fpLen, fp := c.fpLen, c.fp
	p.mu.Unlock()
	if !match(fpLen, fp) {
		return nil
	}
	return c
}

// track returns the cursor for a file, creating one at offset when none
// matches (a new file or an inode reused by another one).
func (p *Positions) track(k fileKey, path string, offset int64, reuse *Cursor) *Cursor {
	p.mu.Lock()
	defer p.mu.Unlock()
	if reuse != nil {
		reuse.path, reuse.done = path, false
		p.files[k] = reuse
		return reuse
	}
	c := &Cursor{store: p, key: k, path: path, offset: offset}
	p.files[k] = c
	return c
}

// saved lists the saved cursors (for recovering rotated files at start).
func (p *Positions) saved() []*Cursor {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Cursor, 0, len(p.files))
	for _, c := range p.files {
		out = append(out, c)
	}
	return out
}

func (p *Positions) forget(c *Cursor) {
	p.mu.Lock()
	if p.files[c.key] == c {
		delete(p.files, c.key)
	}
	p.mu.Unlock()
	p.markDirty()
}

func (p *Positions) markDirty() {
	select {
	case p.dirty <- struct{}{}:
	default:
	}
}

func (p *Positions) writer() {
	defer close(p.stopped)
	for {
		select {
		case <-p.dirty:
			p.report(p.Write())
			if p.every > 0 {
				select {
				case <-time.After(p.every):
				case <-p.stop:
					p.report(p.Write())
					return
				}
			}
		case <-p.stop:
			select {
			case <-p.dirty:
			default:
			}
			p.report(p.Write())
			return
		}
	}
}

func (p *Positions) report(err error) {
	if p.onWrite != nil {
		p.onWrite(err)
	}
	if err != nil && p.log != nil {
		p.log.Error("writing the positions file", "err", err)
	}
}

// Close writes the file a last time.
func (p *Positions) Close() error {
	close(p.stop)
	<-p.stopped
	return nil
}

// Write replaces the positions file atomically with the committed offsets.
func (p *Positions) Write() error {
	p.mu.Lock()
	doc := positionsDoc{Version: 1, Files: make([]positionEntry, 0, len(p.files))}
	for k, c := range p.files {
		doc.Files = append(doc.Files, positionEntry{Path: c.path, Dev: k.Dev, Ino: k.Ino, FPLen: c.fpLen, FP: fmt.Sprintf("%016x", c.fp), Offset: c.offset})
	}
	p.mu.Unlock()
	data, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return writeFileAtomic(p.path, data)
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("positions: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("positions: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("positions: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("positions: syncing directory: %w", err)
	}
	return nil
}

// reset moves the cursor back to 0 after a truncation.
func (c *Cursor) reset() {
	c.store.mu.Lock()
	c.offset, c.fpLen, c.fp = 0, 0, 0
	c.store.mu.Unlock()
	c.store.markDirty()
}
