package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

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
	// schema problems for InvalidInput. One key is part of the protocol: a
	// Retryable failure whose Details are an object with a positive number
	// under "retry_after_seconds" (RetryAfterKey) asks the caller to wait
	// that long before trying again, as a vendor's 429 or 503 Retry-After
	// does; see RetryAfter.
	Details json.RawMessage
}

// RetryAfterKey is the Details key of the wait, in seconds, that a failure
// asks for before a retry.
const RetryAfterKey = "retry_after_seconds"

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

// RetryAfter returns the wait that err asks for before a retry: the
// retry_after_seconds in the Details of the first *Error in err's chain.
// ok is false when there is none, or it is not a positive number.
func RetryAfter(err error) (wait time.Duration, ok bool) {
	var pe *Error
	if !errors.As(err, &pe) || len(pe.Details) == 0 {
		return 0, false
	}
	var d map[string]json.RawMessage
	if json.Unmarshal(pe.Details, &d) != nil {
		return 0, false // not an object, such as InvalidInput's problem list
	}
	var secs float64
	if json.Unmarshal(d[RetryAfterKey], &secs) != nil || !(secs > 0) {
		return 0, false
	}
	if secs >= float64(math.MaxInt64)/float64(time.Second) {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(secs * float64(time.Second)), true
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
