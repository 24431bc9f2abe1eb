// Package checkpoint saves and loads model parameters, buffers and
// optimiser state as safetensors with PyTorch's state-dict key names, and
// loads PyTorch .pth state dicts into pcx models.
//
// A pcx checkpoint is a safetensors file: each parameter and buffer under its
// PyTorch key and in its PyTorch shape (a Conv1d weight out×in×1,
// BatchNorm's num_batches_tracked a 0-d int64), optimiser buffers under
// "optimizer.<param>.<buffer>", and string metadata (epoch, optimiser step,
// configuration, and the file's checksum, state.ChecksumKey). A PyTorch
// user loads the model part into the matching module with
//
//	from safetensors.torch import load_file
//	sd = {k: v for k, v in load_file("best.safetensors").items() if not k.startswith("optimizer.")}
//	model.load_state_dict(sd)  # strict: every key and shape matches
//
// Loading accepts a Conv1d weight as out×in×1 or out×in. Files are written
// atomically (temporary file, fsync, rename).
package checkpoint

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/state"
)

// OptimizerPrefix starts the keys of optimiser buffers.
const OptimizerPrefix = "optimizer."

// isCounter reports whether a parameter is an integer counter saved as a
// 0-d int64 tensor.
func isCounter(p *nn.Param) bool { return strings.HasSuffix(p.Name, "num_batches_tracked") }

// Dict builds a state dict of the parameters and buffers, each in its
// PyTorch shape (StateShape when set), plus optimiser buffers (keyed by
// their names) and metadata.
func Dict(ps nn.Params, opt map[string][]float32, meta map[string]string) *state.Dict {
	d := state.NewDict()
	for _, p := range ps {
		if isCounter(p) {
			d.Set(p.Name, &state.Tensor{Shape: []int{}, DType: state.I64, I64: []int64{int64(p.Data[0])}})
			continue
		}
		shape := p.Shape
		if p.StateShape != nil { // PyTorch's shape, e.g. a Conv1d weight's out×in×1
			shape = p.StateShape
		}
		d.Set(p.Name, &state.Tensor{Shape: append([]int(nil), shape...), DType: state.F32, F32: append([]float32(nil), p.Data...)})
	}
	keys := make([]string, 0, len(opt))
	for k := range opt {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := opt[k]
		d.Set(OptimizerPrefix+k, &state.Tensor{Shape: []int{len(v)}, DType: state.F32, F32: append([]float32(nil), v...)})
	}
	d.Meta = map[string]string{}
	for k, v := range meta {
		d.Meta[k] = v
	}
	return d
}

// Save writes ps, optimiser buffers and metadata to path atomically.
func Save(path string, ps nn.Params, opt map[string][]float32, meta map[string]string) error {
	return state.WriteSafetensors(path, Dict(ps, opt, meta))
}

// Report lists the keys a load did not match, as PyTorch's
// load_state_dict(strict=False) does.
type Report struct {
	// Missing are model parameters the file does not have.
	Missing []string
	// Unexpected are file keys the model does not have (optimiser keys
	// excluded).
	Unexpected []string
}

// reportKeys is the most keys String lists of each kind.
const reportKeys = 40

// String prints the report the way Point-MAE logs it, listing at most 40
// keys of each kind (a file may hold any number, of any length).
func (r Report) String() string {
	var b strings.Builder
	list := func(what string, keys []string) {
		if len(keys) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s keys: ", what)
		for i, k := range keys {
			if i == reportKeys {
				fmt.Fprintf(&b, ", … (%d in all)", len(keys))
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			if q := state.Quote(k); len(q) == len(k)+2 {
				b.WriteString(k) // short and printable: as it is
			} else {
				b.WriteString(q)
			}
		}
		b.WriteByte('\n')
	}
	list("missing", r.Missing)
	list("unexpected", r.Unexpected)
	return b.String()
}

// LoadDict copies the tensors of d into the parameters of the same name. A
// shape mismatch is an error naming the key and both shapes, and so is a
// NaN or infinite value; absent and extra keys are reported.
func LoadDict(d *state.Dict, ps nn.Params) (Report, error) {
	var rep Report
	have := map[string]bool{}
	for _, p := range ps {
		have[p.Name] = true
		t, ok := d.Tensors[p.Name]
		if !ok {
			rep.Missing = append(rep.Missing, p.Name)
			continue
		}
		n := t.NumElements()
		if isCounter(p) && n == 1 {
			if t.I64 != nil {
				p.Data[0] = float32(t.I64[0])
			} else {
				p.Data[0] = t.F32[0]
			}
			continue
		}
		if !sameShape(t.Shape, p.Shape) && (p.StateShape == nil || !sameShape(t.Shape, p.StateShape)) {
			want := p.Shape
			if p.StateShape != nil {
				want = p.StateShape
			}
			return rep, fmt.Errorf("%s: shape %s in the checkpoint, %v in the model", p.Name, state.FormatShape(t.Shape), want)
		}
		if t.F32 != nil {
			for i, v := range t.F32 {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return rep, fmt.Errorf("%s: element %d is %v: the checkpoint is damaged or its training diverged", p.Name, i, v)
				}
			}
			copy(p.Data, t.F32)
		} else {
			for i, v := range t.I64 {
				p.Data[i] = float32(v)
			}
		}
	}
	for _, k := range d.Keys {
		if !have[k] && !strings.HasPrefix(k, OptimizerPrefix) {
			rep.Unexpected = append(rep.Unexpected, k)
		}
	}
	return rep, nil
}

// sameShape compares shapes, treating a Conv1d kernel-1 weight (out×in×1)
// as the Linear weight (out×in) pcx keeps.
func sameShape(file, model []int) bool {
	if len(file) == len(model)+1 && file[len(file)-1] == 1 {
		file = file[:len(file)-1]
	}
	if len(file) != len(model) {
		return false
	}
	for i := range file {
		if file[i] != model[i] {
			return false
		}
	}
	return true
}

// Load reads a pcx safetensors checkpoint into ps and returns the optimiser
// buffers (keys without the prefix) and metadata it holds.
func Load(path string, ps nn.Params) (Report, map[string][]float32, map[string]string, error) {
	d, err := state.ReadSafetensors(path)
	if err != nil {
		return Report{}, nil, nil, err
	}
	rep, err := LoadDict(d, ps)
	if err != nil {
		return rep, nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	opt := map[string][]float32{}
	for _, k := range d.Keys {
		if name, ok := strings.CutPrefix(k, OptimizerPrefix); ok {
			opt[name] = d.Tensors[k].F32
		}
	}
	return rep, opt, d.Meta, nil
}

// LoadPTH reads a PyTorch checkpoint, takes the state dict under the first
// of keys that holds one ("" for a bare state dict; Point-MAE and DAPT use
// "base_model"), strips the given prefixes after "module." as Point-MAE's
// load_model_from_ckpt does, and loads it into ps. When no key holds a
// state dict, the error is the first key's, which lists the keys on offer.
func LoadPTH(path string, keys []string, ps nn.Params, prefixes ...string) (Report, error) {
	obj, err := state.ReadPTH(path)
	if err != nil {
		return Report{}, err
	}
	var d *state.Dict
	var first error
	for _, key := range keys {
		if d, err = state.StateDict(obj, key); err == nil {
			break
		}
		if !errors.Is(err, state.ErrNoStateDict) {
			return Report{}, fmt.Errorf("%s: %w", path, err)
		}
		if first == nil {
			first = err
		}
	}
	if d == nil {
		if first == nil {
			first = errors.New("no key to look for the state dict under")
		}
		return Report{}, fmt.Errorf("%s: %w", path, first)
	}
	if err := state.StripPrefixes(d, prefixes...); err != nil {
		return Report{}, fmt.Errorf("%s: %w", path, err)
	}
	rep, err := LoadDict(d, ps)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", path, err)
	}
	return rep, nil
}
