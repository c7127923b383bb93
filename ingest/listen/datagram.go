package listen

import (
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
)

// batchReader reads a batch of datagrams into buffers it owns. Each reader
// goroutine has its own, so buffers are reused without synchronisation.
type batchReader interface {
	// readBatch blocks until at least one datagram is available and returns
	// how many were read.
	readBatch() (int, error)
	// datagram returns the i-th datagram of the last batch, and whether the
	// kernel truncated it because it was larger than the buffer.
	datagram(i int) (b []byte, truncated bool)
}

// datagramReaders is the reading half shared by the UDP and unixgram
// listeners.
type datagramReaders struct {
	name       string
	logger     *slog.Logger
	ctr        *counters
	newHandler NewHandler
	maxSize    int
	run        *runState
	errLog     *ratelog.Limiter
	truncLog   *ratelog.Limiter
}

// loop reads batches until the socket is closed. Counters are kept in
// locals and published once per batch: at 50 000 datagrams/s an atomic add
// per datagram and per counter would be measurable contention between
// readers.
func (d *datagramReaders) loop(r batchReader) {
	h := d.newHandler()
	fl, _ := h.(Flusher)
	if fl != nil {
		defer fl.Flush()
	}
	for {
		n, err := r.readBatch()
		if n > 0 {
			var datagrams, bytes, truncated int
			for i := range n {
				b, trunc := r.datagram(i)
				datagrams++
				bytes += len(b)
				if trunc {
					truncated++
					continue
				}
				h.Handle(b)
			}
			d.ctr.datagrams.Add(float64(datagrams))
			d.ctr.bytes.Add(float64(bytes))
			if truncated > 0 {
				d.ctr.truncated.Add(float64(truncated))
				if ok, suppressed := d.truncLog.Allow(); ok {
					d.logger.Warn("dropped datagrams larger than the read buffer", "listener", d.name,
						"count", truncated, "max_datagram_size", d.maxSize, "suppressed_similar", suppressed)
				}
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) || d.run.isStopping() {
				return
			}
			d.errLog.Warn(d.logger, "reading datagrams failed", "listener", d.name, "err", err)
			// Do not spin on an error that repeats.
			time.Sleep(10 * time.Millisecond)
		}
	}
}
