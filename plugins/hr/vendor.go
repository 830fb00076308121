package hr

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/page/httpapi"
)

// vendorHTTP reads a vendor's JSON API. Failures are classified as the
// other built-ins classify them (plugins/page/httpapi): rejected
// credentials are permanent and name the setting to fix, rate limits and
// outages are retryable with the vendor's Retry-After, and secrets are
// redacted from every message.
type vendorHTTP struct {
	vendor  string // for messages: "BambooHR"
	setting string // the secret to fix on 401/403
	client  *http.Client
	header  http.Header
	secrets []string
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func (v *vendorHTTP) getJSON(ctx context.Context, url string, out any) error {
	data, _, err := httpapi.Do(ctx, v.client, httpapi.Request{
		Vendor: v.vendor, Method: http.MethodGet, URL: url, Header: v.header.Clone(),
		AuthSetting: v.setting, Secrets: v.secrets,
	})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return plugins.Errorf(plugins.Permanent, "%s: unexpected answer to GET %s: %v", v.vendor, redactedPath(url), err)
	}
	return nil
}

// redactedPath drops the query, which may name people.
func redactedPath(u string) string {
	for i, c := range u {
		if c == '?' {
			return u[:i]
		}
	}
	return u
}
