// Package identity is the built-in containment plugin: suspend a user,
// clear their sessions, or lift the suspension.
//
// The default backend, local, changes nothing anywhere: it records the
// intent in the audit log, so `soar dev` and playbook tests can exercise
// containment without an identity provider. The okta backend calls Okta's
// Users lifecycle and sessions APIs with an API token. Either way the
// action is recorded in the audit log once per idempotency key, and a
// repeated key answers with the first outcome without calling Okta again.
package identity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/audit"
	"github.com/soar-dev/soar/plugins/internal/httpapi"
	"github.com/soar-dev/soar/plugins/internal/journal"
	"github.com/soar-dev/soar/plugins/sdk"
)

// Version is the plugin's manifest version.
const Version = "1.0.0"

// Backend names.
const (
	Local = "local"
	Okta  = "okta"
)

// SecretOktaToken is the Okta API token secret.
const SecretOktaToken = "okta_api_token"

// Config is the plugin's config.
type Config struct {
	Backend string     `json:"backend,omitempty" jsonschema:"enum=local,enum=okta,description=local records the intent only (default); okta acts"`
	LogFile string     `json:"log_file,omitempty" jsonschema:"description=Audit log the actions are recorded in (default .soar/audit.jsonl\\, shared with the audit plugin)"`
	Okta    OktaConfig `json:"okta,omitzero" jsonschema:"description=Settings of the okta backend"`
}

// OktaConfig configures the okta backend.
type OktaConfig struct {
	OrgURL string `json:"org_url,omitempty" jsonschema:"description=Your Okta org\\, e.g. https://example.okta.com"`
	// RevokeOAuthTokens also revokes the OAuth tokens issued to the user
	// when clearing sessions (Okta's oauthTokens=true).
	RevokeOAuthTokens bool `json:"revoke_oauth_tokens,omitempty" jsonschema:"description=clear_sessions also revokes OAuth refresh and access tokens"`
}

// Input is the input of every action.
type Input struct {
	User   string `json:"user" jsonschema:"minLength=1,description=Okta user id or login (email)"`
	Reason string `json:"reason,omitempty" jsonschema:"description=Why; recorded in the audit log"`
}

// Output is the answer of every action.
type Output struct {
	User    string `json:"user"`
	Action  string `json:"action"`
	Backend string `json:"backend"`
	// Applied is false for the local backend, which changes nothing.
	Applied bool `json:"applied" jsonschema:"description=false when the local backend only recorded the intent"`
	// State is suspended, active, sessions_cleared, or recorded (local).
	State string    `json:"state" jsonschema:"enum=suspended,enum=active,enum=sessions_cleared,enum=recorded"`
	ID    string    `json:"id" jsonschema:"description=Id of the audit log record"`
	At    time.Time `json:"at"`
}

// entry is the audit log line for one action.
type entry struct {
	Type           string    `json:"type"` // "identity"
	ID             string    `json:"id"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	At             time.Time `json:"at"`
	Action         string    `json:"action"`
	User           string    `json:"user"`
	Reason         string    `json:"reason,omitempty"`
	Backend        string    `json:"backend"`
	Applied        bool      `json:"applied"`
	State          string    `json:"state"`
}

// Plugin returns the identity plugin, ready for sdk.Serve.
func Plugin() *sdk.Plugin {
	c := &containment{client: &http.Client{}, now: time.Now}
	return c.plugin()
}

func (c *containment) plugin() *sdk.Plugin {
	return &sdk.Plugin{
		Name:        "identity",
		Version:     Version,
		Description: "Contain an account: suspend, clear sessions, unsuspend (Okta, or a local default that only records the intent)",
		Config:      Config{},
		Secrets: []sdk.Secret{
			{Name: SecretOktaToken, Description: "Okta API token (sent as SSWS); backend okta", Optional: true},
		},
		Actions: []sdk.Action{
			sdk.NewAction("suspend_user", "Suspend the user: they cannot sign in until unsuspended (Okta lifecycle/suspend)",
				c.action("suspend_user"), sdk.SideEffect()),
			sdk.NewAction("clear_sessions", "End every session of the user (Okta DELETE /users/{id}/sessions)",
				c.action("clear_sessions"), sdk.SideEffect()),
			sdk.NewAction("unsuspend_user", "Lift a suspension (Okta lifecycle/unsuspend)",
				c.action("unsuspend_user"), sdk.SideEffect()),
		},
		Health: c.health,
	}
}

type containment struct {
	journals journal.Set
	client   *http.Client
	now      func() time.Time
}

func decodeConfig(call sdk.Call) (Config, error) {
	var cfg Config
	if err := call.DecodeConfig(&cfg); err != nil {
		return cfg, plugins.Errorf(plugins.Permanent, "%v", err)
	}
	if cfg.Backend == "" {
		cfg.Backend = Local
	}
	if cfg.LogFile == "" {
		cfg.LogFile = audit.DefaultLog
	}
	return cfg, nil
}

// okta returns the Okta client the config and secrets describe.
func okta(cfg Config, secrets map[string]string, client *http.Client) (*oktaClient, error) {
	if cfg.Okta.OrgURL == "" {
		return nil, plugins.Errorf(plugins.Permanent, "identity backend okta needs the org URL: set plugins.identity.config.okta.org_url")
	}
	token := secrets[SecretOktaToken]
	if token == "" {
		return nil, plugins.Errorf(plugins.Permanent, "identity backend okta needs secret %s: set plugins.identity.secrets.%s in the soar config", SecretOktaToken, SecretOktaToken)
	}
	return &oktaClient{client: client, org: strings.TrimRight(cfg.Okta.OrgURL, "/"), token: token, revokeOAuth: cfg.Okta.RevokeOAuthTokens}, nil
}

func (c *containment) action(name string) func(context.Context, sdk.Call, Input) (Output, error) {
	return func(ctx context.Context, call sdk.Call, in Input) (Output, error) {
		cfg, err := decodeConfig(call)
		if err != nil {
			return Output{}, err
		}
		var ok *oktaClient
		switch cfg.Backend {
		case Local:
		case Okta:
			if ok, err = okta(cfg, call.Secrets, c.client); err != nil {
				return Output{}, err
			}
		default:
			return Output{}, plugins.Errorf(plugins.Permanent, "unknown identity backend %q: set plugins.identity.config.backend to local or okta", cfg.Backend)
		}
		line, done, err := c.journals.Get(cfg.LogFile).Once(ctx, "identity", call.IdempotencyKey, func() (any, error) {
			e := &entry{
				Type: "identity", ID: entryID(call.IdempotencyKey, c.now()), IdempotencyKey: call.IdempotencyKey,
				Action: name, User: in.User, Reason: in.Reason, Backend: cfg.Backend, State: "recorded",
			}
			if ok != nil {
				state, err := ok.do(ctx, name, in.User)
				if err != nil {
					return nil, err
				}
				e.Applied, e.State = true, state
			}
			e.At = c.now().UTC()
			return e, nil
		})
		if err != nil {
			return Output{}, err
		}
		var e entry
		if err := json.Unmarshal(line, &e); err != nil {
			return Output{}, plugins.Errorf(plugins.Permanent, "audit log %s: %v", cfg.LogFile, err)
		}
		if done {
			call.Logger.Info("identity action already taken for this idempotency key", "action", e.Action, "user", e.User)
		} else if !e.Applied {
			call.Logger.Warn("identity backend local: intent recorded, nothing changed", "action", name, "user", in.User)
		}
		return Output{User: e.User, Action: e.Action, Backend: e.Backend, Applied: e.Applied, State: e.State, ID: e.ID, At: e.At}, nil
	}
}

func (c *containment) health(_ context.Context, call sdk.Call) error {
	cfg, err := decodeConfig(call)
	if err != nil {
		return err
	}
	if cfg.Backend == Okta {
		if _, err := okta(cfg, call.Secrets, c.client); err != nil {
			return err
		}
	}
	return c.journals.Get(cfg.LogFile).Check()
}

func entryID(key string, now time.Time) string {
	if key == "" {
		key = now.Format(time.RFC3339Nano)
	}
	sum := sha256.Sum256([]byte("identity\x00" + key))
	return "identity-" + hex.EncodeToString(sum[:8])
}

// oktaClient calls the Okta Users API.
type oktaClient struct {
	client      *http.Client
	org         string
	token       string
	revokeOAuth bool
}

// oktaError is Okta's error body.
type oktaError struct {
	ErrorCode    string `json:"errorCode"`
	ErrorSummary string `json:"errorSummary"`
	ErrorID      string `json:"errorId"`
}

// do performs action on user and returns the user's resulting state.
func (o *oktaClient) do(ctx context.Context, action, user string) (string, error) {
	base := o.org + "/api/v1/users/" + url.PathEscape(user)
	var method, u, state string
	switch action {
	case "suspend_user":
		method, u, state = http.MethodPost, base+"/lifecycle/suspend", "suspended"
	case "unsuspend_user":
		method, u, state = http.MethodPost, base+"/lifecycle/unsuspend", "active"
	case "clear_sessions":
		method, u, state = http.MethodDelete, base+"/sessions", "sessions_cleared"
		if o.revokeOAuth {
			u += "?oauthTokens=true"
		}
	}
	_, _, err := httpapi.Do(ctx, o.client, httpapi.Request{
		Vendor: "Okta", Method: method, URL: u,
		Header:      http.Header{"Authorization": {"SSWS " + o.token}},
		AuthSetting: "plugins.identity.secrets." + SecretOktaToken + " (an API token of an admin allowed to manage users)",
		Secrets:     []string{o.token},
	})
	if err == nil {
		return state, nil
	}
	var oe oktaError
	if e, ok := httpapi.IsStatus(err, http.StatusNotFound); ok {
		_ = json.Unmarshal(e.Body, &oe)
		return "", plugins.Errorf(plugins.Permanent, "Okta has no user %q (%s %s)", user, oe.ErrorCode, oe.ErrorSummary)
	}
	if e, ok := httpapi.IsStatus(err, http.StatusBadRequest); ok {
		// E0000001: suspend needs an ACTIVE user, unsuspend a SUSPENDED one.
		// A retry after a crash that came between Okta applying the action
		// and the journal's fsync meets exactly this refusal, for a user
		// already in the state wanted: that is success, not a failure.
		if want := map[string]string{"suspend_user": "SUSPENDED", "unsuspend_user": "ACTIVE"}[action]; want != "" {
			if status, serr := o.status(ctx, base); serr == nil && status == want {
				return state, nil
			}
		}
		_ = json.Unmarshal(e.Body, &oe)
		return "", plugins.Errorf(plugins.Permanent, "Okta refused to %s %s: %s (%s); check the user's status in Okta",
			strings.ReplaceAll(action, "_", " "), user, oe.ErrorSummary, oe.ErrorCode)
	}
	return "", err
}

// status is the user's lifecycle status (ACTIVE, SUSPENDED, …) from GET
// /api/v1/users/{id}.
func (o *oktaClient) status(ctx context.Context, userURL string) (string, error) {
	data, _, err := httpapi.Do(ctx, o.client, httpapi.Request{
		Vendor: "Okta", Method: http.MethodGet, URL: userURL,
		Header:      http.Header{"Authorization": {"SSWS " + o.token}},
		AuthSetting: "plugins.identity.secrets." + SecretOktaToken + " (an API token of an admin allowed to manage users)",
		Secrets:     []string{o.token},
	})
	if err != nil {
		return "", err
	}
	var u struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(data, &u); err != nil {
		return "", fmt.Errorf("decode Okta user: %w", err)
	}
	return u.Status, nil
}
