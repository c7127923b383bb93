package graphite

import (
	"fmt"
	"strings"
	"testing"
)

// TestTagDedupMatchesCarbon checks both dedup strategies (few tags, many
// tags) against carbon's dict semantics: the last value of a key wins, at
// the place of its first occurrence, and "name" is dropped.
func TestTagDedupMatchesCarbon(t *testing.T) {
	cases := []struct{ path, want string }{
		{"a;x=1;y=2;x=3", "x=3 y=2"},
		{"a;name=zz;x=1", "x=1"},
		{"a;b=1;a=2;b=3;c=4;a=5", "b=3 a=5 c=4"},
	}
	// The same duplicates among more than smallTags tags.
	var long, want strings.Builder
	long.WriteString("m")
	for i := range 50 {
		fmt.Fprintf(&long, ";k%02d=v%d", i%20, i)
	}
	for i := range 20 {
		last := i
		for last+20 < 50 {
			last += 20
		}
		if i > 0 {
			want.WriteByte(' ')
		}
		fmt.Fprintf(&want, "k%02d=v%d", i, last)
	}
	cases = append(cases, struct{ path, want string }{long.String(), want.String()})
	for _, c := range cases {
		var p Point
		if err := p.ParsePath([]byte(c.path)); err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		var got []string
		for _, tg := range p.Tags {
			got = append(got, string(tg.Key)+"="+string(tg.Value))
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%.60s: got %s, want %s", c.path, g, c.want)
		}
	}
}

// TestManyTagsAreLinear parses a path with 100 000 distinct tags (what
// one pickle element can carry). Quadratic dedup took minutes here; the
// test only checks the result, the benchmark measures the time.
func TestManyTagsAreLinear(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("m")
	for i := range 100000 {
		fmt.Fprintf(&sb, ";t%d=v", i)
	}
	sb.WriteString(";t7=last")
	var p Point
	if err := p.ParsePath([]byte(sb.String())); err != nil {
		t.Fatal(err)
	}
	if len(p.Tags) != 100000 || string(p.Tags[7].Value) != "last" {
		t.Fatalf("%d tags, t7=%s", len(p.Tags), p.Tags[7].Value)
	}
}
