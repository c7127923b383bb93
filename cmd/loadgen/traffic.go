package main

import (
	"strconv"
	"strings"
)

// traffic is the pre-built load: datagrams of counter lines that senders
// cycle through. Building it up front keeps formatting out of the timed
// loop.
type traffic struct {
	datagrams [][]byte // lines separated by '\n', no final newline
	lines     []int    // lines in each datagram
}

// buildTraffic packs lines "<prefix>.name_<i>:1|c", i cycling over names,
// into datagrams of at most size bytes. It builds at least one full cycle
// of names and at least minDatagrams datagrams, ending on a full datagram,
// so that cycling the set keeps every datagram full.
func buildTraffic(prefix string, names, size, minDatagrams int) traffic {
	var t traffic
	var cur []byte
	curLines := 0
	total := 0
	for i := 0; ; i++ {
		line := prefix + ".name_" + strconv.Itoa(i%names) + ":1|c"
		if curLines > 0 && len(cur)+1+len(line) > size {
			t.datagrams = append(t.datagrams, cur)
			t.lines = append(t.lines, curLines)
			cur, curLines = nil, 0
			if total >= names && len(t.datagrams) >= minDatagrams {
				break
			}
		}
		if curLines > 0 {
			cur = append(cur, '\n')
		}
		cur = append(cur, line...)
		curLines++
		total++
	}
	return t
}

// avgLines is the mean number of lines per datagram.
func (t traffic) avgLines() float64 {
	n := 0
	for _, l := range t.lines {
		n += l
	}
	return float64(n) / float64(len(t.lines))
}

// escapeName is how an unmapped StatsD name becomes a Prometheus name:
// every character outside [a-zA-Z0-9_] becomes '_'.
func escapeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}
