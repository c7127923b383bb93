package statsd

import (
	"bytes"
	"slices"
)

// dedupLast removes from dst[start:] every tag whose key is repeated
// later: the last value wins, at the place of its last occurrence. It
// compares pairs for the few tags of real lines and sorts an index beyond,
// so a line with thousands of tags costs O(n log n), not O(n²) (a 64 KiB
// line holds 16 000 tags: seconds of CPU per line before).
func dedupLast(dst []Tag, start int) []Tag {
	tags := dst[start:]
	n := len(tags)
	if n < 2 {
		return dst
	}
	keep := 0
	if n <= 8 {
	next:
		for i, t := range tags {
			for _, u := range tags[i+1:] {
				if bytes.Equal(t.Key, u.Key) {
					continue next
				}
			}
			tags[keep] = t
			keep++
		}
		return dst[:start+keep]
	}
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		if c := bytes.Compare(tags[a].Key, tags[b].Key); c != 0 {
			return c
		}
		return int(a - b)
	})
	drop := make([]bool, n)
	any := false
	for i := 0; i+1 < n; i++ {
		if bytes.Equal(tags[idx[i]].Key, tags[idx[i+1]].Key) {
			drop[idx[i]] = true // a later one has the same key
			any = true
		}
	}
	if !any {
		return dst
	}
	for i, t := range tags {
		if !drop[i] {
			tags[keep] = t
			keep++
		}
	}
	return dst[:start+keep]
}
