package tv

import (
	"math"
	"net/http/httptest"
	"testing"
)

// FuzzFormatValue: any float64 gives a short text that fits a tile.
func FuzzFormatValue(f *testing.F) {
	for _, v := range []float64{0, 1, -1, 0.5, 1234.5, 12345, 1e15, -1e300, 5e-324, math.NaN(), math.Inf(1)} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		s := FormatValue(v)
		if s == "" || len(s) > 10 {
			t.Fatalf("FormatValue(%v) = %q", v, s)
		}
	})
}

// FuzzParams: any query string is either refused or gives a team of
// bounded length and a refresh within the limits.
func FuzzParams(f *testing.F) {
	for _, q := range []string{"", "team=catalog", "refresh=1s", "refresh=10m&team=x", "refresh=-1s", "team=%00%ff", "refresh=1e9h"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		r := httptest.NewRequest("GET", "/tv", nil)
		r.URL.RawQuery = q
		p, err := parseParams(r)
		if err != nil {
			return
		}
		if len(p.team) > maxTeamLength || p.refresh < MinRefresh || p.refresh > MaxRefresh {
			t.Fatalf("%q: %+v", q, p)
		}
	})
}
