// Package httpapi sends one JSON request to a vendor API and turns the
// answer into the error kinds the plugin host understands: rate limits and
// outages are retryable (with the vendor's Retry-After in the error's
// details), rejected credentials are permanent and name the setting to fix,
// and secrets never appear in an error message. The page, audit and
// identity plugins share it.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/soar-dev/soar/plugins"
)

// Request is one call to a vendor.
type Request struct {
	// Vendor names the API in messages ("PagerDuty").
	Vendor string
	Method string
	URL    string
	Header http.Header
	// Body is marshalled as JSON unless it is a []byte, sent as is.
	Body any
	// AuthSetting names the setting an operator fixes when the vendor
	// rejects the credentials, e.g. "plugins.page.secrets.pagerduty_routing_key".
	AuthSetting string
	// Secrets are redacted from every message built from the response.
	Secrets []string
}

// Error is a vendor's non-2xx answer. It unwraps to the *plugins.Error
// that classifies it, so the SDK reports the right kind.
type Error struct {
	Status int
	Body   []byte
	kind   *plugins.Error
}

func (e *Error) Error() string { return e.kind.Message }
func (e *Error) Unwrap() error { return e.kind }

// RetryAfter is how long the vendor asked us to wait (429/503), zero when
// it did not say.
func (e *Error) RetryAfter() time.Duration {
	d, _ := plugins.RetryAfter(e.kind)
	return d
}

// maxBody bounds what is read of a response.
const maxBody = 1 << 20

// Do sends req and returns the response body of a 2xx answer. Failures are
// *Error (a vendor answer) or a retryable *plugins.Error (no answer).
func Do(ctx context.Context, client *http.Client, req Request) ([]byte, int, error) {
	var body io.Reader
	switch b := req.Body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, 0, plugins.Errorf(plugins.Permanent, "encode %s request: %v", req.Vendor, err)
		}
		body = bytes.NewReader(data)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return nil, 0, plugins.Errorf(plugins.Permanent, "%s request: %s", req.Vendor, Redact(err.Error(), req.Secrets))
	}
	for k, vs := range req.Header {
		hr.Header[k] = vs
	}
	if body != nil && hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if hr.Header.Get("Accept") == "" {
		hr.Header.Set("Accept", "application/json")
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(hr)
	if err != nil {
		// url.Error repeats the URL, which may carry a secret (a Slack
		// incoming-webhook URL is one).
		return nil, 0, plugins.Errorf(plugins.Retryable, "%s %s: %s", req.Vendor, req.Method, Redact(err.Error(), req.Secrets))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, resp.StatusCode, plugins.Errorf(plugins.Retryable, "read %s response: %v", req.Vendor, err)
	}
	if resp.StatusCode/100 == 2 {
		return data, resp.StatusCode, nil
	}
	return data, resp.StatusCode, classify(req, resp, data)
}

func classify(req Request, resp *http.Response, body []byte) *Error {
	code := resp.StatusCode
	// Redact the whole body before cutting it: a secret straddling the cut
	// would otherwise leave its start in the message.
	said := snippet(Redact(string(body), req.Secrets))
	what := fmt.Sprintf("%s answered HTTP %d", req.Vendor, code)
	if said != "" {
		what += ": " + said
	}
	e := &Error{Status: code, Body: body}
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		wait := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		if wait == 0 {
			// Okta says when its window resets instead (Unix seconds).
			wait = rateLimitReset(resp.Header.Get("X-Rate-Limit-Reset"), time.Now())
		}
		msg := what + " (rate limited or busy; retry later)"
		var details json.RawMessage
		if wait > 0 {
			msg = fmt.Sprintf("%s (rate limited or busy; retry after %s)", what, wait)
			details, _ = json.Marshal(map[string]float64{plugins.RetryAfterKey: wait.Seconds()})
		}
		e.kind = &plugins.Error{Kind: plugins.Retryable, Message: msg, Details: details}
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		fix := ""
		if req.AuthSetting != "" {
			fix = "; check " + req.AuthSetting
		}
		e.kind = plugins.Errorf(plugins.Permanent, "%s rejected the credentials (%s)%s", req.Vendor, what, fix)
	case code == http.StatusRequestTimeout || code >= 500:
		e.kind = plugins.Errorf(plugins.Retryable, "%s", what)
	default:
		e.kind = plugins.Errorf(plugins.Permanent, "%s refused the request (%s)", req.Vendor, what)
	}
	return e
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

func rateLimitReset(h string, now time.Time) time.Duration {
	s, err := strconv.ParseInt(strings.TrimSpace(h), 10, 64)
	if err != nil || s <= now.Unix() {
		return 0
	}
	return time.Unix(s, 0).Sub(now).Round(time.Second)
}

// snippet is the start of a response body, on one line.
func snippet(body string) string {
	s := strings.Join(strings.Fields(body), " ")
	if len(s) > 300 {
		cut := 300
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// Redact replaces every secret in s with [redacted]. Empty and very short
// values are skipped: replacing "1" everywhere would only garble messages.
func Redact(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

// IsStatus reports whether err is a vendor answer with that status.
func IsStatus(err error, status int) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) && e.Status == status {
		return e, true
	}
	return nil, false
}

// DefaultClient is the HTTP client of vendor backends: a call never hangs
// past 30 s, whatever the caller's deadline.
var DefaultClient = &http.Client{Timeout: 30 * time.Second}

// JSONAPI reads a vendor's JSON API with the classification of Do.
type JSONAPI struct {
	Vendor  string // for messages, e.g. "BambooHR"
	Setting string // the secret to fix on 401/403
	Client  *http.Client
	Header  http.Header
	Secrets []string
}

// Get fetches url and decodes its JSON answer into out.
func (v *JSONAPI) Get(ctx context.Context, url string, out any) error {
	data, _, err := Do(ctx, v.Client, Request{
		Vendor: v.Vendor, Method: http.MethodGet, URL: url, Header: v.Header.Clone(),
		AuthSetting: v.Setting, Secrets: v.Secrets,
	})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		path, _, _ := strings.Cut(url, "?") // the query may name people
		return plugins.Errorf(plugins.Permanent, "%s: unexpected answer to GET %s: %v", v.Vendor, path, err)
	}
	return nil
}
