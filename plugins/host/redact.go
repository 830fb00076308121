package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/soar-dev/soar/plugins"
)

// redactor replaces secret values with [redacted]. It holds every configured
// secret value, longest first so that a secret containing another is
// redacted whole.
type redactor []string

func (r redactor) redact(s string) string {
	for _, v := range r {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

// redactor redacts every configured secret value.
func (c Config) redactor() redactor {
	var out redactor
	for _, pc := range c.Plugins {
		for _, v := range pc.Secrets {
			out = append(out, v)
		}
		for _, env := range pc.SecretEnv {
			if v := os.Getenv(env); v != "" {
				out = append(out, v)
			}
		}
	}
	out = slices.DeleteFunc(out, func(v string) bool { return len(v) < minRedacted })
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(out)
}

// minRedacted is the shortest secret value redacted: replacing "1" or "ab"
// everywhere would garble the log without protecting anything.
const minRedacted = 4

// redactHandler replaces secret values in a record's message and string
// attributes (a plugin's log lines arrive as such records) with
// [redacted].
type redactHandler struct {
	inner   slog.Handler
	secrets redactor
}

var _ slog.Handler = (*redactHandler)(nil)

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.secrets.redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	return &redactHandler{inner: h.inner.WithAttrs(red), secrets: h.secrets}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{inner: h.inner.WithGroup(name), secrets: h.secrets}
}

func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.secrets.redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = h.attr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		// Only a value that actually held a secret loses its type.
		var text string
		switch x := v.Any().(type) {
		case error:
			text = x.Error()
		case fmt.Stringer:
			text = x.String()
		default:
			text = fmt.Sprint(x)
		}
		if red := h.secrets.redact(text); red != text {
			return slog.String(a.Key, red)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// error returns err without secret values: in its text and in the Message
// and Details of every *plugins.Error in its chain, since a caller may
// record either (the workflow worker puts both in Temporal history). The
// chain keeps its shape, so errors.Is and errors.As find what they found
// before; only a wrapper whose text held a secret loses its own type.
// A *plugins.Error that held a secret is copied, never changed in place:
// the host shares some of them between calls.
func (r redactor) error(err error) error {
	if len(r) == 0 || err == nil {
		return err
	}
	switch e := err.(type) {
	case *plugins.Error:
		msg, details := r.redact(e.Message), r.json(e.Details)
		if msg == e.Message && bytes.Equal(details, e.Details) {
			return e
		}
		return &plugins.Error{Kind: e.Kind, Message: msg, Details: details}
	case interface{ Unwrap() error }:
		inner := e.Unwrap()
		red, msg := r.error(inner), r.redact(err.Error())
		if red == inner && msg == err.Error() {
			return err
		}
		return &redactedError{msg: msg, err: red}
	case interface{ Unwrap() []error }:
		inner := e.Unwrap()
		red, changed := make([]error, len(inner)), false
		for i, ie := range inner {
			red[i] = r.error(ie)
			changed = changed || red[i] != ie
		}
		msg := r.redact(err.Error())
		if !changed && msg == err.Error() {
			return err
		}
		return &redactedJoin{msg: msg, errs: red}
	default:
		if msg := r.redact(err.Error()); msg != err.Error() {
			return errors.New(msg)
		}
		return err
	}
}

// redactedError stands in for a wrapper whose text held a secret.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactedJoin stands in for a multi-error whose text held a secret.
type redactedJoin struct {
	msg  string
	errs []error
}

func (e *redactedJoin) Error() string   { return e.msg }
func (e *redactedJoin) Unwrap() []error { return e.errs }

// json redacts the strings (keys and values) of a JSON document, so that a
// secret is found however JSON escapes it and the result stays valid JSON
// for whoever reads the details. A document without a secret is returned
// unchanged, byte for byte; one that is not JSON is redacted as text.
func (r redactor) json(data json.RawMessage) json.RawMessage {
	if len(data) == 0 {
		return data
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return json.RawMessage(r.redact(string(data)))
	}
	if _, err := dec.Token(); err != io.EOF {
		return json.RawMessage(r.redact(string(data)))
	}
	red, changed := r.value(v)
	if !changed {
		return data
	}
	out, err := json.Marshal(red)
	if err != nil { // cannot happen for a decoded document
		return json.RawMessage(r.redact(string(data)))
	}
	return out
}

func (r redactor) value(v any) (any, bool) {
	switch v := v.(type) {
	case string:
		red := r.redact(v)
		return red, red != v
	case []any:
		changed := false
		for i, e := range v {
			var c bool
			v[i], c = r.value(e)
			changed = changed || c
		}
		return v, changed
	case map[string]any:
		out, changed := make(map[string]any, len(v)), false
		for k, e := range v {
			rk := r.redact(k)
			re, c := r.value(e)
			out[rk] = re
			changed = changed || c || rk != k
		}
		return out, changed
	default:
		return v, false
	}
}
