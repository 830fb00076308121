package playbooks

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultAckWithin is how long a tier has to acknowledge when the playbook
// does not say.
const DefaultAckWithin = 15 * time.Minute

func (p *parser) escalate(n *yaml.Node) *Escalate {
	fs := p.fields(n, escalateSpec, "escalate")
	e := &Escalate{AckWithin: DefaultAckWithin, Page: Page{Severity: "critical"}}
	if fs == nil {
		return e
	}
	if f, ok := fs["policy"]; ok {
		e.Policy = p.template(f)
	}
	if f, ok := fs["tiers"]; ok {
		e.Tiers = p.tiers(f)
	}
	_, hasPolicy := fs["policy"]
	_, hasTiers := fs["tiers"]
	switch {
	case hasPolicy && hasTiers:
		p.errorf(fs["tiers"].key, "escalate has both policy and tiers; use one")
	case !hasPolicy && !hasTiers:
		p.errorf(n, "escalate needs a policy (from the oncall plugin) or inline tiers")
	}
	if f, ok := fs["ack_within"]; ok {
		e.AckWithin = p.duration(f)
	}
	if f, ok := fs["skip_if"]; ok {
		e.SkipIf = p.expr(f)
	}
	if f, ok := fs["repeat"]; ok {
		e.Repeat = p.integer(f, 0)
	}
	if f, ok := fs["fallback"]; ok {
		e.Fallback = p.fallback(f.val)
	}
	if f, ok := fs["page"]; ok {
		p.page(f.val, &e.Page)
	}
	return e
}

func (p *parser) tiers(f field) []*Tier {
	if f.val.Kind != yaml.SequenceNode || len(f.val.Content) == 0 {
		p.errorf(f.val, "tiers must be a non-empty list of tiers, got %s", describe(f.val))
		return nil
	}
	var out []*Tier
	for _, n := range f.val.Content {
		n = resolve(n)
		fs := p.fields(n, tierSpec, "tier")
		t := &Tier{Pos: p.pos(n)}
		if r, ok := fs["responders"]; ok {
			t.Responders = p.strings(r)
		}
		if s, ok := fs["schedule"]; ok {
			t.Schedule = p.str(s)
		}
		if a, ok := fs["ack_within"]; ok {
			t.AckWithin = p.duration(a)
		}
		if fs != nil && len(t.Responders) == 0 && t.Schedule == "" {
			if _, ok := fs["responders"]; !ok {
				p.errorf(n, "tier needs responders or a schedule")
			}
		}
		out = append(out, t)
	}
	return out
}

func (p *parser) fallback(n *yaml.Node) *Fallback {
	fs := p.fields(n, fallbackSpec, "fallback")
	fb := &Fallback{}
	set := 0
	if f, ok := fs["responders"]; ok {
		fb.Responders = p.strings(f)
		set++
	}
	if f, ok := fs["schedule"]; ok {
		fb.Schedule = p.str(f)
		set++
	}
	if f, ok := fs["policy"]; ok {
		fb.Policy = p.template(f)
		set++
	}
	if fs != nil && set != 1 {
		p.errorf(n, "fallback needs exactly one of responders, schedule or policy")
	}
	return fb
}

func (p *parser) page(n *yaml.Node, pg *Page) {
	fs := p.fields(n, pageSpec, "page")
	if f, ok := fs["summary"]; ok {
		pg.Summary = p.template(f)
	}
	if f, ok := fs["severity"]; ok {
		spec, _ := pageSpec.field("severity")
		pg.Severity = p.enum(f, spec)
	}
	if f, ok := fs["details"]; ok {
		if pg.Details = p.value(f.val); pg.Details.Kind != KindMap {
			p.errorf(f.val, "details must be a mapping, got %s", describe(f.val))
		}
	}
	if f, ok := fs["links"]; ok {
		if pg.Links = p.value(f.val); pg.Links.Kind != KindList {
			p.errorf(f.val, "links must be a list, got %s", describe(f.val))
		}
	}
}
