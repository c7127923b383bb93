package routing

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/notifier"
)

// BenchmarkSend is what one evaluation costs the evaluator per 100
// alerts: conversion and enqueueing; routing happens in the background.
func BenchmarkSend(b *testing.B) {
	dir := b.TempDir()
	cfg := filepath.Join(dir, "am.yml")
	writeFileB(b, cfg, "route: {receiver: none, group_by: [check_id]}\nreceivers: [{name: none}]\n")
	r, err := New(Options{ConfigFile: cfg, DataDir: b.TempDir(), QueueSize: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Stop()
	now := time.Now()
	alerts := make([]*notifier.Alert, 100)
	for i := range alerts {
		alerts[i] = alert("c"+strconv.Itoa(i%10), "check", "critical", "host="+strconv.Itoa(i)+",", "1", now, now.Add(time.Hour))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Send(alerts...)
	}
}
