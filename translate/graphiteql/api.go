package graphiteql

// Status says how faithful a translation is.
type Status string

// Translation outcomes. A wrong rule that looks right is worse than no
// rule: anything without a faithful equivalent is Untranslated, with the
// reason.
const (
	Translated   Status = "translated"   // same values, same series
	Partial      Status = "partial"      // PromQL given, with approximations listed in Notes
	Untranslated Status = "untranslated" // no PromQL; Reason says why
)

// Result is the translation of one target.
type Result struct {
	Target string // the Graphite expression as given
	PromQL string // empty when Untranslated
	Status Status
	Reason string   // why Untranslated
	Notes  []string // approximations for Partial, informational otherwise
	// Legend names the series as Graphite did (graph semantics; set by
	// TranslateGraph, nil otherwise).
	Legend *Legend
}
