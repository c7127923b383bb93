package graphite

// ErrTooFarInFuture: a point stamped further ahead of the receiving
// host's clock than ProcessorOptions.MaxFuture (graphite.max_future). A
// client sending local time as epoch (UTC+2 is two hours ahead) is the
// usual cause. Stored, such a point would move the TSDB head ahead of the
// present, after which every point of the present is refused as too old.
var ErrTooFarInFuture = newParseError("too_far_in_future", "graphite: timestamp too far in the future (graphite.max_future)")

// tooFarAhead reports whether a point at ts (Unix ms) is beyond the bound
// at now; maxFuture 0 means no bound.
func (p *Processor) tooFarAhead(ts, now int64) bool {
	return p.maxFuture > 0 && ts > now+p.maxFuture
}
