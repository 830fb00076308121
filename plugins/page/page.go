// Package page is the built-in paging plugin: `send` pages one responder;
// `acknowledge` and `resolve` update every page sent under a dedup key.
//
// The default backend needs no account: it appends each page to an outbox
// file (JSON Lines, fsync'd) and prints a console line. The vendor backends
// speak PagerDuty Events API v2, Opsgenie's Alert API, Slack (incoming
// webhook or chat.postMessage) and a generic HMAC-signed webhook.
//
// Whatever the backend, every delivered page is recorded in the outbox file
// before `send` answers, under the call's idempotency key. A repeated key,
// from a retried activity, a reset workflow or a plugin restarted after a
// crash, answers with the original delivery and pages nobody. The window
// between a vendor accepting a page and the record reaching disk is covered
// by the vendor's own de-duplication where it has one: PagerDuty's dedup_key
// and Opsgenie's alias are derived from the same key, and the generic
// webhook carries it in an Idempotency-Key header.
package page

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/internal/journal"
	"github.com/soar-dev/soar/plugins/sdk"
)

// Version is the plugin's manifest version.
const Version = "1.0.0"

// DefaultOutbox is where pages are recorded when outbox_file is not set,
// relative to the working directory of the soar process.
const DefaultOutbox = ".soar/page-outbox.jsonl"

// Backend names.
const (
	File      = "file"
	PagerDuty = "pagerduty"
	Opsgenie  = "opsgenie"
	Slack     = "slack"
	Webhook   = "webhook"
)

// Secret names.
const (
	SecretPagerDutyRoutingKey = "pagerduty_routing_key"
	SecretOpsgenieAPIKey      = "opsgenie_api_key"
	SecretSlackWebhookURL     = "slack_webhook_url"
	SecretSlackBotToken       = "slack_bot_token"
	SecretWebhookSigning      = "webhook_signing_secret"
)

// Config is the plugin's config.
type Config struct {
	Backend    string          `json:"backend,omitempty" jsonschema:"enum=file,enum=pagerduty,enum=opsgenie,enum=slack,enum=webhook,description=Where pages go (default file)"`
	OutboxFile string          `json:"outbox_file,omitempty" jsonschema:"description=JSONL record of every page; the page itself for the file backend (default .soar/page-outbox.jsonl)"`
	Source     string          `json:"source,omitempty" jsonschema:"description=Name of the sender shown by vendors (default soar)"`
	PagerDuty  PagerDutyConfig `json:"pagerduty,omitzero" jsonschema:"description=Settings of the pagerduty backend"`
	Opsgenie   OpsgenieConfig  `json:"opsgenie,omitzero" jsonschema:"description=Settings of the opsgenie backend"`
	Slack      SlackConfig     `json:"slack,omitzero" jsonschema:"description=Settings of the slack backend"`
	Webhook    WebhookConfig   `json:"webhook,omitzero" jsonschema:"description=Settings of the webhook backend"`
}

// PagerDutyConfig configures the pagerduty backend.
type PagerDutyConfig struct {
	URL string `json:"url,omitempty" jsonschema:"description=Events API v2 endpoint (default https://events.pagerduty.com/v2/enqueue)"`
	// RoutingKeys maps a responder id to the name of the secret holding the
	// routing key of that responder's own PagerDuty service, so the page
	// reaches that person; others go through pagerduty_routing_key.
	RoutingKeys map[string]string `json:"routing_keys,omitempty" jsonschema:"description=Responder id → name of the secret with the routing key of their own service"`
}

// OpsgenieConfig configures the opsgenie backend.
type OpsgenieConfig struct {
	APIURL string `json:"api_url,omitempty" jsonschema:"description=API base URL (default https://api.opsgenie.com; EU accounts https://api.eu.opsgenie.com)"`
	// Usernames maps soar responder ids to Opsgenie usernames (emails);
	// unmapped ids are sent as they are.
	Usernames map[string]string `json:"usernames,omitempty" jsonschema:"description=Responder id → Opsgenie username"`
}

// SlackConfig configures the slack backend.
type SlackConfig struct {
	Mode    string `json:"mode,omitempty" jsonschema:"enum=webhook,enum=bot,description=webhook (incoming webhook URL in secret slack_webhook_url) or bot (chat.postMessage with slack_bot_token); default webhook"`
	Channel string `json:"channel,omitempty" jsonschema:"description=Channel ID for bot mode"`
	APIURL  string `json:"api_url,omitempty" jsonschema:"description=Web API base URL (default https://slack.com/api)"`
	// Users maps soar responder ids to Slack member ids, mentioned as <@U…>.
	Users map[string]string `json:"users,omitempty" jsonschema:"description=Responder id → Slack member ID to mention"`
}

// WebhookConfig configures the webhook backend.
type WebhookConfig struct {
	URL string `json:"url,omitempty" jsonschema:"description=URL that receives signed JSON events"`
}

// Link is a link shown with the page.
type Link struct {
	Href string `json:"href" jsonschema:"minLength=1"`
	Text string `json:"text,omitempty"`
}

// SendInput is the input of send. Its fields are exactly what the
// escalation step of a playbook sends.
type SendInput struct {
	Responder string         `json:"responder" jsonschema:"minLength=1,description=Responder id from the on-call plugin"`
	Summary   string         `json:"summary" jsonschema:"minLength=1"`
	Severity  string         `json:"severity,omitempty" jsonschema:"enum=critical,enum=error,enum=warning,enum=info,description=Default critical"`
	Details   map[string]any `json:"details,omitempty"`
	Links     []Link         `json:"links,omitempty"`
	DedupKey  string         `json:"dedup_key,omitempty" jsonschema:"description=Groups the pages of one alert; resolve closes them all"`
}

// SendOutput is the answer of send; a repeated idempotency key answers the
// original delivery.
type SendOutput struct {
	DeliveryID  string    `json:"delivery_id"`
	DeliveredAt time.Time `json:"delivered_at"`
	Backend     string    `json:"backend"`
}

// ResolveInput is the input of resolve.
type ResolveInput struct {
	DedupKey string `json:"dedup_key" jsonschema:"minLength=1"`
}

// ResolveOutput lists the deliveries resolve closed.
type ResolveOutput struct {
	Resolved   []string  `json:"resolved" jsonschema:"description=Delivery ids closed by this call"`
	ResolvedAt time.Time `json:"resolved_at"`
}

// AcknowledgeInput is the input of acknowledge.
type AcknowledgeInput struct {
	DedupKey string `json:"dedup_key" jsonschema:"minLength=1"`
	By       string `json:"by,omitempty" jsonschema:"description=Who acknowledged (a responder id)\\, shown to the others"`
}

// AcknowledgeOutput lists the deliveries acknowledge updated.
type AcknowledgeOutput struct {
	Acknowledged   []string  `json:"acknowledged" jsonschema:"description=Delivery ids acknowledged by this call"`
	AcknowledgedAt time.Time `json:"acknowledged_at"`
}

// delivery is one line of the outbox: a page and where it went.
type delivery struct {
	Type           string         `json:"type"` // "page"
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
	DeliveryID     string         `json:"delivery_id"`
	DeliveredAt    time.Time      `json:"delivered_at"`
	Backend        string         `json:"backend"`
	Responder      string         `json:"responder"`
	Summary        string         `json:"summary"`
	Severity       string         `json:"severity"`
	Details        map[string]any `json:"details,omitempty"`
	Links          []Link         `json:"links,omitempty"`
	DedupKey       string         `json:"dedup_key,omitempty"`
	// VendorKey is PagerDuty's dedup_key or Opsgenie's alias.
	VendorKey string `json:"vendor_key,omitempty"`
	// Route names the secret whose PagerDuty routing key carried the page.
	Route string `json:"route,omitempty"`
	// Channel and TS locate a Slack bot message, for replies in its thread.
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
}

// Events that update earlier pages.
const (
	eventAcknowledge = "acknowledge"
	eventResolve     = "resolve"
)

// update is the outbox line an acknowledge or resolve call writes.
type update struct {
	Type           string    `json:"type"` // eventAcknowledge or eventResolve
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	DedupKey       string    `json:"dedup_key"`
	By             string    `json:"by,omitempty"`
	Deliveries     []string  `json:"deliveries"`
	At             time.Time `json:"at"`
}

// Plugin returns the page plugin, ready for sdk.Serve.
func Plugin() *sdk.Plugin {
	p := &pager{client: &http.Client{}, console: os.Stderr, now: time.Now}
	return p.plugin()
}

type pager struct {
	journals journal.Set
	client   *http.Client
	console  interface{ Write([]byte) (int, error) }
	now      func() time.Time
}

func (p *pager) plugin() *sdk.Plugin {
	return &sdk.Plugin{
		Name:        "page",
		Version:     Version,
		Description: "Page a responder (file outbox, PagerDuty, Opsgenie, Slack or a signed webhook); never twice for one idempotency key",
		Config:      Config{},
		Secrets: []sdk.Secret{
			{Name: SecretPagerDutyRoutingKey, Description: "PagerDuty Events API v2 integration (routing) key; backend pagerduty", Optional: true},
			{Name: SecretOpsgenieAPIKey, Description: "Opsgenie API integration key (GenieKey); backend opsgenie", Optional: true},
			{Name: SecretSlackWebhookURL, Description: "Slack incoming webhook URL; backend slack, mode webhook", Optional: true},
			{Name: SecretSlackBotToken, Description: "Slack bot token (xoxb-…) with chat:write; backend slack, mode bot", Optional: true},
			{Name: SecretWebhookSigning, Description: "HMAC-SHA256 key signing webhook deliveries; backend webhook", Optional: true},
		},
		Actions: []sdk.Action{
			sdk.NewAction("send", "Page one responder. The same idempotency key never pages twice, also across restarts; "+
				"a repeat answers the original delivery.", p.send, sdk.SideEffect()),
			sdk.NewAction("acknowledge", "Acknowledge every open page sent with dedup_key, so vendors stop notifying "+
				"(PagerDuty acknowledge, Opsgenie acknowledge, a Slack or webhook follow-up, an outbox record).", p.acknowledge, sdk.SideEffect()),
			sdk.NewAction("resolve", "Resolve every page sent with dedup_key (PagerDuty resolve, Opsgenie close, "+
				"a Slack or webhook follow-up, an outbox record).", p.resolve, sdk.SideEffect()),
		},
		Health: p.health,
	}
}

func decodeConfig(call sdk.Call) (Config, error) {
	cfg := Config{Backend: File, OutboxFile: DefaultOutbox, Source: "soar"}
	if err := call.DecodeConfig(&cfg); err != nil {
		return cfg, plugins.Errorf(plugins.Permanent, "%v", err)
	}
	if cfg.Backend == "" {
		cfg.Backend = File
	}
	if cfg.OutboxFile == "" {
		cfg.OutboxFile = DefaultOutbox
	}
	if cfg.Source == "" {
		cfg.Source = "soar"
	}
	return cfg, nil
}

func (p *pager) send(ctx context.Context, call sdk.Call, in SendInput) (SendOutput, error) {
	cfg, err := decodeConfig(call)
	if err != nil {
		return SendOutput{}, err
	}
	b, err := p.backend(cfg, cfg.Backend, call.Secrets)
	if err != nil {
		return SendOutput{}, err
	}
	if call.IdempotencyKey == "" {
		call.Logger.Warn("page sent without an idempotency key: a retry would page again")
	}
	if in.Severity == "" {
		in.Severity = "critical"
	}
	j := p.journals.Get(cfg.OutboxFile)
	// Pages of one alert go out side by side; an acknowledge or resolve of
	// the alert waits for those under way, so that it reaches them too.
	release, err := j.Hold(ctx, alertLock(in.DedupKey), true)
	if err != nil {
		return SendOutput{}, err
	}
	defer release()
	line, done, err := j.Once(ctx, "page", call.IdempotencyKey, func() (any, error) {
		d := &delivery{
			Type: "page", IdempotencyKey: call.IdempotencyKey, Backend: cfg.Backend,
			Responder: in.Responder, Summary: in.Summary, Severity: in.Severity,
			Details: in.Details, Links: in.Links, DedupKey: in.DedupKey,
			VendorKey:   vendorKey(in.DedupKey, in.Responder, call.IdempotencyKey),
			DeliveredAt: p.now().UTC(),
		}
		if err := b.send(ctx, d); err != nil {
			return nil, err
		}
		return d, nil
	})
	if err != nil {
		return SendOutput{}, err
	}
	var d delivery
	if err := json.Unmarshal(line, &d); err != nil {
		return SendOutput{}, plugins.Errorf(plugins.Permanent, "outbox %s: %v", cfg.OutboxFile, err)
	}
	if done {
		call.Logger.Info("page already delivered for this idempotency key; not paging again",
			"delivery_id", d.DeliveryID, "responder", d.Responder)
	}
	return SendOutput{DeliveryID: d.DeliveryID, DeliveredAt: d.DeliveredAt, Backend: d.Backend}, nil
}

func (p *pager) resolve(ctx context.Context, call sdk.Call, in ResolveInput) (ResolveOutput, error) {
	u, err := p.update(ctx, call, update{Type: eventResolve, DedupKey: in.DedupKey})
	return ResolveOutput{Resolved: u.Deliveries, ResolvedAt: u.At}, err
}

func (p *pager) acknowledge(ctx context.Context, call sdk.Call, in AcknowledgeInput) (AcknowledgeOutput, error) {
	u, err := p.update(ctx, call, update{Type: eventAcknowledge, DedupKey: in.DedupKey, By: in.By})
	return AcknowledgeOutput{Acknowledged: u.Deliveries, AcknowledgedAt: u.At}, err
}

// update sends u to every open page of its dedup key, each through the
// backend that delivered it, once per idempotency key.
func (p *pager) update(ctx context.Context, call sdk.Call, u update) (update, error) {
	cfg, err := decodeConfig(call)
	if err != nil {
		return update{}, err
	}
	j := p.journals.Get(cfg.OutboxFile)
	release, err := j.Hold(ctx, alertLock(u.DedupKey), false) // see send
	if err != nil {
		return update{}, err
	}
	defer release()
	line, _, err := j.Once(ctx, u.Type, call.IdempotencyKey, func() (any, error) {
		open, err := openDeliveries(j, u.DedupKey, u.Type)
		if err != nil {
			return nil, err
		}
		u.IdempotencyKey, u.Deliveries = call.IdempotencyKey, []string{}
		for _, d := range open {
			b, err := p.backend(cfg, d.Backend, call.Secrets)
			if err != nil {
				return nil, err
			}
			if err := b.update(ctx, d, u); err != nil {
				// Deliveries updated so far are not recorded: updating
				// them again on retry is harmless for every backend.
				return nil, err
			}
			u.Deliveries = append(u.Deliveries, d.DeliveryID)
		}
		u.At = p.now().UTC()
		return u, nil
	})
	if err != nil {
		return update{}, err
	}
	var out update
	if err := json.Unmarshal(line, &out); err != nil {
		return update{}, plugins.Errorf(plugins.Permanent, "outbox %s: %v", cfg.OutboxFile, err)
	}
	return out, nil
}

// alertLock names the lock that orders an alert's pages and its updates.
func alertLock(dedupKey string) string { return "alert\x00" + dedupKey }

// openDeliveries are the pages sent with dedupKey that event still
// applies to: not resolved, and for an acknowledgement not acknowledged.
func openDeliveries(j *journal.Journal, dedupKey, event string) ([]*delivery, error) {
	done := map[string]bool{}
	types := []string{eventResolve}
	if event == eventAcknowledge {
		types = append(types, eventAcknowledge)
	}
	for _, typ := range types {
		err := j.Scan(typ, func(line json.RawMessage) error {
			var u update
			if json.Unmarshal(line, &u) == nil && u.DedupKey == dedupKey {
				for _, id := range u.Deliveries {
					done[id] = true
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var open []*delivery
	err := j.Scan("page", func(line json.RawMessage) error {
		d := &delivery{}
		if json.Unmarshal(line, d) == nil && d.DedupKey == dedupKey && !done[d.DeliveryID] {
			open = append(open, d)
		}
		return nil
	})
	return open, err
}

func (p *pager) health(_ context.Context, call sdk.Call) error {
	cfg, err := decodeConfig(call)
	if err != nil {
		return err
	}
	if _, err := p.backend(cfg, cfg.Backend, call.Secrets); err != nil {
		return err
	}
	return p.journals.Get(cfg.OutboxFile).Check()
}

// backend is one way of delivering pages.
type backend interface {
	// send delivers d and fills in DeliveryID and any vendor fields.
	send(ctx context.Context, d *delivery) error
	// update acknowledges or resolves a delivery made earlier.
	update(ctx context.Context, d *delivery, u update) error
}

var (
	_ backend = (*fileBackend)(nil)
	_ backend = (*pagerDutyBackend)(nil)
	_ backend = (*opsgenieBackend)(nil)
	_ backend = (*slackBackend)(nil)
	_ backend = (*webhookBackend)(nil)
)

// backend builds the named backend from cfg and the call's secrets; a
// missing setting is a permanent error that names it.
func (p *pager) backend(cfg Config, name string, secrets map[string]string) (backend, error) {
	need := func(secret string) (string, error) {
		v := secrets[secret]
		if v == "" {
			return "", plugins.Errorf(plugins.Permanent,
				"page backend %s needs secret %s: set plugins.page.secrets.%s in the soar config", name, secret, secret)
		}
		return v, nil
	}
	switch name {
	case File:
		return &fileBackend{console: p.console}, nil
	case PagerDuty:
		if len(cfg.PagerDuty.RoutingKeys) == 0 {
			if _, err := need(SecretPagerDutyRoutingKey); err != nil {
				return nil, err
			}
		}
		return &pagerDutyBackend{client: p.client, url: or(cfg.PagerDuty.URL, pagerDutyEventsURL), secrets: secrets,
			routes: cfg.PagerDuty.RoutingKeys, source: cfg.Source}, nil
	case Opsgenie:
		key, err := need(SecretOpsgenieAPIKey)
		if err != nil {
			return nil, err
		}
		return &opsgenieBackend{client: p.client, api: strings.TrimRight(or(cfg.Opsgenie.APIURL, opsgenieAPI), "/"),
			key: key, source: cfg.Source, usernames: cfg.Opsgenie.Usernames}, nil
	case Slack:
		s := &slackBackend{client: p.client, mode: or(cfg.Slack.Mode, "webhook"), channel: cfg.Slack.Channel,
			api: strings.TrimRight(or(cfg.Slack.APIURL, slackAPI), "/"), users: cfg.Slack.Users}
		var err error
		switch s.mode {
		case "bot":
			if s.channel == "" {
				return nil, plugins.Errorf(plugins.Permanent, "page backend slack in bot mode needs a channel: set plugins.page.config.slack.channel")
			}
			s.token, err = need(SecretSlackBotToken)
		default:
			s.webhookURL, err = need(SecretSlackWebhookURL)
		}
		if err != nil {
			return nil, err
		}
		return s, nil
	case Webhook:
		if cfg.Webhook.URL == "" {
			return nil, plugins.Errorf(plugins.Permanent, "page backend webhook needs a URL: set plugins.page.config.webhook.url")
		}
		key, err := need(SecretWebhookSigning)
		if err != nil {
			return nil, err
		}
		return &webhookBackend{client: p.client, url: cfg.Webhook.URL, key: []byte(key), now: p.now}, nil
	default:
		return nil, plugins.Errorf(plugins.Permanent, "unknown page backend %q: set plugins.page.config.backend to file, pagerduty, opsgenie, slack or webhook", name)
	}
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// vendorKey is the de-duplication key a vendor sees for one page: the
// alert's dedup key, the responder, and a hash of the idempotency key. A
// retry of one page reuses it, so the vendor folds a duplicate sent in a
// crash window into the first; a later tier or a repeat pass gets its own
// key and notifies again. Long keys are hashed to stay within PagerDuty's
// 255 characters.
func vendorKey(dedupKey, responder, idempotencyKey string) string {
	if idempotencyKey == "" {
		idempotencyKey = randomHex(8)
	}
	k := or(dedupKey, "soar") + "/" + responder + "/" + shortHash(idempotencyKey, 8)
	if len(k) > 255 {
		return "soar-" + shortHash(k, 32)
	}
	return k
}

func shortHash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// deliveryID is stable for a key, so the id a caller sees does not depend
// on which attempt succeeded.
func deliveryID(prefix, idempotencyKey string) string {
	if idempotencyKey == "" {
		return prefix + "-" + randomHex(8)
	}
	return prefix + "-" + shortHash(idempotencyKey, 16)
}

// detailsText renders details and links as "key: value" lines for vendors
// that take plain text.
func detailsText(d *delivery) string {
	var b strings.Builder
	for _, k := range sortedKeys(d.Details) {
		fmt.Fprintf(&b, "%s: %s\n", k, valueText(d.Details[k]))
	}
	for _, l := range d.Links {
		fmt.Fprintf(&b, "%s %s\n", or(l.Text, "link:"), l.Href)
	}
	return strings.TrimRight(b.String(), "\n")
}

func valueText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	data, _ := json.Marshal(v)
	return string(data)
}
