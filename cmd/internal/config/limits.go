package config

import "errors"

// LabelLimits bound the labels of one series, as Prometheus's
// label_limit, label_name_length_limit and label_value_length_limit bound
// a scraped series. They are keys of the statsd and graphite sections
// (inline). A series beyond a limit is refused and counted, never
// truncated: a truncated label would silently merge distinct series.
//
// The defaults are those of Grafana Mimir (max_label_names_per_series,
// max_label_name_length, max_label_value_length), the strictest of the
// common remote write receivers: a series Copenhagen stores locally but
// the receiver refuses would be lost there without a trace here.
type LabelLimits struct {
	// LabelLimit is the most labels a series may have, __name__ included
	// (as Prometheus counts); 0 means no limit.
	LabelLimit int `yaml:"label_limit"`
	// LabelNameLengthLimit is the most bytes of a label name; 0 means no
	// limit.
	LabelNameLengthLimit int `yaml:"label_name_length_limit"`
	// LabelValueLengthLimit is the most bytes of a label value; 0 means
	// no limit.
	LabelValueLengthLimit int `yaml:"label_value_length_limit"`
}

// Defaults of LabelLimits.
const (
	DefaultLabelLimit            = 30
	DefaultLabelNameLengthLimit  = 1024
	DefaultLabelValueLengthLimit = 2048
)

// SetDefaults sets the values used for keys absent from the file.
func (l *LabelLimits) SetDefaults() {
	l.LabelLimit = DefaultLabelLimit
	l.LabelNameLengthLimit = DefaultLabelNameLengthLimit
	l.LabelValueLengthLimit = DefaultLabelValueLengthLimit
}

// Validate refuses negative limits.
func (l *LabelLimits) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{
		{"label_limit", l.LabelLimit},
		{"label_name_length_limit", l.LabelNameLengthLimit},
		{"label_value_length_limit", l.LabelValueLengthLimit},
	} {
		if f.v < 0 {
			errs = append(errs, Fieldf(f.name, "must be 0 (no limit) or more, got %d", f.v))
		}
	}
	if l.LabelLimit == 1 {
		errs = append(errs, Fieldf("label_limit", "must leave room for a label besides __name__ (2 or more, or 0 for no limit), got 1"))
	}
	return errors.Join(errs...)
}
