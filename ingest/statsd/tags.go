package statsd

import "bytes"

// Tags appends the labels of the line to dst and returns the extended
// slice: first the name-dialect tags (InfluxDB, Librato or SignalFX), then
// the DogStatsD tags, each in wire order. Keys and values alias the line
// (and so the input of Parse); keys are raw, escaping them into Prometheus
// label names is the mapper's job.
//
// It is the slow path: a Processor's consumer calls it only when it sees a
// series (NameSection, Type, DogTags) for the first time, so the hot path
// never splits tags.
//
// Tags without a value ("|#flag", "k:", "k=") and empty entries yield
// nothing, as in statsd_exporter. A key that appears twice keeps its last
// value, as in statsd_exporter's label map, and the surviving tag sits where
// the last occurrence was, so that a caller who escapes keys and then lets
// later tags win still agrees with the exporter when two raw keys escape to
// the same name ("a-b" and "a_b"). Duplicates are found by raw key only.
//
// After a successful Parse, Tags never fails; it returns ErrMalformedTags,
// with dst unchanged, only when called on a Line whose Parse failed.
// Events and service checks have no tags.
func (l *Line) Tags(dst []Tag) ([]Tag, error) {
	if l.Kind != KindMetric {
		return dst, nil
	}
	start := len(dst)
	var err error
	if len(l.nameTags) > 0 {
		if dst, err = appendTags(dst, start, l.nameTags, '=', false); err != nil {
			return dst[:start], err
		}
	}
	if l.DogTags == nil {
		return dedupLast(dst, start), nil
	}
	// DogTags starts inside the first "|#" section and may span later
	// sections, of which only the "#" ones hold tags.
	d := l.DogTags
	for first := true; ; first = false {
		sec := d
		j := bytes.IndexByte(d, '|')
		if j >= 0 {
			sec = d[:j]
		}
		switch {
		case first:
		case len(sec) > 0 && sec[0] == '#':
			sec = sec[1:]
		default:
			sec = nil
		}
		if dst, err = appendTags(dst, start, sec, ':', true); err != nil {
			return dst[:start], err
		}
		if j < 0 {
			return dedupLast(dst, start), nil
		}
		d = d[j+1:]
	}
}

// appendTags is checkTags that also appends; Tags then removes repeated
// keys (dedupLast).
func appendTags(dst []Tag, start int, list []byte, sep byte, dog bool) ([]Tag, error) {
	for i := 0; i < len(list); i++ {
		if dog && list[i] == '#' {
			i++
		}
		begin, k := i, -1
		for ; i < len(list) && list[i] != ','; i++ {
			if k < 0 && list[i] == sep {
				k = i
			}
		}
		switch {
		case i == begin:
			continue
		case k == begin:
			return dst, ErrMalformedTags
		case k < 0:
			if !dog {
				return dst, ErrMalformedTags
			}
			continue
		case k == i-1:
			continue
		}
		dst = append(dst, Tag{Key: list[begin:k], Value: list[k+1 : i]})
	}
	return dst, nil
}
