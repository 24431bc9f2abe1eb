package backbone

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/nn/state"
)

// PointMAEPrefixes are the module prefixes Point-MAE's and DAPT's loaders
// strip from checkpoint keys after "module." (load_model_from_ckpt).
var PointMAEPrefixes = []string{"MAE_encoder.", "base_model.", "ACT_encoder.", "transformer_k."}

// pthKeys are where a .pth may keep its state dict, in the order tried:
// Point-MAE's and DAPT's "base_model", a bare state dict, then the keys
// other code uses.
var pthKeys = []string{"base_model", "", "model", "state_dict"}

// LoadOptions adjust LoadWeights.
type LoadOptions struct {
	// Partial accepts a checkpoint that leaves some of the pretrained
	// backbone's weights unloaded (they keep their random initialisation).
	Partial bool
}

// pretrained matches the keys of the weights a Point-MAE pre-training
// checkpoint provides: the patch encoder, the positional MLP, the
// transformer blocks' own layers and the final norm. BatchNorm's batch
// counters are left out, as PyTorch tolerates their absence.
var pretrained = regexp.MustCompile(`^(encoder\.|pos_embed\.|norm\.|blocks\.blocks\.[0-9]+\.(norm1|attn\.qkv|attn\.proj|norm2|mlp\.fc1|mlp\.fc2)\.)`)

// IsPretrained reports whether a parameter name is one of the backbone
// weights a pre-training checkpoint provides (see LoadWeights).
func IsPretrained(name string) bool {
	return pretrained.MatchString(name) && !strings.HasSuffix(name, "num_batches_tracked")
}

// LoadWeights loads a checkpoint into ps: a pcx .safetensors file, or a
// PyTorch .pth, told apart by their first bytes (state.Sniff; any other
// file, or a directory, is an error saying so) (Point-MAE's pretrain.pth or a fine-tuned checkpoint: the
// state dict under "base_model", a bare state dict, or one under "model" or
// "state_dict"). The report lists the model's keys the file lacks (missing)
// and the file's keys the model lacks (unexpected); a method's own layers
// (head, adapters) are normally missing. A shape mismatch is an error, and
// so, unless opt.Partial, is a checkpoint that lacks any of the backbone's
// pretrained weights (IsPretrained): training from it would silently start
// those from random values.
func LoadWeights(path string, ps nn.Params, opt LoadOptions) (checkpoint.Report, error) {
	var rep checkpoint.Report
	format, err := state.Sniff(path)
	if err != nil {
		return rep, fmt.Errorf("pretrained weights (a Point-MAE or DAPT .pth, or a pcx .safetensors): %w", err)
	}
	if format == state.FormatSafetensors {
		var d *state.Dict
		if d, err = state.ReadSafetensors(path); err == nil {
			rep, err = loadSafetensorsDict(d, ps)
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", path, err)
		}
	} else {
		rep, err = checkpoint.LoadPTH(path, pthKeys, ps, PointMAEPrefixes...)
	}
	if err != nil || opt.Partial {
		return rep, err
	}
	return rep, checkPretrained(path, "backbone", rep, ps, IsPretrained)
}

// loadSafetensorsDict loads a pcx checkpoint's tensors into ps: a
// fine-tuning run's, or a pretraining run's whole model, whose
// MAE_encoder.* weights are the backbone's.
func loadSafetensorsDict(d *state.Dict, ps nn.Params) (checkpoint.Report, error) {
	if err := state.StripPrefixes(d, PointMAEPrefixes...); err != nil {
		return checkpoint.Report{}, err
	}
	return checkpoint.LoadDict(d, ps)
}

// LoadWeightsFrom is LoadWeights for a safetensors checkpoint held in
// memory (pcx's built-in pretrained backbones); name labels it in errors.
func LoadWeightsFrom(name string, data []byte, ps nn.Params, opt LoadOptions) (checkpoint.Report, error) {
	d, err := state.DecodeSafetensors(bytes.NewReader(data), int64(len(data)))
	var rep checkpoint.Report
	if err == nil {
		rep, err = loadSafetensorsDict(d, ps)
	}
	if err != nil {
		return rep, fmt.Errorf("%s: %w", name, err)
	}
	if opt.Partial {
		return rep, nil
	}
	return rep, checkPretrained(name, "backbone", rep, ps, IsPretrained)
}

// checkPretrained refuses a load that left any of the backbone's
// pretrained weights (isPretrained) missing: training from it would
// silently start those from random values.
func checkPretrained(path, what string, rep checkpoint.Report, ps nn.Params, isPretrained func(string) bool) error {
	missing := map[string]bool{}
	for _, k := range rep.Missing {
		missing[k] = true
	}
	var want, lack []string
	for _, p := range ps {
		if isPretrained(p.Name) {
			want = append(want, p.Name)
			if missing[p.Name] {
				lack = append(lack, p.Name)
			}
		}
	}
	if len(lack) > 0 {
		return fmt.Errorf("%s: loaded %d of the %s's %d pretrained weights (%d missing, the first %s); to train from it anyway, the missing ones random, allow a partial load (pcx train --partial-load)",
			path, len(want)-len(lack), what, len(want), len(lack), lack[0])
	}
	return nil
}

// KeepInit runs load, a checkpoint's load into ps, and then puts back the
// values the parameters and buffers matching any of patterns (shell
// patterns of state-dict names, nn.Match) held before it: they start from
// their initialisation although the checkpoint has them (pcx train
// --reinit). It returns the names kept; a pattern that matches nothing is
// an error, before anything is loaded.
func KeepInit(ps nn.Params, patterns []string, load func() error) ([]string, error) {
	var kept []string
	saved := map[*nn.Param][]float32{}
	for _, pat := range patterns {
		hit := false
		for _, p := range ps {
			if nn.Match(pat, p.Name) {
				hit = true
				if saved[p] == nil {
					saved[p] = append([]float32(nil), p.Data...)
					kept = append(kept, p.Name)
				}
			}
		}
		if !hit {
			return nil, fmt.Errorf("reinit: %q matches none of the model's parameters", pat)
		}
	}
	if err := load(); err != nil {
		return nil, err
	}
	for p, v := range saved {
		copy(p.Data, v)
	}
	return kept, nil
}
