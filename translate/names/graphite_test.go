package names

import "testing"

func TestEscapeGraphite(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a.b-c", "a_b_c"},
		{"servers.web01.cpu.load", "servers_web01_cpu_load"},
		{"job:requests:rate5m", "job:requests:rate5m"},
		{"1st.metric", "_1st_metric"},
		{"café.visits", "caf__visits"}, // one '_' per character, not per byte
		{"bad\xffbyte", "bad_byte"},    // invalid UTF-8: one '_' per byte
		{"a b/c%d", "a_b_c_d"},         // spaces and punctuation
		{"already_valid_Name9", "already_valid_Name9"},
		{"", ""},
	}
	for _, c := range cases {
		if got := EscapeGraphite(c.in); got != c.want {
			t.Errorf("EscapeGraphite(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEscapeGraphiteDiffersFromStatsDOnlyOnColon(t *testing.T) {
	// StatsD escaping turns ':' into '_'; Graphite keeps it. Elsewhere the
	// two agree, so a name sent through either protocol lands on one series.
	for _, in := range []string{"a.b-c", "1st.metric", "x.y.z", "a b"} {
		if g, s := EscapeGraphite(in), Escape(in); g != s {
			t.Errorf("%q: graphite %q, statsd %q", in, g, s)
		}
	}
	if g, s := EscapeGraphite("a:b"), Escape("a:b"); g != "a:b" || s != "a_b" {
		t.Errorf("a:b: graphite %q, statsd %q", g, s)
	}
}

func TestEscapeLabelName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"host", "host"},
		{"data-center", "data_center"},
		{"a:b", "a_b"}, // ':' is not allowed in label names
		{"9lives", "_9lives"},
		{"__name__", "tag__name__"}, // a tag cannot replace the metric name
		{"__x", "tag__x"},
		{"_x", "_x"},
		{"", ""},
	}
	for _, c := range cases {
		if got := EscapeLabelName(c.in); got != c.want {
			t.Errorf("EscapeLabelName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEscapeGraphiteNoAllocWhenValid(t *testing.T) {
	n := testing.AllocsPerRun(100, func() { _ = EscapeGraphite("servers_web01_cpu") })
	if n != 0 {
		t.Fatalf("allocs = %v, want 0", n)
	}
}
