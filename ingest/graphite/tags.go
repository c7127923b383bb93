package graphite

import (
	"bytes"
	"slices"
)

// smallTags is the tag count up to which duplicates are found by
// comparing every pair: fewer than 64 comparisons, and no index to sort.
const smallTags = 8

// dedupTags removes repeated tag keys as carbon does (it keeps tags in a
// dict): the value sent last wins, at the place of the key's first
// occurrence, so the order of first occurrences is kept. It is linear for
// the few tags of real paths and O(n log n) beyond, so that a hostile path
// with 100 000 tags costs milliseconds rather than minutes. It allocates
// nothing once the Point's index buffer has grown.
func (p *Point) dedupTags() {
	tags := p.Tags
	if len(tags) <= smallTags {
		n := 0
	next:
		for _, t := range tags {
			for i := range n {
				if bytes.Equal(tags[i].Key, t.Key) {
					tags[i].Value = t.Value
					continue next
				}
			}
			tags[n] = t
			n++
		}
		p.Tags = tags[:n]
		return
	}
	// Sort positions by key, then position: each run of equal keys starts
	// with the first occurrence and ends with the last.
	idx := p.tagIdx[:0]
	for i := range tags {
		idx = append(idx, int32(i))
	}
	slices.SortFunc(idx, func(a, b int32) int {
		if c := bytes.Compare(tags[a].Key, tags[b].Key); c != 0 {
			return c
		}
		return int(a - b)
	})
	dups := false
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && bytes.Equal(tags[idx[i]].Key, tags[idx[j]].Key) {
			j++
		}
		if j > i+1 {
			dups = true
			first := idx[i]
			tags[first].Value = tags[idx[j-1]].Value
			for _, k := range idx[i+1 : j] {
				tags[k].Key = nil // removed below
			}
		}
		i = j
	}
	p.tagIdx = idx
	if !dups {
		return
	}
	n := 0
	for _, t := range tags {
		if t.Key != nil {
			tags[n] = t
			n++
		}
	}
	p.Tags = tags[:n]
}
