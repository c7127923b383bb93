package seyren

import (
	"encoding/json"
	"fmt"
)

// ShadowChecksFile is the import's own copy of the checks, for the
// switchover shadow (config shadow.checks_file): the checks' targets,
// windows, thresholds and allowNoData are not in the rules, and the
// shadow evaluates them Seyren's way next to the rules.
const ShadowChecksFile = "shadow/checks.json"

// shadowChecks writes checks as Seyren's /api/checks page, which
// ParseChecks (and `import seyren --from`) reads back.
func shadowChecks(checks []Check) ([]byte, error) {
	page := struct {
		Values []Check `json:"values"`
		Items  int     `json:"items"`
		Start  int     `json:"start"`
		Total  int     `json:"total"`
	}{Values: checks, Items: len(checks), Total: len(checks)}
	if page.Values == nil {
		page.Values = []Check{}
	}
	data, err := json.MarshalIndent(page, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", ShadowChecksFile, err)
	}
	return append(data, '\n'), nil
}
