package state

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoStateDict is matched (errors.Is) by StateDict's error when the
// checkpoint holds no state dict where it was asked for: the key is
// absent, its value is not a dict, or, for a bare state dict, an entry is
// not a tensor. A caller trying several places tells it from real damage.
var ErrNoStateDict = errors.New("no state dict there")

// noStateDict is an error that matches ErrNoStateDict.
type noStateDict struct{ msg string }

func (e noStateDict) Error() string        { return e.msg }
func (e noStateDict) Is(target error) bool { return target == ErrNoStateDict }

func notHere(format string, args ...any) error { return noStateDict{fmt.Sprintf(format, args...)} }

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
		return nil, notHere("state: checkpoint is %s, not a dict", typeName(obj))
	}
	if key != "" {
		v, ok := m.Get(key)
		if !ok {
			return nil, notHere("state: checkpoint has no key %s; its keys are %s", Quote(key), describeKeys(m))
		}
		if m, ok = v.(*OrderedDict); !ok {
			return nil, notHere("state: checkpoint[%s] is %s, not a dict", Quote(key), typeName(v))
		}
	}
	d := NewDict()
	for k, v := range m.All() {
		name, ok := k.(string)
		if !ok {
			return nil, notHere("state: state dict has %s as a key, not a str", typeName(k))
		}
		t, ok := v.(*Tensor)
		if !ok {
			hint := ""
			if key == "" {
				hint = fmt.Sprintf(" (is the state dict under one of the keys %s?)", describeKeys(m))
			}
			return nil, notHere("state: entry %s is %s, not a tensor%s", Quote(name), typeName(v), hint)
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
		parts = append(parts, Quote(fmt.Sprint(k)))
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
			return fmt.Errorf("state: stripping prefixes from %s leaves nothing", Quote(k))
		}
		if prev, ok := from[n]; ok {
			return fmt.Errorf("state: %s and %s both become %s", Quote(prev), Quote(k), Quote(n))
		}
		from[n] = k
		keys[i] = n
		tensors[n] = d.Tensors[k]
	}
	d.Keys, d.Tensors = keys, tensors
	return nil
}
