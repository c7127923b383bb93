package config

import (
	"strings"
	"testing"
)

func wantLabelLimitsDefault() LabelLimits {
	return LabelLimits{LabelLimit: 30, LabelNameLengthLimit: 1024, LabelValueLengthLimit: 2048}
}

func TestLabelLimits(t *testing.T) {
	c, err := Parse([]byte("statsd:\n  label_limit: 0\n  label_value_length_limit: 100\ngraphite:\n  label_name_length_limit: 64\n  max_future: 1h\n"), "limits.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.StatsD.LabelLimit != 0 || c.StatsD.LabelValueLengthLimit != 100 || c.StatsD.LabelNameLengthLimit != 1024 ||
		c.Graphite.LabelNameLengthLimit != 64 || c.Graphite.LabelLimit != 30 || c.Graphite.MaxFuture.Hours() != 1 {
		t.Fatalf("statsd %+v graphite %+v %v", c.StatsD.LabelLimits, c.Graphite.LabelLimits, c.Graphite.MaxFuture)
	}
	_, err = Parse([]byte("statsd:\n  label_limit: -1\ngraphite:\n  label_limit: 1\n  label_value_length_limit: -5\n  max_future: 0s\n"), "limits.yml")
	for _, want := range []string{
		"statsd.label_limit: must be 0 (no limit) or more, got -1",
		"graphite.label_limit: must leave room for a label besides __name__",
		"graphite.label_value_length_limit: must be 0 (no limit) or more, got -5",
		"graphite.max_future: must be greater than 0",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}
