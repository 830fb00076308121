package sdk

import "github.com/soar-dev/soar/plugins"

// A handler's error tells the host whether trying again can help. Return one
// of these; any other error counts as retryable (see plugins.KindOf).

// InvalidInputf reports input the action cannot use (beyond what its schema
// already checks, such as a malformed IP address). Never retried.
func InvalidInputf(format string, args ...any) error {
	return plugins.Errorf(plugins.InvalidInput, format, args...)
}

// Permanentf reports a failure that will repeat (bad credentials, missing
// config, unknown user). Never retried.
func Permanentf(format string, args ...any) error {
	return plugins.Errorf(plugins.Permanent, format, args...)
}

// Retryablef reports a failure that may pass (timeout, rate limit, outage).
func Retryablef(format string, args ...any) error {
	return plugins.Errorf(plugins.Retryable, format, args...)
}
