package webserve

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v3"
)

// WebConfig is the validated private copy of an exporter-toolkit web
// config file that the HTTP server is given (see the package doc).
type WebConfig struct {
	mu   sync.Mutex
	dir  string // private directory (0700) holding the copy
	path string // the copy the toolkit reads
	tls  bool   // whether the running copy enables TLS
}

// LoadWebConfig validates src with the toolkit's own checks (YAML,
// bcrypt hashes, certificates and keys) and writes the private copy.
// Close removes it.
func LoadWebConfig(src string) (*WebConfig, error) {
	dir, err := os.MkdirTemp("", "copenhagen-web-config-")
	if err != nil {
		return nil, fmt.Errorf("http.web_config_file: private copy: %w", err)
	}
	w := &WebConfig{dir: dir, path: filepath.Join(dir, "web-config.yml")}
	cand, tls, err := w.candidate(src)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := os.Rename(cand, w.path); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("http.web_config_file: private copy: %w", err)
	}
	w.tls = tls
	return w, nil
}

// Path is the file to give the toolkit (web.FlagConfig.WebConfigFile).
func (w *WebConfig) Path() string { return w.path }

// Prepare validates src for a reload; commit makes it the one served, at
// once for new requests and TLS handshakes. A file that does not validate,
// or that turns TLS on or off (the toolkit decides that when the server
// starts), is refused and the running copy stays.
func (w *WebConfig) Prepare(src string) (commit func(), err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cand, tls, err := w.candidate(src)
	if err != nil {
		return nil, err
	}
	if tls != w.tls {
		_ = os.Remove(cand)
		state := map[bool]string{true: "enables", false: "disables"}[tls]
		return nil, fmt.Errorf("http.web_config_file %s: %s TLS, which takes a restart; the running web config stays", src, state)
	}
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		_ = os.Rename(cand, w.path)
	}, nil
}

// Close removes the private copy.
func (w *WebConfig) Close() error { return os.RemoveAll(w.dir) }

// candidate writes src, with the relative certificate paths of
// tls_server_config made absolute against src's directory (as the
// toolkit resolves them), to a new file next to the copy, and validates
// it. Everything else is kept byte for byte in meaning, secrets included.
func (w *WebConfig) candidate(src string) (path string, tls bool, err error) {
	// The user's file first, so that errors carry its own lines and
	// relative paths resolve as the toolkit would resolve them.
	if err := web.Validate(src); err != nil {
		return "", false, fmt.Errorf("http.web_config_file %s: %w", src, err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return "", false, fmt.Errorf("http.web_config_file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return "", false, fmt.Errorf("http.web_config_file %s: %w", src, err)
	}
	dir, err := filepath.Abs(filepath.Dir(src))
	if err != nil {
		return "", false, fmt.Errorf("http.web_config_file: %w", err)
	}
	if len(doc.Content) == 1 {
		if t := mapValue(doc.Content[0], "tls_server_config"); t != nil && t.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(t.Content); i += 2 {
				k, v := t.Content[i], t.Content[i+1]
				switch k.Value {
				case "cert", "key", "client_ca", "cert_file", "key_file", "client_ca_file", "client_auth_type":
					if v.Kind == yaml.ScalarNode && v.Value != "" {
						tls = true
					}
				}
				switch k.Value {
				case "cert_file", "key_file", "client_ca_file":
					if v.Kind == yaml.ScalarNode && v.Value != "" && !filepath.IsAbs(v.Value) {
						v.Value = filepath.Join(dir, v.Value)
					}
				}
			}
		}
	}
	var buf bytes.Buffer
	if len(doc.Content) > 0 {
		enc := yaml.NewEncoder(&buf)
		if err := enc.Encode(&doc); err != nil {
			return "", false, fmt.Errorf("http.web_config_file %s: %w", src, err)
		}
		_ = enc.Close()
	}
	f, err := os.CreateTemp(w.dir, "candidate-*.yml")
	if err != nil {
		return "", false, fmt.Errorf("http.web_config_file: private copy: %w", err)
	}
	_, werr := f.Write(buf.Bytes())
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return "", false, fmt.Errorf("http.web_config_file: private copy: %w", err)
	}
	if err := web.Validate(f.Name()); err != nil { // the file changed in between
		_ = os.Remove(f.Name())
		return "", false, fmt.Errorf("http.web_config_file %s: %w", src, err)
	}
	return f.Name(), tls, nil
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
