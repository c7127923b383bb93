package statsd

import (
	"fmt"
	"strings"
	"testing"
)

// TestTagDedupManyTags checks the sorted path of dedupLast against the
// pairwise one: the same line with and without padding tags keeps the
// same last values.
func TestTagDedupManyTags(t *testing.T) {
	var pad []string
	for i := range 20 {
		pad = append(pad, fmt.Sprintf("p%d:x", i))
	}
	line := "m:1|c|#a:1,b:2,a:3," + strings.Join(pad, ",") + ",b:4,c:5"
	var l Line
	if err := l.Parse([]byte(line)); err != nil {
		t.Fatal(err)
	}
	tags, err := l.Tags(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range tags {
		if _, dup := got[string(tg.Key)]; dup {
			t.Fatalf("key %s twice in %v", tg.Key, tags)
		}
		got[string(tg.Key)] = string(tg.Value)
	}
	if len(tags) != 23 || got["a"] != "3" || got["b"] != "4" || got["c"] != "5" {
		t.Fatalf("%d tags: %v", len(tags), got)
	}
	if last := tags[len(tags)-1]; string(last.Key) != "c" || string(tags[len(tags)-2].Key) != "b" {
		t.Fatalf("order: the last occurrence's place is kept: %v", tags)
	}
}
