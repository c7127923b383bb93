package main

import (
	"reflect"
	"slices"
	"strings"
)

// changedKeys lists the keys of a configuration section (a struct with
// yaml tags) whose values differ between what runs and what the file now
// says, as "prefix.key", leaving out the keys in reloaded (those the
// reload applies). Only key names are reported, never values, so that no
// secret reaches the log. A nested section counts as one key.
func changedKeys(prefix string, running, next any, reloaded ...string) []string {
	return appendChanged(nil, prefix, reflect.ValueOf(running), reflect.ValueOf(next), reloaded)
}

func appendChanged(out []string, prefix string, a, b reflect.Value, reloaded []string) []string {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "-" {
			continue
		}
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			out = appendChanged(out, prefix, a.Field(i), b.Field(i), reloaded)
			continue
		}
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		if slices.Contains(reloaded, key) {
			continue
		}
		if !equalValues(a.Field(i), b.Field(i)) {
			out = append(out, prefix+"."+key)
		}
	}
	return out
}

// equalValues is reflect.DeepEqual except that an empty slice or map
// equals a nil one (`peers: []` and no peers say the same), and
// unexported fields are not compared.
func equalValues(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() && !equalValues(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalValues(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() == 0 && b.Len() == 0 {
			return true
		}
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValues(a.Elem(), b.Elem())
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
