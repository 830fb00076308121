package oncall

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
	vendor  string // for messages: "PagerDuty", "Opsgenie"
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

// vendorUser is one on-call user as a vendor names them, and the responder
// derived from them.
type vendorUser struct {
	id, email string // the vendor's user id; the e-mail, when known
	r         Responder
}

// uniqueResponders turns each tier's on-call users into responders: one
// per vendor user (a user on call through two schedules is paged once),
// with ids no two users share. An id derived from an e-mail's local part
// falls back to the whole e-mail, and that to the vendor's id, when another
// user would get the same id: alice@corp and alice@subsidiary are two
// people to page and to look up in HR.
func uniqueResponders(tiers [][]vendorUser) [][]Responder {
	owners := map[string]map[string]bool{} // derived id → vendor user ids
	for _, users := range tiers {
		for _, u := range users {
			if owners[u.r.ID] == nil {
				owners[u.r.ID] = map[string]bool{}
			}
			owners[u.r.ID][u.id] = true
		}
	}
	out := make([][]Responder, len(tiers))
	for i, users := range tiers {
		out[i] = []Responder{}
		seen := map[string]bool{}
		for _, u := range users {
			r := u.r
			if len(owners[r.ID]) > 1 {
				if u.email != "" && r.ID != u.email {
					r.ID = u.email
				} else if u.id != "" {
					r.ID = u.id
				}
			}
			key := u.id
			if key == "" {
				key = "\x00" + r.ID
			}
			if !seen[key] {
				seen[key] = true
				out[i] = append(out[i], r)
			}
		}
	}
	return out
}
