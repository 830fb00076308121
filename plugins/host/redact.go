package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
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
