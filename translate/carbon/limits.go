package carbon

import (
	"github.com/prometheus/prometheus/model/labels"

	"github.com/copenhagen-obs/copenhagen/ingest/graphite"
)

// checkTags refuses a point whose tags alone break a label limit, before
// any label is built: a pickle path may carry 50 000 tags or a value of
// megabytes, and escaping and sorting those for a series that will be
// refused anyway is wasted work.
func (t *Translator) checkTags(p *graphite.Point) string {
	o := &t.opts
	if o.MaxLabels > 0 && len(p.Tags)+1 > o.MaxLabels {
		return ReasonTooManyLabels
	}
	for _, tg := range p.Tags {
		if o.MaxLabelNameLength > 0 && len(tg.Key) > o.MaxLabelNameLength {
			return ReasonLabelNameTooLong
		}
		if o.MaxLabelValueLength > 0 && len(tg.Value) > o.MaxLabelValueLength {
			return ReasonLabelValueTooLong
		}
	}
	return ""
}

// checkLabels applies the limits to the series' final labels (tags,
// escaped, plus the mapping rule's labels and __name__), as Prometheus
// applies label_limit and friends after relabelling.
func (t *Translator) checkLabels(ls labels.Labels) string {
	o := &t.opts
	if o.MaxLabels > 0 && ls.Len() > o.MaxLabels {
		return ReasonTooManyLabels
	}
	reason := ""
	ls.Range(func(l labels.Label) {
		switch {
		case reason != "":
		case o.MaxLabelNameLength > 0 && len(l.Name) > o.MaxLabelNameLength:
			reason = ReasonLabelNameTooLong
		case o.MaxLabelValueLength > 0 && len(l.Value) > o.MaxLabelValueLength:
			reason = ReasonLabelValueTooLong
		}
	})
	return reason
}
