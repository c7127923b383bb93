package graphite

import "slices"

// ErrPickleTooComplex: a pickle frame that needs more decoded values at
// once than one per two bytes of the frame (see PickleDecoder). Carbon
// senders need about one per five; frames built to make the decoder
// allocate (megabytes of EMPTY_LIST or MARK opcodes) are refused as a
// whole and counted once, and the connection goes on with the next frame.
var ErrPickleTooComplex = newParseError("pickle_too_complex", "graphite: pickle needs more values than its size allows")

const (
	// minUnits is the bound of values of the smallest frames.
	minUnits = 4096
	// keepUnits is the size up to which a decoder keeps a buffer for
	// the next frame: 64 Ki values of 24 bytes, 1.5 MiB. Larger buffers
	// are released, so an idle connection holds little.
	keepUnits = 1 << 16
	keepItems = 1 << 14
	keepBytes = 1 << 20
)

// units counts the values the decoder holds: what its memory is
// proportional to.
func (d *PickleDecoder) units() int {
	return len(d.stack) + len(d.marks) + d.memoLen + len(d.elems) + d.listElems + d.nlists
}

// release drops the buffers a large frame grew and the references to
// the frame, so neither outlives the call.
func (d *PickleDecoder) release() {
	d.frame, d.emit, d.item = nil, nil, PickleItem{}
	if cap(d.stack) > keepUnits {
		d.stack = nil
	}
	if cap(d.marks) > keepUnits {
		d.marks = nil
	}
	if cap(d.memo) > keepUnits {
		d.memo, d.memoLen = nil, 0
	}
	if cap(d.elems) > keepUnits {
		d.elems = nil
	}
	if cap(d.lists) > keepUnits/16 || d.listElems > keepUnits {
		d.lists, d.nlists, d.listElems = nil, 0, 0
	}
	if cap(d.scratch) > keepBytes {
		d.scratch = nil
	}
}

// grow makes room for n more values, doubling but never beyond limit
// (the most values a frame may hold, past which Decode fails anyway):
// append grows large slices by a quarter, which allocates five times the
// final size on the way, while doubling allocates twice.
func grow[T any](s []T, n, limit int) []T {
	if len(s)+n <= cap(s) {
		return s
	}
	c := min(max(2*len(s), 16), limit) // the new capacity
	return slices.Grow(s, max(c-len(s), n))
}
