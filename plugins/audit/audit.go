// Package audit is the built-in audit plugin: `record` appends a verdict
// and its evidence to an append-only JSON Lines log (fsync'd before the
// call answers) and, when configured, forwards it to Splunk's HTTP Event
// Collector.
//
// A record is written once per idempotency key: a retried or reset step
// finds its record in the log and answers with it. Forwarding is retried
// with the step (the local record stays; a "forwarded" line marks the
// records Splunk accepted), so a Splunk outage never loses a record and
// never blocks the local one.
package audit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/soar-dev/soar/plugins"
	"github.com/soar-dev/soar/plugins/internal/httpapi"
	"github.com/soar-dev/soar/plugins/internal/journal"
	"github.com/soar-dev/soar/plugins/sdk"
)

// Version is the plugin's manifest version.
const Version = "1.0.0"

// DefaultLog is the audit log when log_file is not set, relative to the
// working directory of the soar process. The identity plugin's local
// backend writes to the same file by default.
const DefaultLog = ".soar/audit.jsonl"

// SecretSplunkHECToken is the HEC token secret.
const SecretSplunkHECToken = "splunk_hec_token"

// Config is the plugin's config.
type Config struct {
	LogFile   string    `json:"log_file,omitempty" jsonschema:"description=Append-only JSONL audit log (default .soar/audit.jsonl)"`
	SplunkHEC HECConfig `json:"splunk_hec,omitzero" jsonschema:"description=Forward each record to Splunk HTTP Event Collector (token in secret splunk_hec_token)"`
}

// HECConfig configures forwarding to Splunk HEC.
type HECConfig struct {
	URL        string `json:"url,omitempty" jsonschema:"description=Event endpoint\\, e.g. https://splunk.example.com:8088/services/collector/event; empty disables forwarding"`
	Sourcetype string `json:"sourcetype,omitempty" jsonschema:"description=Default soar:audit"`
	Source     string `json:"source,omitempty" jsonschema:"description=Default soar"`
	Index      string `json:"index,omitempty" jsonschema:"description=Default: the token's default index"`
	Host       string `json:"host,omitempty"`
}

// RecordInput is the input of record.
type RecordInput struct {
	Run      string         `json:"run,omitempty" jsonschema:"description=Run (workflow) id; the record also keeps the call's idempotency key\\, which starts with it"`
	Alert    any            `json:"alert,omitempty" jsonschema:"description=The alert\\, or its id"`
	Verdict  string         `json:"verdict" jsonschema:"minLength=1,description=e.g. silenced\\, escalated\\, contained"`
	Reason   string         `json:"reason,omitempty"`
	Evidence map[string]any `json:"evidence,omitempty"`
}

// RecordOutput is the answer of record.
type RecordOutput struct {
	ID         string    `json:"id"`
	RecordedAt time.Time `json:"recorded_at"`
	// Forwarded is true once Splunk HEC accepted the record (always false
	// without splunk_hec.url).
	Forwarded bool `json:"forwarded"`
}

// Record is one line of the audit log.
type Record struct {
	Type           string         `json:"type"` // "audit"
	ID             string         `json:"id"`
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
	RecordedAt     time.Time      `json:"recorded_at"`
	Run            string         `json:"run,omitempty"`
	Alert          any            `json:"alert,omitempty"`
	Verdict        string         `json:"verdict"`
	Reason         string         `json:"reason,omitempty"`
	Evidence       map[string]any `json:"evidence,omitempty"`
}

// forwarded marks a record Splunk accepted.
type forwarded struct {
	Type           string    `json:"type"` // "forwarded"
	IdempotencyKey string    `json:"idempotency_key"`
	ID             string    `json:"id"`
	At             time.Time `json:"at"`
}

// Plugin returns the audit plugin, ready for sdk.Serve.
func Plugin() *sdk.Plugin {
	a := &auditor{client: &http.Client{}, now: time.Now}
	return a.plugin()
}

func (a *auditor) plugin() *sdk.Plugin {
	return &sdk.Plugin{
		Name:        "audit",
		Version:     Version,
		Description: "Append verdicts and evidence to an fsync'd JSONL audit log; optionally forward to Splunk HEC",
		Config:      Config{},
		Secrets: []sdk.Secret{
			{Name: SecretSplunkHECToken, Description: "Splunk HTTP Event Collector token; needed when splunk_hec.url is set", Optional: true},
		},
		Actions: []sdk.Action{
			sdk.NewAction("record", "Append an audit record (once per idempotency key) and forward it when configured", a.record, sdk.SideEffect()),
		},
		Health: a.health,
	}
}

type auditor struct {
	journals journal.Set
	client   *http.Client
	now      func() time.Time
}

func decodeConfig(call sdk.Call) (Config, error) {
	var cfg Config
	if err := call.DecodeConfig(&cfg); err != nil {
		return cfg, plugins.Errorf(plugins.Permanent, "%v", err)
	}
	if cfg.LogFile == "" {
		cfg.LogFile = DefaultLog
	}
	if cfg.SplunkHEC.Sourcetype == "" {
		cfg.SplunkHEC.Sourcetype = "soar:audit"
	}
	if cfg.SplunkHEC.Source == "" {
		cfg.SplunkHEC.Source = "soar"
	}
	return cfg, nil
}

func (a *auditor) record(ctx context.Context, call sdk.Call, in RecordInput) (RecordOutput, error) {
	cfg, err := decodeConfig(call)
	if err != nil {
		return RecordOutput{}, err
	}
	token := call.Secrets[SecretSplunkHECToken]
	if cfg.SplunkHEC.URL != "" && token == "" {
		return RecordOutput{}, plugins.Errorf(plugins.Permanent,
			"audit forwarding to Splunk needs secret %s: set plugins.audit.secrets.%s in the soar config", SecretSplunkHECToken, SecretSplunkHECToken)
	}
	j := a.journals.Get(cfg.LogFile)
	line, _, err := j.Once(ctx, "audit", call.IdempotencyKey, func() (any, error) {
		return &Record{
			Type: "audit", ID: recordID(call.IdempotencyKey), IdempotencyKey: call.IdempotencyKey,
			RecordedAt: a.now().UTC(), Run: in.Run, Alert: in.Alert,
			Verdict: in.Verdict, Reason: in.Reason, Evidence: in.Evidence,
		}, nil
	})
	if err != nil {
		return RecordOutput{}, err
	}
	var rec Record
	if err := json.Unmarshal(line, &rec); err != nil {
		return RecordOutput{}, plugins.Errorf(plugins.Permanent, "audit log %s: %v", cfg.LogFile, err)
	}
	out := RecordOutput{ID: rec.ID, RecordedAt: rec.RecordedAt}
	if cfg.SplunkHEC.URL == "" {
		return out, nil
	}
	// Forward once per key; without a key, once per call.
	fkey := call.IdempotencyKey
	if fkey == "" {
		fkey = rec.ID
	}
	_, _, err = j.Once(ctx, "forwarded", fkey, func() (any, error) {
		if err := a.forward(ctx, cfg.SplunkHEC, token, rec); err != nil {
			return nil, err
		}
		return forwarded{Type: "forwarded", IdempotencyKey: fkey, ID: rec.ID, At: a.now().UTC()}, nil
	})
	if err != nil {
		return RecordOutput{}, err
	}
	out.Forwarded = true
	return out, nil
}

// hecEvent is Splunk HEC's JSON event envelope.
type hecEvent struct {
	Time       float64 `json:"time"`
	Host       string  `json:"host,omitempty"`
	Source     string  `json:"source,omitempty"`
	Sourcetype string  `json:"sourcetype,omitempty"`
	Index      string  `json:"index,omitempty"`
	Event      Record  `json:"event"`
}

type hecResponse struct {
	Text string `json:"text"`
	Code int    `json:"code"`
}

func (a *auditor) forward(ctx context.Context, hec HECConfig, token string, rec Record) error {
	ev := hecEvent{
		Time: float64(rec.RecordedAt.UnixMilli()) / 1000, Host: hec.Host, Source: hec.Source,
		Sourcetype: hec.Sourcetype, Index: hec.Index, Event: rec,
	}
	data, _, err := httpapi.Do(ctx, a.client, httpapi.Request{
		Vendor: "Splunk HEC", Method: http.MethodPost, URL: hec.URL, Body: ev,
		Header:      http.Header{"Authorization": {"Splunk " + token}},
		AuthSetting: "plugins.audit.secrets." + SecretSplunkHECToken, Secrets: []string{token},
	})
	if err != nil {
		return err
	}
	var r hecResponse
	if json.Unmarshal(data, &r) == nil && r.Code != 0 {
		return plugins.Errorf(plugins.Retryable, "Splunk HEC did not accept the event: %s (code %d)", r.Text, r.Code)
	}
	return nil
}

func (a *auditor) health(_ context.Context, call sdk.Call) error {
	cfg, err := decodeConfig(call)
	if err != nil {
		return err
	}
	if cfg.SplunkHEC.URL != "" && call.Secrets[SecretSplunkHECToken] == "" {
		return plugins.Errorf(plugins.Permanent, "splunk_hec.url is set but secret %s is not: set plugins.audit.secrets.%s", SecretSplunkHECToken, SecretSplunkHECToken)
	}
	return a.journals.Get(cfg.LogFile).Check()
}

// recordID is stable for an idempotency key.
func recordID(key string) string {
	if key == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		return "audit-" + hex.EncodeToString(b)
	}
	sum := sha256.Sum256([]byte(key))
	return "audit-" + hex.EncodeToString(sum[:8])
}
