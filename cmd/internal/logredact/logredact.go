// Package logredact keeps secrets out of every log line Copenhagen
// writes, its own and those of the libraries it runs (Prometheus's remote
// write logs its endpoint URL, Alertmanager's notifiers log the errors of
// receivers, response bodies included).
//
// Secrets are redacted at the source where Copenhagen can (config
// rendering, URLs it logs, notifier errors); this handler is the net
// under all of them: it replaces every known secret value (query-string
// tokens, header values, webhook URLs and the content of *_file
// credentials) with "<secret>" in the message and in every attribute, and
// cuts attribute values longer than MaxValueLength, so that a receiver
// echoing a request cannot put a page of it into the log.
package logredact

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// MaxValueLength is the longest string attribute written as it is; longer
// ones are cut, with their length noted.
const MaxValueLength = 1024

const redacted = "<secret>"

// Handler wraps a slog.Handler. Its secrets can be replaced at any time
// (on reload) and apply to every logger derived from it.
type Handler struct {
	inner slog.Handler
	rep   *atomic.Pointer[strings.Replacer]
}

// New wraps inner with no secrets yet.
func New(inner slog.Handler) *Handler {
	h := &Handler{inner: inner, rep: &atomic.Pointer[strings.Replacer]{}}
	h.SetSecrets(nil)
	return h
}

// SetSecrets replaces the set of values to redact. Each is also redacted
// in its URL-escaped forms.
func (h *Handler) SetSecrets(secrets []string) {
	var all []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		all = append(all, s, url.QueryEscape(s), url.PathEscape(s), strings.Trim(strconv.Quote(s), `"`))
	}
	// Longest first, so that a secret containing another is replaced whole.
	slices.SortFunc(all, func(a, b string) int { return len(b) - len(a) })
	all = slices.Compact(all)
	pairs := make([]string, 0, 2*len(all))
	for _, s := range all {
		pairs = append(pairs, s, redacted)
	}
	h.rep.Store(strings.NewReplacer(pairs...))
}

// Redact is s with every secret replaced.
func (h *Handler) Redact(s string) string { return h.rep.Load().Replace(s) }

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	return &Handler{inner: h.inner.WithAttrs(red), rep: h.rep}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name), rep: h.rep}
}

func (h *Handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.clean(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, ga := range g {
			out[i] = h.attr(ga)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.clean(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, h.clean(x.String()))
		default:
			// Slices, maps, structs: rendered as they are unless their
			// text holds a secret or is too long.
			s := fmt.Sprint(x)
			if c := h.clean(s); c != s {
				return slog.String(a.Key, c)
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *Handler) clean(s string) string {
	s = h.Redact(s)
	if len(s) > MaxValueLength {
		cut := MaxValueLength
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "... (" + strconv.Itoa(len(s)) + " bytes, cut)"
	}
	return s
}
