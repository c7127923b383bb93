package main

import (
	"testing"

	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
)

// TestRemoteWriteConfigsSendNativeHistograms: the file's
// send_native_histograms reaches Prometheus's queue config, per target,
// and a target that does not set it does not send them (Prometheus's
// default).
func TestRemoteWriteConfigsSendNativeHistograms(t *testing.T) {
	var on, off config.RemoteWriteConfig
	on.SetDefaults()
	off.SetDefaults()
	on.URL, on.Name, on.SendNativeHistograms = "http://prometheus:9090/api/v1/write", "prometheus", true
	off.URL, off.Name = "http://victoria:8428/api/v1/write", "vm"
	out, err := remoteWriteConfigs([]config.RemoteWriteConfig{on, off})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || !out[0].SendNativeHistograms || out[1].SendNativeHistograms {
		t.Fatalf("send_native_histograms not passed on: %+v", out)
	}
}
