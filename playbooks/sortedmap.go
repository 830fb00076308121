package playbooks

import (
	"reflect"
	"slices"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// CEL iterates a Go map in Go's random order, so `alert.tags.map(k, k)[0]`
// could differ between a run and its replay, and a foreach over a map's
// keys would issue its activities in another order. Expressions run inside
// workflow code, so every map they see iterates in sorted key order.

// sortedAdapter converts map[string]any into sortedMap and everything else
// as the wrapped adapter does; nested maps are converted on access.
type sortedAdapter struct{ types.Adapter }

func (a sortedAdapter) NativeToValue(v any) ref.Val {
	if m, ok := v.(map[string]any); ok {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return &sortedMap{Mapper: types.NewStringInterfaceMap(a, m).(traits.Mapper), keys: keys, adapter: a, m: m}
	}
	return a.Adapter.NativeToValue(v)
}

// sortedMap is a CEL map whose iteration follows its sorted keys.
type sortedMap struct {
	traits.Mapper
	keys    []string
	adapter types.Adapter
	m       map[string]any
}

func (s *sortedMap) Iterator() traits.Iterator { return &sortedIterator{keys: s.keys} }

// Fold serves two-variable comprehensions (k, v) in key order too.
func (s *sortedMap) Fold(f traits.Folder) {
	for _, k := range s.keys {
		if !f.FoldEntry(k, s.m[k]) {
			return
		}
	}
}

type sortedIterator struct {
	keys []string
	i    int
}

func (it *sortedIterator) HasNext() ref.Val { return types.Bool(it.i < len(it.keys)) }

func (it *sortedIterator) Next() ref.Val {
	if it.i >= len(it.keys) {
		return types.NewErr("no more keys")
	}
	it.i++
	return types.String(it.keys[it.i-1])
}

// An iterator is never a value in an expression; these satisfy ref.Val.
func (it *sortedIterator) ConvertToNative(reflect.Type) (any, error) {
	return nil, types.NewErr("iterator cannot be converted").(*types.Err)
}
func (it *sortedIterator) ConvertToType(ref.Type) ref.Val {
	return types.NewErr("iterator cannot be converted")
}
func (it *sortedIterator) Equal(ref.Val) ref.Val { return types.False }
func (it *sortedIterator) Type() ref.Type        { return types.IteratorType }
func (it *sortedIterator) Value() any            { return nil }
