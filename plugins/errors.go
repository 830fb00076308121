package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/soar-dev/soar/plugins/pluginpb"
)

// Kind classifies an action failure so the caller knows whether retrying
// can help.
type Kind string

const (
	// Retryable failures may succeed later (timeouts, rate limits, a vendor
	// outage, a plugin process that crashed).
	Retryable Kind = "retryable"
	// Permanent failures will fail the same way again (bad credentials,
	// unknown user, missing configuration).
	Permanent Kind = "permanent"
	// InvalidInput means the input did not match the action's schema or
	// could not be understood. Never retried.
	InvalidInput Kind = "invalid_input"
)

// Error is the typed failure of a plugin action. It crosses the process
// boundary unchanged: the SDK turns it into pluginpb.Error and the host turns
// it back.
type Error struct {
	Kind    Kind
	Message string
	// Details is optional machine-readable JSON, for example the list of
	// schema problems for InvalidInput.
	Details json.RawMessage
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Kind, e.Message)
}

// Errorf returns an *Error of the given kind.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// KindOf classifies any error returned by a plugin call. Errors that carry no
// kind are retryable: an unexpected failure is more often transient than not,
// and the caller's retry policy bounds the cost of being wrong.
func KindOf(err error) Kind {
	var pe *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &pe):
		return pe.Kind
	case errors.Is(err, context.Canceled):
		return Permanent
	default:
		return Retryable
	}
}

// ErrorToProto converts err for the wire.
func ErrorToProto(err error) *pluginpb.Error {
	var pe *Error
	if !errors.As(err, &pe) {
		pe = &Error{Kind: KindOf(err), Message: err.Error()}
	}
	return &pluginpb.Error{Kind: kindToProto(pe.Kind), Message: pe.Message, Details: pe.Details}
}

// ErrorFromProto converts a wire error back into an *Error.
func ErrorFromProto(e *pluginpb.Error) *Error {
	return &Error{Kind: kindFromProto(e.GetKind()), Message: e.GetMessage(), Details: e.GetDetails()}
}

func kindToProto(k Kind) pluginpb.ErrorKind {
	switch k {
	case Permanent:
		return pluginpb.ErrorKind_ERROR_KIND_PERMANENT
	case InvalidInput:
		return pluginpb.ErrorKind_ERROR_KIND_INVALID_INPUT
	default:
		return pluginpb.ErrorKind_ERROR_KIND_RETRYABLE
	}
}

func kindFromProto(k pluginpb.ErrorKind) Kind {
	switch k {
	case pluginpb.ErrorKind_ERROR_KIND_PERMANENT:
		return Permanent
	case pluginpb.ErrorKind_ERROR_KIND_INVALID_INPUT:
		return InvalidInput
	default:
		return Retryable
	}
}
