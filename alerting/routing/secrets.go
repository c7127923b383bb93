package routing

import (
	"io"
	"net/url"
	"os"
	"reflect"
	"strings"

	"github.com/prometheus/alertmanager/config"
)

// Secrets lists the secret values of conf's receivers, for the log
// handler to redact (cmd/internal/logredact): every Secret field (API
// keys, routing keys, passwords), every secret URL (Slack and webhook
// URLs, whose path is the credential) with its path and query values, and
// the content of every *_file credential (the Seyren import writes
// secrets to files).
func Secrets(conf *config.Config) []string {
	if conf == nil {
		return nil
	}
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if len(s) < 4 {
			return
		}
		out = append(out, s)
		if u, err := url.Parse(s); err == nil && u.Host != "" {
			if len(u.Path) >= 8 {
				out = append(out, u.Path)
			}
			for _, vs := range u.Query() {
				for _, v := range vs {
					if len(v) >= 4 {
						out = append(out, v)
					}
				}
			}
		}
	}
	urlType := reflect.TypeFor[*url.URL]()
	var walk func(v reflect.Value, yamlName string)
	walk = func(v reflect.Value, yamlName string) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if v.IsNil() {
				return
			}
			if v.Type() == urlType {
				if strings.HasPrefix(yamlName, "secret:") {
					add(v.Interface().(*url.URL).String())
				}
				return
			}
			walk(v.Elem(), yamlName)
		case reflect.String:
			switch {
			case strings.HasPrefix(v.Type().Name(), "Secret"):
				add(v.String())
			case strings.HasSuffix(yamlName, "_file") && v.String() != "":
				if f, err := os.Open(v.String()); err == nil {
					b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
					_ = f.Close()
					add(string(b))
				}
			}
		case reflect.Struct:
			secret := strings.HasPrefix(v.Type().Name(), "Secret")
			for i := range v.NumField() {
				f := v.Type().Field(i)
				if !f.IsExported() {
					continue
				}
				name := strings.Split(f.Tag.Get("yaml"), ",")[0]
				if secret {
					name = "secret:" + name
				}
				walk(v.Field(i), name)
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i), yamlName)
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k), yamlName)
			}
		}
	}
	for _, r := range conf.Receivers {
		walk(reflect.ValueOf(r), "")
	}
	if conf.Global != nil {
		walk(reflect.ValueOf(conf.Global), "")
	}
	return out
}
