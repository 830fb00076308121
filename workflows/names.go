// Package workflows is the Temporal side of soar: the interpreter workflow
// that runs any compiled playbook, its escalation logic, the activities that
// call plugins, and the names (signals, queries, updates, search attributes)
// operators and the API use to talk to a run.
//
// Workflow code here is deterministic: CEL runs on workflow state with
// `now` = workflow time, and all I/O is in activities.
package workflows

import (
	"go.temporal.io/sdk/temporal"
)

// Names shared by the worker, the API and operators.
const (
	// WorkflowType is the one workflow type: the playbook interpreter.
	WorkflowType = "soar.playbook"
	// TaskQueue is where soar workers poll by default.
	TaskQueue = "soar"
	// InvokeActivity calls a plugin action.
	InvokeActivity = "soar.invoke"

	// AlertUpdate attaches another alert with the same dedup key to an open
	// run; it answers with the number of alerts the run now holds.
	AlertUpdate = "alert"
	// AckSignal acknowledges an escalation: {"by": "alice", "note": "..."}.
	AckSignal = "ack"
	// InputSignal answers a wait_for step: {"name": "...", "value": ..., "by": "..."}.
	InputSignal = "input"
	// StateQuery returns the run's State.
	StateQuery = "state"
)

// Search attributes kept current while a run progresses, so operators can
// filter runs in the Temporal UI ("SoarVerdict = 'silenced' AND SoarUser = 'alice'").
var (
	AttrPlaybook        = temporal.NewSearchAttributeKeyKeyword("SoarPlaybook")
	AttrPlaybookVersion = temporal.NewSearchAttributeKeyInt64("SoarPlaybookVersion")
	AttrAlertType       = temporal.NewSearchAttributeKeyKeyword("SoarAlertType")
	AttrUser            = temporal.NewSearchAttributeKeyKeyword("SoarUser")
	AttrVerdict         = temporal.NewSearchAttributeKeyKeyword("SoarVerdict")
	AttrEscalationTier  = temporal.NewSearchAttributeKeyInt64("SoarEscalationTier")
	AttrOffHours        = temporal.NewSearchAttributeKeyBool("SoarOffHours")
)

// SearchAttributes lists every custom search attribute with its type name
// as the Temporal operator API spells it, for registration.
var SearchAttributes = map[string]string{
	AttrPlaybook.GetName():        "Keyword",
	AttrPlaybookVersion.GetName(): "Int",
	AttrAlertType.GetName():       "Keyword",
	AttrUser.GetName():            "Keyword",
	AttrVerdict.GetName():         "Keyword",
	AttrEscalationTier.GetName():  "Int",
	AttrOffHours.GetName():        "Bool",
}
