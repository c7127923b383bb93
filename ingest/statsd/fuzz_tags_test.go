package statsd

import (
	"bytes"
	"testing"
)

// FuzzTagsDedup compares Tags' deduplication (pairwise or sorted) with
// the quadratic one it replaced: a repeated key keeps its last value, at
// the place of its last occurrence.
func FuzzTagsDedup(f *testing.F) {
	f.Add([]byte("m:1|c|#a:1,b:2,a:3"))
	f.Add([]byte("m:1|c|#k0:a,k1:b,k2:c,k3:d,k4:e,k5:f,k6:g,k7:h,k8:i,k0:z,k5:y"))
	f.Add([]byte("m;a=1;b=2:1|c|#a:3"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var l Line
		if l.Parse(in) != nil {
			return
		}
		got, err := l.Tags(nil)
		if err != nil {
			t.Fatalf("%q: Tags after a good Parse: %v", in, err)
		}
		seen := map[string]bool{}
		for _, tg := range got {
			if seen[string(tg.Key)] {
				t.Fatalf("%q: key %q twice", in, tg.Key)
			}
			seen[string(tg.Key)] = true
		}
		// dedupLast itself against the old way, on the raw pairs of the
		// input (duplicates kept), with a prefix it must not touch.
		var raw []Tag
		for _, kv := range bytes.Split(in, []byte(",")) {
			k, v, _ := bytes.Cut(kv, []byte(":"))
			raw = append(raw, Tag{Key: k, Value: v})
		}
		prefix := []Tag{{Key: []byte("a"), Value: []byte("keep")}}
		dst := dedupLast(append(append([]Tag(nil), prefix...), raw...), 1)
		want := append(prefix, oldDedup(raw)...)
		if len(dst) != len(want) {
			t.Fatalf("%q: %d tags, want %d", in, len(dst), len(want))
		}
		for i := range want {
			if !bytes.Equal(want[i].Key, dst[i].Key) || !bytes.Equal(want[i].Value, dst[i].Value) {
				t.Fatalf("%q: tag %d is %s:%s, want %s:%s", in, i, dst[i].Key, dst[i].Value, want[i].Key, want[i].Value)
			}
		}
	})
}

// oldDedup is the quadratic last-wins deduplication Tags used to do while
// appending.
func oldDedup(in []Tag) []Tag {
	var dst []Tag
	for _, t := range in {
		for x := range dst {
			if bytes.Equal(dst[x].Key, t.Key) {
				dst = append(dst[:x], dst[x+1:]...)
				break
			}
		}
		dst = append(dst, t)
	}
	return dst
}
