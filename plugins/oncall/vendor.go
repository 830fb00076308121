package oncall

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/soar-dev/soar/plugins"
)

// vendorHTTP calls a vendor's JSON API and turns its failures into the
// plugin error kinds: rejected credentials are permanent and name the
// setting to fix, rate limits and outages are retryable.
type vendorHTTP struct {
	vendor  string // for messages: "BambooHR"
	setting string // the secret to fix on 401/403
	client  *http.Client
	auth    func(*http.Request)
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func (v *vendorHTTP) getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return plugins.Errorf(plugins.Permanent, "%s request: %v", v.vendor, err)
	}
	req.Header.Set("Accept", "application/json")
	v.auth(req)
	resp, err := v.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return plugins.Errorf(plugins.Retryable, "%s: %v", v.vendor, ctx.Err())
		}
		return plugins.Errorf(plugins.Retryable, "%s unreachable: %v", v.vendor, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return plugins.Errorf(plugins.Retryable, "%s: read response: %v", v.vendor, err)
	}
	if err := v.statusError(req, resp, body); err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return plugins.Errorf(plugins.Permanent, "%s: unexpected response to GET %s: %v", v.vendor, req.URL.Path, err)
	}
	return nil
}

func (v *vendorHTTP) statusError(req *http.Request, resp *http.Response, body []byte) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	detail := strings.TrimSpace(string(body))
	if len(detail) > 300 {
		detail = detail[:300] + "…"
	}
	what := fmt.Sprintf("%s answered %s to GET %s", v.vendor, resp.Status, req.URL.Path)
	if detail != "" {
		what += ": " + detail
	}
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return plugins.Errorf(plugins.Permanent, "%s; check %s (and that the key may read this data)", what, v.setting)
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if ra := retryAfter(resp.Header.Get("Retry-After")); ra > 0 {
			return plugins.Errorf(plugins.Retryable, "%s (rate limited; retry after %s)", what, ra)
		}
		return plugins.Errorf(plugins.Retryable, "%s (rate limited)", what)
	case code >= 500:
		return plugins.Errorf(plugins.Retryable, "%s", what)
	default:
		return plugins.Errorf(plugins.Permanent, "%s", what)
	}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t).Round(time.Second), 0)
	}
	return 0
}
