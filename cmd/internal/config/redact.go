package config

import (
	"net/url"
	"reflect"
	"slices"
	"strings"
)

// Fields tagged `redact:"url"` (a URL or a list of URLs) are rendered with
// their userinfo and every query-string value replaced by "<secret>":
// receivers put API tokens there (?token=, ?api_key=). Fields tagged
// `redact:"values"` (a map of strings, such as headers) show their keys
// with "<secret>" values. Secrets lists the hidden values so that the log
// handler can keep them out of every log line too.

// RedactURL is s with its userinfo and query-string values replaced by
// "<secret>", for logs and error messages; a string that does not parse
// as a URL is returned as "<secret>" when it has a query or userinfo.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if strings.ContainsAny(s, "?@") {
			return redacted
		}
		return s
	}
	changed := false
	if u.User != nil {
		u.User = url.User(redacted)
		changed = true
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			for i := range vs {
				vs[i] = redacted
			}
			q[k] = vs
		}
		u.RawQuery = encodeQueryRedacted(q)
		changed = true
	}
	if !changed {
		return s
	}
	return u.String() // userinfo reads %3Csecret%3E@, which parses back
}

// encodeQueryRedacted is url.Values.Encode without escaping "<secret>",
// so that the rendering reads as it is meant.
func encodeQueryRedacted(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	return b.String()
}

// urlSecrets are the parts of s that RedactURL hides.
func urlSecrets(s string) []string {
	u, err := url.Parse(s)
	if err != nil {
		return nil
	}
	var out []string
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	for _, vs := range u.Query() {
		out = append(out, vs...)
	}
	return out
}

// redactValue renders a field value with its redact tag applied.
func redactValue(v reflect.Value, how string) reflect.Value {
	switch how {
	case "url":
		switch v.Kind() {
		case reflect.String:
			return reflect.ValueOf(RedactURL(v.String())).Convert(v.Type())
		case reflect.Slice:
			out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			for i := range v.Len() {
				out.Index(i).Set(redactValue(v.Index(i), how))
			}
			return out
		}
	case "values":
		if v.Kind() == reflect.Map {
			out := reflect.MakeMapWithSize(v.Type(), v.Len())
			for _, k := range v.MapKeys() {
				val := redacted
				if v.MapIndex(k).String() == "" {
					val = ""
				}
				out.SetMapIndex(k, reflect.ValueOf(val).Convert(v.Type().Elem()))
			}
			return out
		}
	}
	return v
}

// Secrets lists the values that the configuration holds in the clear and
// that must not be shown: query-string values and userinfo passwords of
// redact:"url" fields, and the values of redact:"values" maps. Values
// shorter than 4 bytes are left out (redacting "1" everywhere would
// garble every log line and protects nothing).
func (c *Config) Secrets() []string {
	var out []string
	collectSecrets(reflect.ValueOf(c).Elem(), &out)
	slices.Sort(out)
	return slices.Compact(out)
}

func collectSecrets(v reflect.Value, out *[]string) {
	add := func(s string) {
		if len(s) >= 4 {
			*out = append(*out, s)
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			collectSecrets(v.Elem(), out)
		}
	case reflect.Slice:
		for i := range v.Len() {
			collectSecrets(v.Index(i), out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fv := v.Field(i)
			switch f.Tag.Get("redact") {
			case "url":
				if fv.Kind() == reflect.String {
					for _, s := range urlSecrets(fv.String()) {
						add(s)
					}
				} else if fv.Kind() == reflect.Slice {
					for j := range fv.Len() {
						for _, s := range urlSecrets(fv.Index(j).String()) {
							add(s)
						}
					}
				}
			case "values":
				for _, k := range fv.MapKeys() {
					add(fv.MapIndex(k).String())
				}
			default:
				collectSecrets(fv, out)
			}
		}
	}
}
