package state

import (
	"fmt"
	"strings"
)

// StateDict extracts a flat name → tensor dict from a checkpoint read by
// ReadPTH. If key is not empty, obj must be a dict and obj[key] the state
// dict (Point-MAE and DAPT save it under "base_model", other code under
// "model" or "state_dict"); otherwise obj itself is the state dict.
//
// Every key of the state dict must be a string and every value a tensor.
// Entries are not skipped: a value that is not a tensor (a nested dict, a
// number) is an error naming the entry, since it usually means the wrong key
// was chosen, and loading a model from a silently partial dict is worse
// than failing. The errors list the keys on offer.
func StateDict(obj any, key string) (*Dict, error) {
	m, ok := obj.(*OrderedDict)
	if !ok {
		return nil, fmt.Errorf("state: checkpoint is %s, not a dict", typeName(obj))
	}
	if key != "" {
		v, ok := m.Get(key)
		if !ok {
			return nil, fmt.Errorf("state: checkpoint has no key %q; its keys are %s", key, describeKeys(m))
		}
		if m, ok = v.(*OrderedDict); !ok {
			return nil, fmt.Errorf("state: checkpoint[%q] is %s, not a dict", key, typeName(v))
		}
	}
	d := NewDict()
	for k, v := range m.All() {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("state: state dict has %s as a key, not a str", typeName(k))
		}
		t, ok := v.(*Tensor)
		if !ok {
			hint := ""
			if key == "" {
				hint = fmt.Sprintf(" (is the state dict under one of the keys %s?)", describeKeys(m))
			}
			return nil, fmt.Errorf("state: entry %q is %s, not a tensor%s", name, typeName(v), hint)
		}
		d.Set(name, t)
	}
	return d, nil
}

// describeKeys lists a dict's keys for an error message, at most 10.
func describeKeys(m *OrderedDict) string {
	var parts []string
	for i, k := range m.keys {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("... (%d in all)", len(m.keys)))
			break
		}
		parts = append(parts, fmt.Sprintf("%q", fmt.Sprint(k)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// StripPrefixes renames d's tensors as Point-MAE's load_model_from_ckpt
// does: it removes "module." wherever it occurs in a name (the wrapper
// added by DataParallel), then removes the first of prefixes that the name
// starts with, such as "MAE_encoder." or "base_model.". Order is kept. If
// two names become the same, or one becomes empty, d is left unchanged and
// the error names them.
func StripPrefixes(d *Dict, prefixes ...string) error {
	keys := make([]string, len(d.Keys))
	tensors := make(map[string]*Tensor, len(d.Keys))
	from := make(map[string]string, len(d.Keys))
	for i, k := range d.Keys {
		n := strings.ReplaceAll(k, "module.", "")
		for _, p := range prefixes {
			if p != "" && strings.HasPrefix(n, p) {
				n = n[len(p):]
				break
			}
		}
		if n == "" {
			return fmt.Errorf("state: stripping prefixes from %q leaves nothing", k)
		}
		if prev, ok := from[n]; ok {
			return fmt.Errorf("state: %q and %q both become %q", prev, k, n)
		}
		from[n] = k
		keys[i] = n
		tensors[n] = d.Tensors[k]
	}
	d.Keys, d.Tensors = keys, tensors
	return nil
}
