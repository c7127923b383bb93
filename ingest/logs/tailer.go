package logs

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"os"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// Record is one log entry read from a file.
type Record struct {
	Time   time.Time // from the runtime; zero for plain files
	Stream Stream
	// Line is the entry, reassembled and grouped. It aliases the tailer's
	// buffers: valid only during Sink.Send.
	Line  []byte
	Level string // see Level; "" when none
	// Offset is where the entry ends in the file, or earlier when other
	// entries before it are still incomplete: once this record is
	// acknowledged, committing Offset loses nothing.
	Offset int64
}

// Sink receives the records of one file, in file order. It may hold
// records back until Flush, which the tailer calls after each read and
// before it waits; Send and Flush block while the shipper is full (that
// pauses reading) and fail only when ctx is done or the shipper is closed.
type Sink interface {
	Send(ctx context.Context, r *Record) error
	Flush(ctx context.Context) error
}

// Multiline groups the lines of one entry (a stack trace, a PHP fatal
// error) into one record: a line matching FirstLine starts a new entry,
// other lines continue the current one, up to MaxLines lines; an entry is
// flushed MaxWait after its first line when nothing new arrives.
type Multiline struct {
	FirstLine *regexp.Regexp
	MaxLines  int
	MaxWait   time.Duration
}

// bufPool holds read buffers. They are small because a tailer blocked
// on a full shipper holds its buffer: 1000 files must not mean 64 MiB.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

type partialBuf struct {
	buf   []byte
	start int64
	time  time.Time
}

type group struct {
	buf    []byte
	n      int
	start  int64
	end    int64
	time   time.Time
	stream Stream
	since  time.Time
}

// tailer follows one file (one identity: it keeps reading a file renamed
// by rotation until it is drained).
type tailer struct {
	m      *Manager
	path   string
	dir    string
	key    fileKey
	f      *os.File
	cursor *Cursor
	sink   Sink
	ml     *Multiline
	wake   chan struct{}
	drain  bool // read to EOF and stop (a rotated file recovered at start)

	readOff int64 // offset of the next byte to read
	carry   []byte
	format  Format
	dbuf    []byte
	partial [3]partialBuf
	grp     group
	rec     Record
	fpLen   int    // bytes of the file's head that fp covers
	fp      uint64 // fingerprint of the first fpLen bytes

	rotatedAt time.Time
}

func (t *tailer) run(ctx context.Context) {
	defer t.f.Close()
	poll := t.m.pollEvery()
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		from := t.readOff
		got, err := t.readAvailable(ctx)
		if errors.Is(err, errRewritten) {
			// Truncated in place and written again past our offset
			// before we looked (reading paused while the shipper was
			// full): the size check below cannot see it, the head can.
			t.m.met.rotations.WithLabelValues("truncate_regrown").Inc()
			t.m.log.Warn("file truncated and rewritten past the read offset, reading it from the start", "path", t.path, "offset", from)
			t.reset()
			continue
		}
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				t.m.log.Warn("stopped tailing a file", "path", t.path, "err", err)
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		if t.grp.n > 0 && time.Since(t.grp.since) >= t.ml.MaxWait {
			if t.flushGroup(ctx) != nil || t.sink.Flush(ctx) != nil {
				return
			}
		}
		if fi, err := t.f.Stat(); err == nil && fi.Size() < t.readOff {
			// Truncated in place (copytruncate): start over.
			t.m.met.rotations.WithLabelValues("truncate").Inc()
			t.m.log.Info("file truncated, reading it from the start", "path", t.path)
			t.reset()
			continue
		}
		if t.drain || t.m.gone(t.path, t.key) {
			// Rotated or deleted: finish the file. A runtime may write a
			// last line just after the rename, so wait one poll period
			// with nothing new before closing it.
			if t.rotatedAt.IsZero() || got {
				t.rotatedAt = time.Now()
			} else if time.Since(t.rotatedAt) >= poll {
				if t.flushAll(ctx) != nil || t.sink.Flush(ctx) != nil {
					return
				}
				t.cursor.finish(t.readOff)
				t.m.met.rotations.WithLabelValues("finished").Inc()
				return
			}
		}
		wait := poll
		if t.grp.n > 0 {
			wait = min(wait, max(time.Millisecond, t.ml.MaxWait-time.Since(t.grp.since)))
		}
		if !t.rotatedAt.IsZero() {
			wait = min(wait, t.m.cfg.PollInterval)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (t *tailer) reset() {
	_, _ = t.f.Seek(0, io.SeekStart)
	t.readOff = 0
	t.carry = t.carry[:0]
	t.format = FormatUnknown
	for i := range t.partial {
		t.partial[i].buf = t.partial[i].buf[:0]
	}
	t.grp.n = 0
	t.fpLen, t.fp = 0, 0
	t.cursor.reset()
}

// readAvailable reads and processes everything up to EOF. It reports
// whether anything was read.
func (t *tailer) readAvailable(ctx context.Context) (bool, error) {
	select {
	case t.m.readSlots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-t.m.readSlots }()
	if t.fpLen > 0 {
		if fi, err := t.f.Stat(); err == nil && fi.Size() > t.readOff && t.headRewritten() {
			return false, errRewritten
		}
	}
	bp := bufPool.Get().(*[]byte)
	buf := append((*bp)[:0], t.carry...)
	defer func() {
		if cap(buf) <= 256<<10 {
			*bp = buf[:0]
		}
		bufPool.Put(bp)
	}()
	maxLine := t.m.cfg.MaxLineSize
	got := false
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxLine {
				// A line longer than the limit with no newline yet: cut
				// it here, the rest comes as the next line.
				t.m.met.cutLines.Inc()
				base := t.readOff - int64(len(buf))
				if err := t.line(ctx, buf[:maxLine], base, base+int64(maxLine)); err != nil {
					return got, err
				}
				buf = buf[:copy(buf, buf[maxLine:])]
				continue
			}
			buf = append(buf, make([]byte, min(cap(buf), maxLine))...)[:len(buf)]
		}
		n, err := t.f.Read(buf[len(buf):cap(buf)])
		if n > 0 {
			began := time.Now()
			got = true
			t.m.met.bytesRead.Add(float64(n))
			start := len(buf)
			buf = buf[:len(buf)+n]
			t.readOff += int64(n)
			base := t.readOff - int64(len(buf))
			pos := 0
			for i := start; i < len(buf); i++ {
				if buf[i] != '\n' {
					continue
				}
				if err := t.line(ctx, buf[pos:i+1], base+int64(pos), base+int64(i+1)); err != nil {
					// Not sent: rewind so that nothing is skipped if
					// reading resumes.
					return got, err
				}
				pos = i + 1
			}
			buf = buf[:copy(buf, buf[pos:])]
			if err := t.sink.Flush(ctx); err != nil {
				return got, err
			}
			if time.Since(began) >= t.m.cfg.PollInterval && t.headRewritten() {
				// The shipper held us long enough for a copytruncate
				// and a rewrite: what follows in the file is new content.
				return got, errRewritten
			}
		}
		if err == io.EOF || (err == nil && n == 0) {
			break
		}
		if err != nil {
			return got, err
		}
	}
	t.carry = append(t.carry[:0], buf...)
	if cap(t.carry) > 64<<10 && len(t.carry) < 4<<10 {
		t.carry = append([]byte(nil), t.carry...)
	}
	if got && t.fpLen < fingerprintSize && t.readOff > int64(t.fpLen) {
		t.updateFingerprint()
	}
	return got, nil
}

// updateFingerprint hashes the first bytes of the file (up to
// fingerprintSize) so that an inode reused by another file is not taken
// for this one after a restart.
func (t *tailer) updateFingerprint() {
	n := int(min(t.readOff, fingerprintSize))
	b := make([]byte, n)
	if _, err := t.f.ReadAt(b, 0); err != nil {
		return
	}
	t.fpLen, t.fp = n, fingerprint(b)
	t.cursor.setFingerprint(n, t.fp)
}

// errRewritten is readAvailable's report of headRewritten.
var errRewritten = errors.New("file head rewritten")

// headRewritten reports whether the first fpLen bytes of the file are no
// longer those read: the file was truncated and written again. Log files
// only grow at the end, so their head never changes otherwise. A file now
// shorter than fpLen is the size check's case, not this one.
func (t *tailer) headRewritten() bool {
	if t.fpLen == 0 {
		return false
	}
	var b [fingerprintSize]byte
	n, _ := t.f.ReadAt(b[:t.fpLen], 0)
	return n == t.fpLen && fingerprint(b[:n]) != t.fp
}

func fingerprint(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// line handles one raw line [start, end) of the file.
func (t *tailer) line(ctx context.Context, raw []byte, start, end int64) error {
	if t.format == FormatUnknown {
		t.format = Detect(raw)
		t.m.met.files.WithLabelValues(t.format.String()).Inc()
	}
	var p Piece
	switch t.format {
	case FormatCRI:
		if ParseCRI(raw, &p) != nil {
			t.m.met.parseErrors.WithLabelValues("cri").Inc()
			p = Piece{Msg: trimEOL(raw)}
		}
	case FormatDocker:
		var err error
		if t.dbuf, err = ParseDocker(raw, t.dbuf, &p); err != nil {
			t.m.met.parseErrors.WithLabelValues("docker").Inc()
			p = Piece{Msg: trimEOL(raw)}
		}
		if cap(t.dbuf) > 256<<10 {
			defer func() { t.dbuf = nil }()
		}
	default:
		p = Piece{Msg: trimEOL(raw)}
	}
	return t.piece(ctx, &p, start, end)
}

// piece reassembles runtime-split pieces (CRI P, Docker without newline).
func (t *tailer) piece(ctx context.Context, p *Piece, start, end int64) error {
	pb := &t.partial[p.Stream]
	if p.Partial {
		if len(pb.buf) == 0 {
			pb.start, pb.time = start, p.Time
		}
		pb.buf = append(pb.buf, p.Msg...)
		if len(pb.buf) < t.m.cfg.MaxLineSize {
			return nil
		}
		t.m.met.cutLines.Inc() // runaway partial line: ship what we have
	}
	msg, ts, s := p.Msg, p.Time, p.Stream
	if len(pb.buf) > 0 {
		if !p.Partial {
			pb.buf = append(pb.buf, p.Msg...)
		}
		msg, ts, start = pb.buf, pb.time, pb.start
	}
	err := t.entry(ctx, ts, s, msg, start, end)
	pb.buf = pb.buf[:0]
	if cap(pb.buf) > 256<<10 {
		pb.buf = nil
	}
	return err
}

// entry applies multiline grouping.
func (t *tailer) entry(ctx context.Context, ts time.Time, s Stream, msg []byte, start, end int64) error {
	if t.ml == nil {
		return t.emit(ctx, ts, s, msg, end)
	}
	g := &t.grp
	if g.n > 0 && (s != g.stream || g.n >= t.ml.MaxLines || len(g.buf)+len(msg) >= t.m.cfg.MaxLineSize || t.ml.FirstLine.Match(msg)) {
		if err := t.flushGroup(ctx); err != nil {
			return err
		}
	}
	if g.n == 0 {
		g.buf = append(g.buf[:0], msg...)
		g.start, g.time, g.stream, g.since = start, ts, s, time.Now()
	} else {
		g.buf = append(g.buf, '\n')
		g.buf = append(g.buf, msg...)
	}
	g.n++
	g.end = end
	return nil
}

func (t *tailer) flushGroup(ctx context.Context) error {
	g := &t.grp
	if g.n == 0 {
		return nil
	}
	g.n = 0
	err := t.emit(ctx, g.time, g.stream, g.buf, g.end)
	if cap(g.buf) > 256<<10 {
		g.buf = nil
	}
	if err != nil {
		g.n = 1 // keep it for a retry; nothing was committed
	}
	return err
}

// flushAll ships whatever is pending at the end of a file.
func (t *tailer) flushAll(ctx context.Context) error {
	if len(t.carry) > 0 {
		base := t.readOff - int64(len(t.carry))
		if err := t.line(ctx, t.carry, base, t.readOff); err != nil {
			return err
		}
		t.carry = t.carry[:0]
	}
	for s := range t.partial {
		pb := &t.partial[s]
		if len(pb.buf) > 0 {
			p := Piece{Time: pb.time, Stream: Stream(s), Msg: nil}
			if err := t.piece(ctx, &p, pb.start, t.readOff); err != nil {
				return err
			}
		}
	}
	return t.flushGroup(ctx)
}

// emit sends a record, with an offset that does not pass the start of any
// entry still being assembled.
func (t *tailer) emit(ctx context.Context, ts time.Time, s Stream, msg []byte, end int64) error {
	off := end
	for i := range t.partial {
		// The partial of stream s is the entry being emitted or starts
		// after it; only the other streams' pending pieces hold us back.
		if Stream(i) != s && len(t.partial[i].buf) > 0 && t.partial[i].start < off {
			off = t.partial[i].start
		}
	}
	if t.grp.n > 0 && t.grp.start < off {
		off = t.grp.start
	}
	t.rec = Record{Time: ts, Stream: s, Line: msg, Level: Level(msg), Offset: off}
	t.m.met.entries.Inc()
	return t.sink.Send(ctx, &t.rec)
}

func statKey(fi os.FileInfo) fileKey {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileKey{Dev: uint64(st.Dev), Ino: st.Ino}
	}
	return fileKey{}
}
