package sharedmetric

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestSecondInstanceGetsTheFirstOnesVector(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "copenhagen_test_total", Help: "h"}
	a, err := Register(reg, prometheus.NewCounterVec(opts, []string{"listener"}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Register(reg, prometheus.NewCounterVec(opts, []string{"listener"}))
	if err != nil || a != b {
		t.Fatalf("second registration: err %v, same vector %v", err, a == b)
	}
	// A different description is a real conflict.
	if _, err := Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "copenhagen_test_total", Help: "other"}, []string{"listener"})); err == nil {
		t.Fatal("conflicting registration accepted")
	}
}
