package playbooks

// This file is the one description of the playbook format. The parser checks
// keys against it (unknown fields, "did you mean", misplaced fields), the JSON
// Schema printed by `soar schema` is generated from it, and a test keeps
// docs/playbooks.md covering every field listed here.

// fieldType is the shape of a field's value.
type fieldType int

const (
	tString   fieldType = iota // plain string, no interpolation
	tName                      // identifier: [a-z][a-z0-9_]*
	tInt                       // integer
	tNumber                    // integer or decimal
	tDuration                  // "90s", "15m", "1h30m", "2d"
	tExpr                      // a CEL expression (no ${{ }} needed)
	tTemplate                  // a string that may hold ${{ expr }}
	tValue                     // any YAML value; strings may hold ${{ expr }}
	tValueMap                  // a mapping of names to tValue
	tStrings                   // one string or a list of strings
	tSteps                     // a list of steps
	tObject                    // a nested object, see Field.Object
	tObjects                   // a list of nested objects
	tEnum                      // one of Field.Enum
	tReason                    // a template string, or an object (Field.Object)
)

// Field describes one key of a YAML mapping.
type Field struct {
	Name     string
	Type     fieldType
	Required bool
	Enum     []string
	Object   *objectSpec
	Doc      string
}

type objectSpec struct {
	Name   string // as used in docs and schema definitions
	Doc    string
	Fields []Field
}

func (o *objectSpec) field(name string) (Field, bool) {
	for _, f := range o.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

func (o *objectSpec) names() []string {
	n := make([]string, len(o.Fields))
	for i, f := range o.Fields {
		n[i] = f.Name
	}
	return n
}

var triggerSpec = &objectSpec{
	Name: "trigger",
	Doc:  "Which alerts start this playbook.",
	Fields: []Field{
		{Name: "type", Type: tStrings, Required: true, Doc: `Alert type or list of types this playbook handles. A trailing ".*" matches a family, e.g. "login.*".`},
		{Name: "if", Type: tExpr, Doc: "CEL filter over `alert` and `now`; the playbook runs only when it is true."},
	},
}

var retrySpec = &objectSpec{
	Name: "retry",
	Doc:  "How a failed plugin call is retried before on_error applies.",
	Fields: []Field{
		{Name: "max_attempts", Type: tInt, Doc: "Total attempts including the first (default 3; 1 disables retries)."},
		{Name: "initial_interval", Type: tDuration, Doc: "Wait before the first retry (default 1s)."},
		{Name: "backoff", Type: tNumber, Doc: "Multiplier applied to the wait after each retry (default 2.0, at least 1)."},
		{Name: "max_interval", Type: tDuration, Doc: "Upper bound for the wait between retries (default 1m)."},
	},
}

var tierSpec = &objectSpec{
	Name: "tier",
	Doc:  "One level of an inline escalation: who is paged and how long they have to acknowledge.",
	Fields: []Field{
		{Name: "responders", Type: tStrings, Doc: "Responder ids (from the on-call/HR directory) paged together at this tier."},
		{Name: "schedule", Type: tString, Doc: "An on-call schedule whose current on-call is paged at this tier."},
		{Name: "ack_within", Type: tDuration, Doc: "Time to acknowledge before the next tier; defaults to the escalate step's ack_within."},
	},
}

var fallbackSpec = &objectSpec{
	Name: "fallback",
	Doc:  "Who is paged when every tier was skipped or nobody acknowledged after all repeats.",
	Fields: []Field{
		{Name: "responders", Type: tStrings, Doc: "Responder ids paged as the last resort."},
		{Name: "schedule", Type: tString, Doc: "An on-call schedule paged as the last resort."},
		{Name: "policy", Type: tTemplate, Doc: "Another escalation policy to hand the alert to."},
	},
}

var pageSpec = &objectSpec{
	Name: "page",
	Doc:  "What the page says.",
	Fields: []Field{
		{Name: "summary", Type: tTemplate, Required: true, Doc: "One line shown on the responder's phone."},
		{Name: "severity", Type: tEnum, Enum: []string{"critical", "error", "warning", "info"}, Doc: "Page severity (default critical)."},
		{Name: "details", Type: tValueMap, Doc: "Key/value details attached to the page."},
		{Name: "links", Type: tValue, Doc: "List of {href, text} links attached to the page."},
	},
}

var escalateSpec = &objectSpec{
	Name: "escalate",
	Doc:  "Page humans tier by tier until one acknowledges.",
	Fields: []Field{
		{Name: "policy", Type: tTemplate, Doc: "Escalation policy resolved by the oncall plugin (exclusive with tiers)."},
		{Name: "tiers", Type: tObjects, Object: tierSpec, Doc: "Inline tiers, paged in order (exclusive with policy)."},
		{Name: "ack_within", Type: tDuration, Doc: "Time each tier has to acknowledge before the next is paged (default 15m)."},
		{Name: "skip_if", Type: tExpr, Doc: "CEL over `responder` (id, name, hr status …): responders for whom it is true are not paged."},
		{Name: "repeat", Type: tInt, Doc: "How many more times to run through all tiers when nobody acknowledged (default 0)."},
		{Name: "fallback", Type: tObject, Object: fallbackSpec, Doc: "Last resort when every tier was skipped or never acknowledged."},
		{Name: "page", Type: tObject, Object: pageSpec, Required: true, Doc: "The page content."},
	},
}

var waitForSpec = &objectSpec{
	Name: "wait_for",
	Doc:  "Wait durably for named human input (the run's `input` signal) or a timeout.",
	Fields: []Field{
		{Name: "name", Type: tName, Required: true, Doc: "The input's name; operators answer with POST /api/input/{run} or an `input` signal in the Temporal UI."},
		{Name: "prompt", Type: tTemplate, Doc: "What the human is asked, shown in the run's query and UI details."},
		{Name: "timeout", Type: tDuration, Required: true, Doc: "How long to wait."},
		{Name: "on_timeout", Type: tEnum, Enum: []string{"continue", "fail"}, Doc: "continue (default): the step's output has received: false; fail: the run fails safe and escalates."},
	},
}

var silenceSpec = &objectSpec{
	Name: "silence",
	Doc:  "End the run: the alert is benign, silenced and logged with no human.",
	Fields: []Field{
		{Name: "reason", Type: tTemplate, Required: true, Doc: "Why the alert is benign; recorded in the audit log and the verdict."},
	},
}

var finishSpec = &objectSpec{
	Name: "finish",
	Doc:  "End the run with a verdict of your own.",
	Fields: []Field{
		{Name: "verdict", Type: tName, Required: true, Doc: "A short lowercase verdict, e.g. resolved or duplicate."},
		{Name: "reason", Type: tTemplate, Required: true, Doc: "Why; recorded in the audit log and the verdict."},
	},
}

// stepKind is one kind of step. Key is the field whose presence selects the
// kind; Fields are the fields only that kind accepts (Key included).
type stepKind struct {
	Key    string
	Doc    string
	Fields []Field
}

var commonStepFields = []Field{
	{Name: "id", Type: tName, Doc: "Unique step id; outputs are `steps.<id>`. Generated from the position when omitted."},
	{Name: "name", Type: tString, Doc: "Label shown in the Temporal UI (defaults to the id)."},
	{Name: "if", Type: tExpr, Doc: "CEL condition; the step is skipped when false. With then/else it chooses the branch."},
}

var stepKinds = []stepKind{
	{Key: "uses", Doc: "Call a plugin action.", Fields: []Field{
		{Name: "uses", Type: tString, Doc: "plugin.action, e.g. geoip.lookup."},
		{Name: "with", Type: tValueMap, Doc: "The action's input; checked against the action's JSON Schema."},
		{Name: "timeout", Type: tDuration, Doc: "Deadline for each attempt (default 30s)."},
		{Name: "retry", Type: tObject, Object: retrySpec, Doc: "Retry policy for failed attempts."},
		{Name: "on_error", Type: tEnum, Enum: []string{"fail", "continue"}, Doc: "fail (default): the run fails safe and escalates; continue: `steps.<id>.error` is set and the run goes on."},
	}},
	{Key: "then", Doc: "Branch on the step's `if`.", Fields: []Field{
		{Name: "then", Type: tSteps, Doc: "Steps run when `if` is true."},
		{Name: "else", Type: tSteps, Doc: "Steps run when `if` is false."},
	}},
	{Key: "parallel", Doc: "Run steps concurrently; all finish before the next step.", Fields: []Field{
		{Name: "parallel", Type: tSteps, Doc: "Steps run concurrently. They cannot see each other's outputs."},
	}},
	{Key: "foreach", Doc: "Run steps once per item of a list.", Fields: []Field{
		{Name: "foreach", Type: tExpr, Doc: "CEL expression giving the list to iterate."},
		{Name: "as", Type: tName, Doc: "Name of the current item in CEL inside the loop (default item)."},
		{Name: "concurrency", Type: tInt, Doc: "Items processed at once (default 1: in order)."},
		{Name: "steps", Type: tSteps, Doc: "Steps run for each item."},
	}},
	{Key: "steps", Doc: "A named group of steps run in order.", Fields: []Field{
		{Name: "steps", Type: tSteps, Doc: "Steps run in order."},
	}},
	{Key: "set", Doc: "Set variables visible as `vars.<name>`.", Fields: []Field{
		{Name: "set", Type: tValueMap, Doc: "Variable names and values."},
	}},
	{Key: "wait", Doc: "Wait durably (a Temporal timer).", Fields: []Field{
		{Name: "wait", Type: tDuration, Doc: "How long to wait."},
	}},
	{Key: "wait_for", Doc: "Wait for human input.", Fields: []Field{
		{Name: "wait_for", Type: tObject, Object: waitForSpec, Doc: waitForSpec.Doc},
	}},
	{Key: "escalate", Doc: "Page humans until one acknowledges.", Fields: []Field{
		{Name: "escalate", Type: tObject, Object: escalateSpec, Doc: escalateSpec.Doc},
	}},
	{Key: "silence", Doc: "End the run as benign.", Fields: []Field{
		{Name: "silence", Type: tReason, Object: silenceSpec, Doc: "The reason (a string), or {reason}."},
	}},
	{Key: "finish", Doc: "End the run with a verdict.", Fields: []Field{
		{Name: "finish", Type: tObject, Object: finishSpec, Doc: finishSpec.Doc},
	}},
}

// stepSpec is every field a step may have, whatever its kind; the parser
// then checks that the fields present belong to one kind.
var stepSpec = func() *objectSpec {
	o := &objectSpec{Name: "step", Doc: "One step of a playbook.", Fields: append([]Field(nil), commonStepFields...)}
	seen := map[string]bool{}
	for _, f := range commonStepFields {
		seen[f.Name] = true
	}
	for _, k := range stepKinds {
		for _, f := range k.Fields {
			if !seen[f.Name] {
				seen[f.Name] = true
				o.Fields = append(o.Fields, f)
			}
		}
	}
	return o
}()

var playbookSpec = &objectSpec{
	Name: "playbook",
	Doc:  "A soar playbook.",
	Fields: []Field{
		{Name: "name", Type: tString, Required: true, Doc: "Unique playbook name (lowercase, digits and dashes); part of the workflow ID."},
		{Name: "version", Type: tInt, Doc: "Your version number, shown in the UI (default 1). Runs are pinned to the source they started with regardless."},
		{Name: "description", Type: tString, Doc: "What the playbook is for."},
		{Name: "on", Type: tObject, Object: triggerSpec, Required: true, Doc: triggerSpec.Doc},
		{Name: "dedup", Type: tExpr, Doc: "CEL string over `alert`; alerts with the same key while a run is open attach to that run. Default: one run per alert."},
		{Name: "vars", Type: tValueMap, Doc: "Variables visible as `vars.<name>`, evaluated when the run starts."},
		{Name: "steps", Type: tSteps, Required: true, Doc: "The steps, run in order."},
	},
}

// allObjectSpecs lists every object in the format, for schema generation and
// documentation checks.
func allObjectSpecs() []*objectSpec {
	return []*objectSpec{playbookSpec, triggerSpec, stepSpec, retrySpec, escalateSpec, tierSpec, fallbackSpec, pageSpec, waitForSpec, silenceSpec, finishSpec}
}
