package shadow

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzSeyrenHistory: whatever an alerts page holds (Seyren's, or a proxy
// in front of it), decoding it and rebuilding the timelines never panics
// and every instant gets one answer.
func FuzzSeyrenHistory(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "seyren", "history.json"))
	if err != nil {
		f.Fatal(err)
	}
	var fx struct {
		Alerts json.RawMessage `json:"alerts"`
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"values": ` + string(fx.Alerts) + `, "total": 17}`))
	f.Add([]byte(`{"values": [{"id": "x", "target": "a", "fromType": "WARN", "toType": "OK", "timestamp": -9223372036854775808}]}`))
	f.Add([]byte(`{"values": [{"id": "x", "toType": "EXCEPTION", "timestamp": 9223372036854775807, "value": 1e999}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var p SeyrenPage[SeyrenAlert]
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if err := d.Decode(&p); err != nil {
			return
		}
		end := time.UnixMilli(1764583800000)
		h := BuildHistory(p.Values, true, end, time.Minute)
		for _, tl := range h.Timelines {
			for _, s := range tl.Segments {
				if s.To.Before(s.From) {
					t.Fatalf("segment ends before it starts: %+v", s)
				}
			}
		}
		for _, at := range []time.Time{end.Add(-time.Hour), end.Add(-time.Second), end, end.Add(time.Second)} {
			st, why, _ := h.CheckAt(at)
			if why != "" && st != Unknown {
				t.Fatalf("at %s: %s with reason %q", at, st, why)
			}
		}
	})
}

// BenchmarkSeyrenCheckAt: the replay asks the rebuilt history once per
// check per step.
func BenchmarkSeyrenCheckAt(b *testing.B) {
	var rows []SeyrenAlert
	base := int64(1764583200000)
	for tgt := 0; tgt < 20; tgt++ {
		for m := 0; m < 1440; m++ { // a day of WARN rows per target
			rows = append(rows, SeyrenAlert{ID: string(rune('a'+tgt)) + time.UnixMilli(int64(m)).String(), Target: string(rune('a' + tgt)),
				FromType: Warn, ToType: Warn, Timestamp: base + int64(m)*60000 + int64(tgt)})
		}
	}
	h := BuildHistory(rows, true, time.UnixMilli(base+1440*60000), time.Minute)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.CheckAt(time.UnixMilli(base + int64(i%1440)*60000 + 30000))
	}
}

// BenchmarkSeyrenBuildHistory: a day of rows of a 20-series check.
func BenchmarkSeyrenBuildHistory(b *testing.B) {
	var rows []SeyrenAlert
	base := int64(1764583200000)
	for tgt := 0; tgt < 20; tgt++ {
		for m := 0; m < 1440; m++ {
			rows = append(rows, SeyrenAlert{Target: string(rune('a' + tgt)), FromType: Warn, ToType: Warn, Timestamp: base + int64(m)*60000})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		BuildHistory(rows, true, time.UnixMilli(base+1440*60000), time.Minute)
	}
}
