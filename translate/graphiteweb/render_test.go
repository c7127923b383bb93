package graphiteweb

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commoncfg "github.com/prometheus/common/config"
)

func TestParseRender(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		want    []Series
		wantErr string
	}{
		{name: "empty", body: `[]`, want: []Series{}},
		{
			name: "nulls and values kept as text",
			body: `[{"target": "stats.a", "tags": {"name": "stats.a"}, "datapoints": [[null, 100], [12.50, 110], [null, 120]]}]`,
			want: []Series{{Target: "stats.a", Points: []Point{{Time: 100, Null: true}, {Time: 110, Value: 12.5, Text: "12.50"}, {Time: 120, Null: true}}}},
		},
		{
			name: "graphite-web infinity",
			body: `[{"target": "x", "datapoints": [[1e9999, 10], [-1e9999, 20]]}]`,
			want: []Series{{Target: "x", Points: []Point{{Time: 10, Value: math.Inf(1), Text: "1e9999"}, {Time: 20, Value: math.Inf(-1), Text: "-1e9999"}}}},
		},
		{name: "not JSON", body: `<html>Server Error</html>`, wantErr: "not a render JSON answer"},
		{name: "object instead of list", body: `{"error": "x"}`, wantErr: "not a render JSON answer"},
		{name: "no target", body: `[{"datapoints": []}]`, wantErr: "has no target"},
		{name: "short point", body: `[{"target": "x", "datapoints": [[1]]}]`, wantErr: "expected [value, timestamp]"},
		{name: "string value", body: `[{"target": "x", "datapoints": [["1", 10]]}]`, wantErr: "is not a number"},
		{name: "null timestamp", body: `[{"target": "x", "datapoints": [[1, null]]}]`, wantErr: "timestamp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRender([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d series, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i].Target != tc.want[i].Target || len(got[i].Points) != len(tc.want[i].Points) {
					t.Fatalf("series %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
				for j, p := range got[i].Points {
					if p != tc.want[i].Points[j] {
						t.Fatalf("series %d point %d: got %+v, want %+v", i, j, p, tc.want[i].Points[j])
					}
				}
			}
		})
	}
}

func TestLastNonNull(t *testing.T) {
	s, err := ParseRender([]byte(`[{"target": "x", "datapoints": [[3, 10], [4, 20], [null, 30]]}, {"target": "y", "datapoints": [[null, 10]]}]`))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := s[0].LastNonNull(); !ok || p.Text != "4" || p.Time != 20 {
		t.Fatalf("last of x: %+v %v", p, ok)
	}
	if _, ok := s[1].LastNonNull(); ok {
		t.Fatal("an all-null series has no last value")
	}
	if s[0].Step() != 10 {
		t.Fatalf("step %d", s[0].Step())
	}
}

func TestRenderURL(t *testing.T) {
	c, err := NewClient("http://graphite:8080/prefix/", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := c.URL(Request{Target: "sumSeries(stats.a.*)", From: "-11minutes", Until: "-1minutes", Now: time.Unix(1700000000, 0), NoCache: true})
	want := "http://graphite:8080/prefix/render?format=json&from=-11minutes&noCache=1&now=1700000000&target=sumSeries%28stats.a.%2A%29&until=-1minutes"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	for _, bad := range []string{"graphite:8080", "ftp://x", "http://user:pw@graphite"} {
		if _, err := NewClient(bad, nil); err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// The HTTP client options users need in front of graphite-web: basic auth
// with the password from a file, headers from files, TLS with a CA file.
// The server checks exactly what arrives.
func TestRenderClientOptions(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	tok := filepath.Join(dir, "tenant")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tok, []byte("team-a"), 0o600); err != nil {
		t.Fatal(err)
	}
	var gotAuth, gotTenant, gotQuery string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotTenant, gotQuery = r.Header.Get("Authorization"), r.Header.Get("X-Scope-OrgID"), r.URL.RawQuery
		if r.URL.Path != "/render" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`[{"target": "a", "datapoints": [[1, 60]]}]`))
	}))
	defer srv.Close()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pemCert(srv.TLS), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := commoncfg.DefaultHTTPClientConfig
	cfg.BasicAuth = &commoncfg.BasicAuth{Username: "seyren", PasswordFile: pw}
	cfg.TLSConfig = commoncfg.TLSConfig{CAFile: ca}
	cfg.HTTPHeaders = &commoncfg.Headers{Headers: map[string]commoncfg.Header{"X-Scope-OrgID": {Files: []string{tok}}}}
	c, err := NewClientFromConfig(srv.URL, cfg)
	if err != nil {
		t.Fatal(err)
	}
	series, err := c.Render(context.Background(), Request{Target: "a", From: "-11minutes", Until: "-1minutes"})
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 1 || series[0].Target != "a" {
		t.Fatalf("series %+v", series)
	}
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("seyren:s3cret")); gotAuth != want {
		t.Fatalf("Authorization %q, want %q", gotAuth, want)
	}
	if gotTenant != "team-a" {
		t.Fatalf("header from file: %q", gotTenant)
	}
	if !strings.Contains(gotQuery, "format=json") {
		t.Fatalf("query %q", gotQuery)
	}
	// Without the CA the server's certificate is refused.
	plain, _ := NewClientFromConfig(srv.URL, commoncfg.DefaultHTTPClientConfig)
	if _, err := plain.Render(context.Background(), Request{Target: "a"}); err == nil {
		t.Fatal("untrusted certificate accepted")
	}
}

func TestRenderFailures(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/500/render", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	mux.HandleFunc("/html/render", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) })
	mux.HandleFunc("/slow/render", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/big/render", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`[{"target": "` + strings.Repeat("x", 2000) + `", "datapoints": []}]`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tc := range []struct{ path, kind string }{
		{"/500", KindHTTP}, {"/html", KindBadJSON}, {"/slow", KindTimeout}, {"/big", KindTooLarge},
	} {
		c, _ := NewClient(srv.URL+tc.path, nil)
		c.maxBody = 1000
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := c.Render(ctx, Request{Target: "a"})
		cancel()
		re, ok := err.(*RenderError)
		if !ok || re.Kind != tc.kind {
			t.Errorf("%s: got %v, want kind %s", tc.path, err, tc.kind)
		}
	}
}

func pemCert(cfg *tls.Config) []byte {
	var b strings.Builder
	b.WriteString("-----BEGIN CERTIFICATE-----\n")
	enc := base64.StdEncoding.EncodeToString(cfg.Certificates[0].Certificate[0])
	for len(enc) > 64 {
		b.WriteString(enc[:64] + "\n")
		enc = enc[64:]
	}
	b.WriteString(enc + "\n-----END CERTIFICATE-----\n")
	return []byte(b.String())
}

func FuzzParseRender(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.json")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`[{"target": "x", "datapoints": [[null, 1], [2, 3]]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		series, err := ParseRender(data)
		if err != nil {
			return
		}
		for _, s := range series {
			for _, p := range s.Points {
				if !p.Null && p.Text == "" {
					t.Fatalf("value without text: %+v", p)
				}
			}
		}
	})
}
