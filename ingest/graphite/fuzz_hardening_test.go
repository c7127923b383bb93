package graphite

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// FuzzTagDedup compares ParsePath's tag deduplication (pairwise or
// sorted) with the obvious quadratic one: carbon's dict, the last value
// of a key at the place of its first occurrence.
func FuzzTagDedup(f *testing.F) {
	f.Add([]byte("a=1;b=2;a=3"))
	f.Add([]byte("k0=a;k1=b;k2=c;k3=d;k4=e;k5=f;k6=g;k7=h;k8=i;k0=z;k5=y"))
	f.Add([]byte("name=x;a=1"))
	f.Fuzz(func(t *testing.T, tags []byte) {
		path := append([]byte("m;"), tags...)
		var p Point
		if err := p.ParsePath(path); err != nil {
			return
		}
		type kv struct{ k, v string }
		var want []kv
	next:
		for _, seg := range bytes.Split(tags, []byte(";")) {
			k, v, _ := bytes.Cut(seg, []byte("="))
			if string(k) == "name" {
				continue
			}
			for i := range want {
				if want[i].k == string(k) {
					want[i].v = string(v)
					continue next
				}
			}
			want = append(want, kv{string(k), string(v)})
		}
		if len(p.Tags) != len(want) {
			t.Fatalf("%q: %d tags, want %d", path, len(p.Tags), len(want))
		}
		for i, tg := range p.Tags {
			if string(tg.Key) != want[i].k || string(tg.Value) != want[i].v {
				t.Fatalf("%q: tag %d is %s=%s, want %s=%s", path, i, tg.Key, tg.Value, want[i].k, want[i].v)
			}
		}
	})
}

// FuzzProcessorMaxFuture feeds any block and pickle to a Processor with a
// future bound: no accepted point is beyond it.
func FuzzProcessorMaxFuture(f *testing.F) {
	now := time.UnixMilli(testNow)
	f.Add([]byte(fmt.Sprintf("a 1 %d\nb 2 %d\nc 3\nd 4 -1\n", now.Unix(), now.Unix()+7200)))
	f.Add(buildPickle(pickleItem{"p", float64(now.Unix() + 3600), 1}, pickleItem{"q", float64(now.Unix()), 1}))
	f.Fuzz(func(t *testing.T, in []byte) {
		limit := now.Add(10 * time.Minute).UnixMilli()
		sink := sinkFunc(func(p *Point) {
			if p.Timestamp > limit {
				t.Fatalf("point at %d accepted, beyond %d", p.Timestamp, limit)
			}
		})
		p := NewProcessor(sink, nil, ProcessorOptions{MaxFuture: 10 * time.Minute, Now: func() time.Time { return now }})
		p.Process(in)
		p.ProcessPickle(in)
		p.FlushStats()
	})
}
