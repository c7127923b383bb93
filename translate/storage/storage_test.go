package storage_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

func open(t testing.TB, o cstorage.Options) *cstorage.Storage {
	t.Helper()
	st, err := cstorage.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// count returns how many samples of series name are stored between from
// and to (inclusive).
func count(t testing.TB, q storage.Queryable, name string, from, to int64) int {
	t.Helper()
	qr, err := q.Querier(from, to)
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	ss := qr.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", name))
	n := 0
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() != 0 {
			n++
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAppendQueryReopen(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	st := open(t, cstorage.Options{Path: dir, Registerer: reg})
	now := time.Now().UnixMilli()
	app := st.Appender(context.Background())
	for i := range 100 {
		if _, err := app.Append(0, labels.FromStrings("__name__", "points", "host", "a"), now-int64(100-i)*1000, float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	q, err := st.Queryable()
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, q, "points", now-time.Hour.Milliseconds(), now); n != 100 {
		t.Fatalf("stored %d samples, want 100", n)
	}
	// The engine reads the same storage.
	qry, err := st.Engine().NewInstantQuery(context.Background(), q, nil, `sum(count_over_time(points[5m]))`, time.UnixMilli(now))
	if err != nil {
		t.Fatal(err)
	}
	res := qry.Exec(context.Background())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if v := res.Value.(promql.Vector); len(v) != 1 || v[0].F != 100 {
		t.Fatalf("count_over_time = %v", res.Value)
	}
	qry.Close()
	// TSDB metrics are registered with the given registry.
	if n, err := testutil.GatherAndCount(reg, "prometheus_tsdb_head_series"); err != nil || n != 1 {
		t.Errorf("prometheus_tsdb_head_series: %d, %v", n, err)
	}
	// A second process (or Open) cannot use the same directory.
	if _, err := cstorage.Open(cstorage.Options{Path: dir}); err == nil {
		t.Fatal("a second Open of a locked directory succeeded")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = open(t, cstorage.Options{Path: dir})
	defer st.Close()
	q, _ = st.Queryable()
	if n := count(t, q, "points", now-time.Hour.Milliseconds(), now); n != 100 {
		t.Fatalf("after reopening: %d samples, want 100", n)
	}
}

func TestOutOfOrderWindow(t *testing.T) {
	for _, tt := range []struct {
		window time.Duration
		late   time.Duration
		ok     bool
	}{
		{10 * time.Minute, 5 * time.Minute, true},
		{10 * time.Minute, 20 * time.Minute, false},
		{0, time.Second, false},
	} {
		t.Run(fmt.Sprint(tt.window, tt.late), func(t *testing.T) {
			st := open(t, cstorage.Options{Path: t.TempDir(), OutOfOrderWindow: tt.window})
			defer st.Close()
			now := time.Now().UnixMilli()
			ls := labels.FromStrings("__name__", "late")
			app := st.Appender(context.Background())
			if _, err := app.Append(0, ls, now, 1); err != nil {
				t.Fatal(err)
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
			app = st.Appender(context.Background())
			_, err := app.Append(0, ls, now-tt.late.Milliseconds(), 2)
			if tt.ok && err != nil {
				t.Fatalf("a point %v late within a %v window: %v", tt.late, tt.window, err)
			}
			if !tt.ok && !errors.Is(err, storage.ErrOutOfOrderSample) && !errors.Is(err, storage.ErrTooOldSample) {
				t.Fatalf("a point %v late with a %v window: err %v, want out of order/too old", tt.late, tt.window, err)
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
			q, _ := st.Queryable()
			want := 1
			if tt.ok {
				want = 2
			}
			if n := count(t, q, "late", now-time.Hour.Milliseconds(), now); n != want {
				t.Fatalf("stored %d, want %d", n, want)
			}
		})
	}
}

func TestAgentMode(t *testing.T) {
	dir := t.TempDir()
	st := open(t, cstorage.Options{Path: dir, Mode: cstorage.ModeAgent})
	defer st.Close()
	app := st.Appender(context.Background())
	if _, err := app.Append(0, labels.FromStrings("__name__", "x"), time.Now().UnixMilli(), 1); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Queryable(); !errors.Is(err, cstorage.ErrAgent) {
		t.Fatalf("Queryable in agent mode: %v", err)
	}
	if st.TSDB() != nil {
		t.Fatal("agent mode opened a TSDB")
	}
	// The agent keeps a WAL only: no blocks, no chunks_head.
	if _, err := os.Stat(dir + "/wal"); err != nil {
		t.Fatalf("agent WAL: %v", err)
	}
	if _, err := os.Stat(dir + "/chunks_head"); err == nil {
		t.Fatal("agent mode wrote chunks_head")
	}
}

func TestBadOptions(t *testing.T) {
	if _, err := cstorage.Open(cstorage.Options{Path: t.TempDir(), Mode: "cluster"}); err == nil || !strings.Contains(err.Error(), `"cluster"`) {
		t.Errorf("bad mode: %v", err)
	}
	if _, err := cstorage.Open(cstorage.Options{}); err == nil {
		t.Error("empty path accepted")
	}
}

// crashHelperEnv makes the test binary act as an ingesting process that
// the test kills with SIGKILL.
const crashHelperEnv = "COPENHAGEN_STORAGE_CRASH_HELPER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashHelperEnv); dir != "" {
		crashHelper(dir)
		return
	}
	os.Exit(m.Run())
}

// crashHelper appends batches of 100 points forever, printing "ack N"
// after each Commit returned: N points are acknowledged.
func crashHelper(dir string) {
	st, err := cstorage.Open(cstorage.Options{Path: dir})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	start := time.Now().Add(-time.Hour).UnixMilli()
	ls := labels.FromStrings("__name__", "crash_points")
	acked := 0
	for {
		app := st.Appender(context.Background())
		for range 100 {
			if _, err := app.Append(0, ls, start+int64(acked), float64(acked)); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			acked++
		}
		if err := app.Commit(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("ack", acked)
	}
}

// TestAcknowledgedPointsSurviveKill9 kills an appending process with
// SIGKILL (no Close, no flush) and checks that every point whose Commit
// had returned is there after reopening.
func TestAcknowledgedPointsSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	acked := 0
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "ack "); ok {
			acked, _ = strconv.Atoi(n)
			if acked >= 200000 {
				break
			}
			continue
		}
		t.Fatalf("helper: %s", line)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if acked < 200000 {
		t.Fatalf("helper stopped after %d points", acked)
	}

	st := open(t, cstorage.Options{Path: dir})
	defer st.Close()
	q, _ := st.Queryable()
	n := count(t, q, "crash_points", 0, math.MaxInt64)
	if n < acked {
		t.Fatalf("after kill -9: %d points stored, %d were acknowledged", n, acked)
	}
	t.Logf("acknowledged %d, found %d after kill -9", acked, n)
}

func TestValidateRemoteWrite(t *testing.T) {
	a := remoteWrite(t, "", "http://a.example/api/v1/write")
	a2 := remoteWrite(t, "", "http://a.example/api/v1/write")
	b := remoteWrite(t, "x", "http://b.example/api/v1/write")
	b2 := remoteWrite(t, "x", "http://c.example/api/v1/write")
	if err := cstorage.ValidateRemoteWrite([]*promconfig.RemoteWriteConfig{a, b}); err != nil {
		t.Fatal(err)
	}
	if err := cstorage.ValidateRemoteWrite([]*promconfig.RemoteWriteConfig{a, a2}); err == nil || !strings.Contains(err.Error(), "same target") {
		t.Errorf("duplicate target: %v", err)
	}
	if err := cstorage.ValidateRemoteWrite([]*promconfig.RemoteWriteConfig{b, b2}); err == nil || !strings.Contains(err.Error(), `name "x" is already used`) {
		t.Errorf("duplicate name: %v", err)
	}
	// Open refuses what ValidateRemoteWrite refuses, and leaves the
	// directory usable.
	dir := t.TempDir()
	if _, err := cstorage.Open(cstorage.Options{Path: dir, RemoteWrite: []*promconfig.RemoteWriteConfig{a, a2}}); err == nil {
		t.Fatal("Open accepted duplicate targets")
	}
	open(t, cstorage.Options{Path: dir}).Close()
}
