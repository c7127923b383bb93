package lokipush

import (
	"context"
	"sync"
	"time"
	"unsafe"

	"github.com/copenhagen-obs/copenhagen/ingest/logs"
	"github.com/copenhagen-obs/copenhagen/translate/streams"
)

// NewFileSink returns the sink of one file: its streams and where its
// acknowledgements go (the file's logs.Cursor).
func NewFileSink(p *Pusher, file *streams.File, ack Acker) *FileSink {
	return &FileSink{p: p, file: file, md: streams.NewWithLevel(file.Metadata), ack: ack}
}

// FileSink is the logs.Sink of one tailed file: it turns the file's
// records into entries of the file's streams (translate/streams), with
// the level as structured metadata, and hands them to the Pusher a read
// at a time (PushMany) rather than line by line. One tailer goroutine
// owns it.
type FileSink struct {
	p       *Pusher
	file    *streams.File
	md      *streams.WithLevel
	ack     Acker
	pending []Entry
	bytes   int
	// arena holds the lines of pending entries: one allocation per read
	// instead of one per line. Its bytes are never written again once a
	// string points at them, and it is let go at every Flush, so an idle
	// file holds no memory.
	arena []byte
}

// line copies b into the arena and returns it as a string.
func (s *FileSink) line(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > sinkFlushBytes/4 {
		return string(b)
	}
	if cap(s.arena)-len(s.arena) < len(b) {
		s.arena = make([]byte, 0, sinkFlushBytes)
	}
	start := len(s.arena)
	s.arena = append(s.arena, b...)
	return unsafe.String(&s.arena[start], len(b))
}

// sinkFlushBytes bounds what one file holds before handing it over.
const sinkFlushBytes = 16 << 10

// Send implements logs.Sink.
func (s *FileSink) Send(ctx context.Context, r *logs.Record) error {
	ts := r.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	if s.pending == nil {
		s.pending = (*pendingPool.Get().(*[]Entry))[:0]
	}
	s.pending = append(s.pending, Entry{
		Labels: s.file.Labels[r.Stream], Time: ts, Line: s.line(r.Line),
		Metadata: s.md.Get(r.Level), Ack: s.ack, Offset: r.Offset,
	})
	s.bytes += len(r.Line)
	if s.bytes >= sinkFlushBytes || len(s.pending) >= 256 {
		return s.Flush(ctx)
	}
	return nil
}

// Flush implements logs.Sink: it hands over what the file holds.
func (s *FileSink) Flush(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	err := s.p.PushMany(ctx, s.pending)
	clear(s.pending)
	done := s.pending[:0]
	pendingPool.Put(&done)
	s.pending, s.bytes, s.arena = nil, 0, nil
	return err
}

// pendingPool shares the entry slices of the sinks: an idle file holds
// none.
var pendingPool = sync.Pool{New: func() any { s := make([]Entry, 0, 256); return &s }}

// Close releases the file's streams from the stream limit.
func (s *FileSink) Close() { s.file.Release() }
