package playbooks

import (
	"encoding/json"
)

// SchemaID is where the playbook JSON Schema is published in this repository.
const SchemaID = "https://github.com/soar-dev/soar/docs/playbook.schema.json"

// JSONSchema returns a JSON Schema (draft-07, the dialect editors support
// best) of the playbook format, generated from the same field table the
// parser uses. yaml-language-server uses it for completion and hover docs.
// It describes shape only: CEL, references and plugin inputs are checked by
// `soar validate`.
func JSONSchema() []byte {
	defs := map[string]any{}
	for _, o := range allObjectSpecs() {
		defs[o.Name] = objectSchema(o)
	}
	doc := map[string]any{
		"$schema":     "http://json-schema.org/draft-07/schema#",
		"$id":         SchemaID,
		"title":       "soar playbook",
		"$ref":        "#/definitions/playbook",
		"definitions": defs,
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // maps of strings and slices always marshal
	}
	return append(out, '\n')
}

func objectSchema(o *objectSpec) map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range o.Fields {
		s := fieldSchema(f)
		s["description"] = f.Doc
		props[f.Name] = s
		if f.Required {
			required = append(required, f.Name)
		}
	}
	s := map[string]any{
		"type":                 "object",
		"description":          o.Doc,
		"properties":           props,
		"additionalProperties": false,
	}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func defRef(name string) map[string]any { return map[string]any{"$ref": "#/definitions/" + name} }

func fieldSchema(f Field) map[string]any {
	switch f.Type {
	case tName:
		return map[string]any{"type": "string", "pattern": nameRE.String()}
	case tInt:
		return map[string]any{"type": "integer"}
	case tNumber:
		return map[string]any{"type": "number"}
	case tDuration:
		return map[string]any{"type": "string", "pattern": `^([0-9]+d)?([0-9.]+(ns|us|µs|ms|s|m|h))*$`}
	case tExpr:
		return map[string]any{"type": []string{"string", "boolean"}}
	case tValue:
		return map[string]any{}
	case tValueMap:
		return map[string]any{"type": "object"}
	case tStrings:
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "string"},
			map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "minItems": 1},
		}}
	case tSteps:
		return map[string]any{"type": "array", "items": defRef(stepSpec.Name), "minItems": 1}
	case tObject:
		return defRef(f.Object.Name)
	case tObjects:
		return map[string]any{"type": "array", "items": defRef(f.Object.Name), "minItems": 1}
	case tEnum:
		return map[string]any{"enum": f.Enum}
	case tReason:
		return map[string]any{"anyOf": []any{map[string]any{"type": "string"}, defRef(f.Object.Name)}}
	}
	return map[string]any{"type": "string"} // tString, tTemplate
}
