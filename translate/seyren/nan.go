package seyren

import (
	"fmt"
	"math"

	"github.com/prometheus/prometheus/promql/parser"
)

// skipNaN makes the last point of a subquery window the last non-NaN one,
// as Graphite's null-skip does: graphite-web renders NaN as null and Seyren
// takes the last non-null point. Without it an idle timer's
// histogram_quantile of no observation (NaN) becomes the check's value:
// its alerts resolve while Seyren keeps ERROR on the last real p90.
// Every last_over_time over a subquery gets its inner expression filtered
// with `>= -Inf`, which is false for NaN only.
func skipNaN(expr string) (string, bool, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return "", false, fmt.Errorf("value PromQL does not parse: %w", err)
	}
	changed := false
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		call, ok := n.(*parser.Call)
		if !ok || call.Func == nil || call.Func.Name != "last_over_time" || len(call.Args) != 1 {
			return nil
		}
		sq, ok := call.Args[0].(*parser.SubqueryExpr)
		if !ok || isNaNFilter(sq.Expr) {
			return nil
		}
		lhs := sq.Expr
		if _, paren := lhs.(*parser.ParenExpr); !paren {
			lhs = &parser.ParenExpr{Expr: lhs}
		}
		sq.Expr = &parser.ParenExpr{Expr: &parser.BinaryExpr{
			Op:  parser.GTE,
			LHS: lhs,
			RHS: &parser.NumberLiteral{Val: math.Inf(-1)},
		}}
		changed = true
		return nil
	})
	if !changed {
		return expr, false, nil
	}
	out := e.String()
	if _, err := parser.NewParser(parser.Options{}).ParseExpr(out); err != nil {
		return "", false, fmt.Errorf("NaN-skipping PromQL does not parse: %w", err)
	}
	return out, true, nil
}

func isNaNFilter(e parser.Expr) bool {
	if p, ok := e.(*parser.ParenExpr); ok {
		e = p.Expr
	}
	b, ok := e.(*parser.BinaryExpr)
	if !ok || b.Op != parser.GTE || b.ReturnBool {
		return false
	}
	n, ok := b.RHS.(*parser.NumberLiteral)
	return ok && math.IsInf(n.Val, -1)
}
