package page

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"maps"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/internal/httpapi"
)

// fileBackend: the outbox line is the page; a console line makes it visible
// in the worker's log (the host captures a plugin's stderr).
type fileBackend struct {
	console io.Writer
}

func (b *fileBackend) send(_ context.Context, d *delivery) error {
	d.DeliveryID = deliveryID("page", d.IdempotencyKey)
	fmt.Fprintf(b.console, "PAGE %s → %s: %s (dedup %s, delivery %s)\n",
		strings.ToUpper(d.Severity), d.Responder, d.Summary, or(d.DedupKey, "-"), d.DeliveryID)
	return nil
}

func (b *fileBackend) update(_ context.Context, d *delivery, u update) error {
	what := "RESOLVED"
	if u.Type == eventAcknowledge {
		what = "ACKNOWLEDGED by " + or(u.By, "someone")
	}
	fmt.Fprintf(b.console, "%s → %s: %s (dedup %s, delivery %s)\n", what, d.Responder, d.Summary, d.DedupKey, d.DeliveryID)
	return nil
}

const pagerDutyEventsURL = "https://events.pagerduty.com/v2/enqueue"

// pagerDutyBackend sends Events API v2 alert events. An event reaches a
// service, not a person: a responder listed in routing_keys is paged
// through the routing key of their own service, anyone else through the
// default pagerduty_routing_key.
type pagerDutyBackend struct {
	client  *http.Client
	url     string
	secrets map[string]string
	// routes maps a responder to the name of the secret holding their key.
	routes map[string]string
	source string
}

// route returns the name and value of the routing key for responder.
func (b *pagerDutyBackend) route(responder string) (string, string, error) {
	name := SecretPagerDutyRoutingKey
	if n, ok := b.routes[responder]; ok {
		name = n
	}
	if v := b.secrets[name]; v != "" {
		return name, v, nil
	}
	return "", "", plugins.Errorf(plugins.Permanent,
		"page backend pagerduty has no routing key for responder %s: set plugins.page.secrets.%s in the soar config", responder, name)
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Links       []pdLink   `json:"links,omitempty"`
	Client      string     `json:"client,omitempty"`
}

type pdResponse struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key"`
	Errors   []string `json:"errors"`
}

func (b *pagerDutyBackend) send(ctx context.Context, d *delivery) error {
	name, key, err := b.route(d.Responder)
	if err != nil {
		return err
	}
	d.Route = name
	details := map[string]any{"responder": d.Responder}
	maps.Copy(details, d.Details)
	ev := pdEvent{
		RoutingKey: key, EventAction: "trigger", DedupKey: d.VendorKey, Client: b.source,
		Payload: &pdPayload{
			Summary: truncate(d.Summary, 1024), Source: b.source, Severity: d.Severity,
			Timestamp: d.DeliveredAt.Format(time.RFC3339), Class: "soar page",
			CustomDetails: details,
		},
	}
	for _, l := range d.Links {
		ev.Links = append(ev.Links, pdLink(l))
	}
	r, err := b.post(ctx, name, ev)
	if err != nil {
		return err
	}
	d.DeliveryID = "pagerduty:" + or(r.DedupKey, d.VendorKey)
	return nil
}

// update uses the routing key the page went through: PagerDuty drops an
// acknowledge or resolve sent through any other.
func (b *pagerDutyBackend) update(ctx context.Context, d *delivery, u update) error {
	name := or(d.Route, SecretPagerDutyRoutingKey)
	key := b.secrets[name]
	if key == "" {
		return plugins.Errorf(plugins.Permanent, "page backend pagerduty cannot %s %s: secret %s is not configured; set plugins.page.secrets.%s", u.Type, d.DeliveryID, name, name)
	}
	_, err := b.post(ctx, name, pdEvent{RoutingKey: key, EventAction: u.Type, DedupKey: d.VendorKey})
	return err
}

func (b *pagerDutyBackend) post(ctx context.Context, secret string, ev pdEvent) (pdResponse, error) {
	body, _, err := httpapi.Do(ctx, b.client, httpapi.Request{
		Vendor: "PagerDuty", Method: http.MethodPost, URL: b.url, Body: ev,
		AuthSetting: "plugins.page.secrets." + secret, Secrets: []string{ev.RoutingKey},
	})
	var r pdResponse
	_ = json.Unmarshal(body, &r)
	if e, ok := httpapi.IsStatus(err, http.StatusBadRequest); ok {
		// The Events API has no 401: a wrong routing key is a 400.
		msg := strings.Join(append([]string{r.Message}, r.Errors...), "; ")
		if strings.Contains(strings.ToLower(msg), "routing") {
			return r, plugins.Errorf(plugins.Permanent, "PagerDuty rejected the routing key (HTTP %d: %s); check plugins.page.secrets.%s",
				e.Status, httpapi.Redact(msg, []string{ev.RoutingKey}), secret)
		}
	}
	return r, err
}

const opsgenieAPI = "https://api.opsgenie.com"

// opsgenieBackend creates alerts with the Alert API, one per responder,
// aliased by the vendor key, and closes them by alias.
type opsgenieBackend struct {
	client    *http.Client
	api       string
	key       string
	source    string
	usernames map[string]string
}

type ogResponder struct {
	Type     string `json:"type"`
	Username string `json:"username"`
}

type ogAlert struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description,omitempty"`
	Responders  []ogResponder     `json:"responders"`
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Source      string            `json:"source,omitempty"`
	Priority    string            `json:"priority"`
}

type ogClose struct {
	Source string `json:"source,omitempty"`
	Note   string `json:"note,omitempty"`
}

type ogResponse struct {
	Result    string  `json:"result"`
	Took      float64 `json:"took"`
	RequestID string  `json:"requestId"`
}

// ogPriority maps severities onto Opsgenie's P1 (critical) … P5.
var ogPriority = map[string]string{"critical": "P1", "error": "P2", "warning": "P3", "info": "P5"}

func (b *opsgenieBackend) send(ctx context.Context, d *delivery) error {
	user := d.Responder
	if u, ok := b.usernames[d.Responder]; ok {
		user = u
	}
	details := map[string]string{"responder": d.Responder}
	for k, v := range d.Details {
		details[k] = valueText(v)
	}
	alert := ogAlert{
		Message: truncate(d.Summary, 130), Alias: truncate(d.VendorKey, 512),
		Description: truncate(d.Summary+"\n\n"+detailsText(d), 15000),
		Responders:  []ogResponder{{Type: "user", Username: user}},
		Tags:        []string{"soar", d.Severity}, Details: details, Source: b.source,
		Priority: ogPriority[d.Severity],
	}
	r, err := b.do(ctx, b.api+"/v2/alerts", alert)
	if err != nil {
		return err
	}
	d.DeliveryID = "opsgenie:" + r.RequestID
	return nil
}

// update acknowledges or closes the alert by alias.
func (b *opsgenieBackend) update(ctx context.Context, d *delivery, u update) error {
	verb, note := "close", "resolved by soar"
	if u.Type == eventAcknowledge {
		verb, note = "acknowledge", "acknowledged in soar by "+or(u.By, "someone")
	}
	target := b.api + "/v2/alerts/" + url.PathEscape(truncate(d.VendorKey, 512)) + "/" + verb + "?identifierType=alias"
	_, err := b.do(ctx, target, ogClose{Source: b.source, Note: note})
	return err
}

func (b *opsgenieBackend) do(ctx context.Context, u string, body any) (ogResponse, error) {
	data, _, err := httpapi.Do(ctx, b.client, httpapi.Request{
		Vendor: "Opsgenie", Method: http.MethodPost, URL: u, Body: body,
		Header:      http.Header{"Authorization": {"GenieKey " + b.key}},
		AuthSetting: "plugins.page.secrets." + SecretOpsgenieAPIKey, Secrets: []string{b.key},
	})
	var r ogResponse
	if err == nil {
		_ = json.Unmarshal(data, &r)
	}
	return r, err
}

const slackAPI = "https://slack.com/api"

// slackBackend posts to a channel, through an incoming webhook or as a bot.
type slackBackend struct {
	client     *http.Client
	mode       string
	webhookURL string
	token      string
	channel    string
	api        string
	users      map[string]string
}

type slackMessage struct {
	Channel  string `json:"channel,omitempty"`
	Text     string `json:"text"`
	ThreadTS string `json:"thread_ts,omitempty"`
}

type slackResponse struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error"`
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

var severityEmoji = map[string]string{"critical": ":rotating_light:", "error": ":red_circle:", "warning": ":warning:", "info": ":information_source:"}

func (b *slackBackend) mention(responder string) string {
	if id, ok := b.users[responder]; ok {
		return "<@" + id + ">"
	}
	return responder
}

func (b *slackBackend) send(ctx context.Context, d *delivery) error {
	text := fmt.Sprintf("%s *[%s]* %s\nPaging %s", severityEmoji[d.Severity], strings.ToUpper(d.Severity),
		slackEscape(d.Summary), b.mention(d.Responder))
	if t := detailsText(d); t != "" {
		text += "\n```" + t + "```"
	}
	if d.DedupKey != "" {
		text += "\n_dedup " + slackEscape(d.DedupKey) + "_"
	}
	if b.mode == "bot" {
		r, err := b.postMessage(ctx, slackMessage{Channel: b.channel, Text: text})
		if err != nil {
			return err
		}
		d.Channel, d.TS = r.Channel, r.TS
		d.DeliveryID = "slack:" + r.Channel + "/" + r.TS
		return nil
	}
	if err := b.postWebhook(ctx, slackMessage{Text: text}); err != nil {
		return err
	}
	d.DeliveryID = deliveryID("slack", d.IdempotencyKey)
	return nil
}

// update replies in the page's thread (bot) or posts a follow-up (webhook).
func (b *slackBackend) update(ctx context.Context, d *delivery, u update) error {
	text := fmt.Sprintf(":white_check_mark: Resolved: %s (paged %s)", slackEscape(d.Summary), b.mention(d.Responder))
	if u.Type == eventAcknowledge {
		text = fmt.Sprintf(":eyes: Acknowledged by %s: %s", b.mention(or(u.By, "someone")), slackEscape(d.Summary))
	}
	if b.mode == "bot" && d.TS != "" {
		_, err := b.postMessage(ctx, slackMessage{Channel: or(d.Channel, b.channel), Text: text, ThreadTS: d.TS})
		return err
	}
	if b.mode == "bot" {
		_, err := b.postMessage(ctx, slackMessage{Channel: b.channel, Text: text})
		return err
	}
	return b.postWebhook(ctx, slackMessage{Text: text})
}

func (b *slackBackend) postWebhook(ctx context.Context, m slackMessage) error {
	_, _, err := httpapi.Do(ctx, b.client, httpapi.Request{
		Vendor: "Slack webhook", Method: http.MethodPost, URL: b.webhookURL, Body: m,
		AuthSetting: "plugins.page.secrets." + SecretSlackWebhookURL, Secrets: []string{b.webhookURL},
	})
	// A revoked or deleted webhook answers 404 no_service, an archived
	// channel 410: the URL needs replacing, not a retry.
	for _, status := range []int{http.StatusNotFound, http.StatusGone} {
		if e, ok := httpapi.IsStatus(err, status); ok {
			return plugins.Errorf(plugins.Permanent, "Slack webhook answered HTTP %d (%s): the webhook is revoked or its channel gone; check plugins.page.secrets.%s",
				status, strings.TrimSpace(string(e.Body)), SecretSlackWebhookURL)
		}
	}
	return err
}

// Slack answers Web API errors as HTTP 200 with ok:false.
var (
	slackAuthErrors  = []string{"not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired", "missing_scope", "no_permission"}
	slackRetryErrors = []string{"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)

func (b *slackBackend) postMessage(ctx context.Context, m slackMessage) (slackResponse, error) {
	data, _, err := httpapi.Do(ctx, b.client, httpapi.Request{
		Vendor: "Slack", Method: http.MethodPost, URL: b.api + "/chat.postMessage", Body: m,
		Header:      http.Header{"Authorization": {"Bearer " + b.token}, "Content-Type": {"application/json; charset=utf-8"}},
		AuthSetting: "plugins.page.secrets." + SecretSlackBotToken, Secrets: []string{b.token},
	})
	if err != nil {
		return slackResponse{}, err
	}
	var r slackResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return r, plugins.Errorf(plugins.Retryable, "Slack answered something that is not JSON: %v", err)
	}
	switch {
	case r.OK:
		return r, nil
	case slices.Contains(slackAuthErrors, r.Error):
		return r, plugins.Errorf(plugins.Permanent, "Slack rejected the bot token (%s); check plugins.page.secrets.%s and its chat:write scope", r.Error, SecretSlackBotToken)
	case r.Error == "channel_not_found" || r.Error == "not_in_channel" || r.Error == "is_archived":
		return r, plugins.Errorf(plugins.Permanent, "Slack cannot post to channel %s (%s); check plugins.page.config.slack.channel and invite the bot", b.channel, r.Error)
	case slices.Contains(slackRetryErrors, r.Error):
		return r, plugins.Errorf(plugins.Retryable, "Slack chat.postMessage failed: %s", r.Error)
	default:
		return r, plugins.Errorf(plugins.Permanent, "Slack chat.postMessage failed: %s", r.Error)
	}
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// webhookBackend posts signed JSON events. See docs/integrations.md for how
// a receiver verifies them.
type webhookBackend struct {
	client *http.Client
	url    string
	key    []byte
	now    func() time.Time
}

// WebhookEvent is the body of a webhook delivery.
type WebhookEvent struct {
	Event          string         `json:"event"` // trigger, acknowledge or resolve
	By             string         `json:"by,omitempty"`
	DeliveryID     string         `json:"delivery_id"`
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
	Responder      string         `json:"responder"`
	Summary        string         `json:"summary"`
	Severity       string         `json:"severity"`
	Details        map[string]any `json:"details,omitempty"`
	Links          []Link         `json:"links,omitempty"`
	DedupKey       string         `json:"dedup_key,omitempty"`
	SentAt         time.Time      `json:"sent_at"`
}

// Webhook signature headers.
const (
	HeaderTimestamp = "X-Soar-Timestamp"
	HeaderSignature = "X-Soar-Signature"
)

// Sign returns the X-Soar-Signature value for body sent at timestamp (Unix
// seconds): "v1=" and the hex HMAC-SHA256, keyed with the signing secret,
// of the timestamp, a dot, and the raw body.
func Sign(key []byte, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%d.", timestamp)
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

func (b *webhookBackend) send(ctx context.Context, d *delivery) error {
	d.DeliveryID = deliveryID("webhook", d.IdempotencyKey)
	return b.post(ctx, "trigger", d, d.IdempotencyKey, "")
}

func (b *webhookBackend) update(ctx context.Context, d *delivery, u update) error {
	key := ""
	if d.IdempotencyKey != "" {
		key = d.IdempotencyKey + "/" + u.Type
	}
	return b.post(ctx, u.Type, d, key, u.By)
}

func (b *webhookBackend) post(ctx context.Context, event string, d *delivery, key, by string) error {
	now := b.now()
	body, err := json.Marshal(WebhookEvent{
		Event: event, By: by, DeliveryID: d.DeliveryID, IdempotencyKey: key, Responder: d.Responder,
		Summary: d.Summary, Severity: d.Severity, Details: d.Details, Links: d.Links, DedupKey: d.DedupKey,
		SentAt: now.UTC(),
	})
	if err != nil {
		return plugins.Errorf(plugins.Permanent, "encode webhook event: %v", err)
	}
	ts := now.Unix()
	h := http.Header{
		HeaderTimestamp: {strconv.FormatInt(ts, 10)},
		HeaderSignature: {Sign(b.key, ts, body)},
		"X-Soar-Event":  {event},
	}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	_, _, err = httpapi.Do(ctx, b.client, httpapi.Request{
		Vendor: "Webhook", Method: http.MethodPost, URL: b.url, Body: body, Header: h,
		AuthSetting: "plugins.page.secrets." + SecretWebhookSigning + " (and the receiver's copy of it)", Secrets: []string{string(b.key)},
	})
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}
