package webserve

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"
)

func write(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func status(t *testing.T, u, user, pass string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// An edit of the web config file changes nothing until a reload accepts
// it: a broken hash does not lock users out, removing the users does not
// turn authentication off, and a bad file is refused by Prepare.
func TestWebConfigOnlyChangesOnReload(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	src := write(t, filepath.Join(t.TempDir(), "web.yml"), "basic_auth_users:\n  ops: "+string(hash)+"\n")
	wc, err := LoadWebConfig(src)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })}
	path := wc.Path()
	go func() { _ = web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &path}, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() { _ = srv.Close() })
	u := "http://" + ln.Addr().String() + "/"

	if s := status(t, u, "", ""); s != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d, want 401", s)
	}
	if s := status(t, u, "ops", "s3cret"); s != http.StatusOK {
		t.Fatalf("good credentials: %d, want 200", s)
	}

	write(t, src, "basic_auth_users:\n  ops: $2y$10$broken\n")
	if s := status(t, u, "ops", "s3cret"); s != http.StatusOK {
		t.Fatalf("after a broken hash was written, no reload: %d, want 200", s)
	}
	if _, err := wc.Prepare(src); err == nil || !strings.Contains(err.Error(), src) {
		t.Fatalf("Prepare of a broken hash: %v, want an error naming %s", err, src)
	}
	if s := status(t, u, "ops", "s3cret"); s != http.StatusOK {
		t.Fatalf("after a refused reload: %d, want 200", s)
	}

	write(t, src, "# no users\n")
	if s := status(t, u, "", ""); s != http.StatusUnauthorized {
		t.Fatalf("users removed, no reload: %d, want 401 still", s)
	}
	commit, err := wc.Prepare(src)
	if err != nil {
		t.Fatal(err)
	}
	commit()
	if s := status(t, u, "", ""); s != http.StatusOK {
		t.Fatalf("users removed and reloaded: %d, want 200", s)
	}
}

// Relative certificate paths keep working from the private copy, and a
// reload that would turn TLS off is refused.
func TestWebConfigTLS(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	write(t, filepath.Join(dir, "tls.crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	write(t, filepath.Join(dir, "tls.key"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	src := write(t, filepath.Join(dir, "web.yml"), "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n")
	wc, err := LoadWebConfig(src)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	copyData, _ := os.ReadFile(wc.Path())
	if !strings.Contains(string(copyData), filepath.Join(dir, "tls.crt")) {
		t.Fatalf("private copy does not point at the certificate: %s", copyData)
	}
	write(t, src, "basic_auth_users: {}\n")
	if _, err := wc.Prepare(src); err == nil || !strings.Contains(err.Error(), "disables TLS") {
		t.Fatalf("Prepare without TLS: %v, want a refusal", err)
	}
	write(t, src, "tls_server_config:\n  cert_file: missing.crt\n  key_file: tls.key\n")
	if _, err := wc.Prepare(src); err == nil {
		t.Fatal("Prepare with a missing certificate accepted")
	}
}

func TestLimitBody(t *testing.T) {
	h := LimitBody(10, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write(b)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	u := "http://" + ln.Addr().String() + "/"
	tests := []struct {
		method, body string
		chunked      bool
		want         int
	}{
		{"POST", "0123456789", false, 200},
		{"POST", "0123456789x", false, 413},
		{"PUT", strings.Repeat("x", 1000), false, 413},
		{"DELETE", strings.Repeat("x", 1000), false, 413},
		{"POST", strings.Repeat("x", 1000), true, 400}, // no Content-Length: cut at the limit
		{"GET", "", false, 200},
	}
	for _, tt := range tests {
		var body io.Reader = strings.NewReader(tt.body)
		if tt.chunked {
			body = io.MultiReader(body) // hides the length: chunked
		}
		req, _ := http.NewRequest(tt.method, u, body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %d bytes (chunked %v): %d %s, want %d", tt.method, len(tt.body), tt.chunked, resp.StatusCode, b, tt.want)
		}
	}
}
