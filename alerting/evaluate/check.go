package evaluate

import (
	"log/slog"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
)

// CheckFiles parses the rule files matched by patterns, as `copenhagen
// check config` does before anything runs, and returns how many files
// there were.
func CheckFiles(patterns []string) (int, error) {
	files, err := Files(patterns)
	if err != nil {
		return 0, err
	}
	p := parser.NewParser(parser.Options{})
	return len(files), rules.ParseFiles(files, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
}
