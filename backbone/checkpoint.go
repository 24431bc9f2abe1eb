package backbone

import (
	"strings"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
)

// PointMAEPrefixes are the module prefixes Point-MAE's and DAPT's loaders
// strip from checkpoint keys after "module." (load_model_from_ckpt).
var PointMAEPrefixes = []string{"MAE_encoder.", "base_model.", "ACT_encoder.", "transformer_k."}

// LoadWeights loads a checkpoint into ps: a pcx .safetensors file, or a
// PyTorch .pth (Point-MAE's pretrain.pth or a fine-tuned checkpoint: the
// state dict under "base_model", or a bare state dict). As Point-MAE's
// loader, it does not require every key: the report lists the model's keys
// the file lacks (missing) and the file's keys the model lacks (unexpected).
// A shape mismatch is an error.
func LoadWeights(path string, ps nn.Params) (checkpoint.Report, error) {
	if strings.HasSuffix(strings.ToLower(path), ".safetensors") {
		rep, _, _, err := checkpoint.Load(path, ps)
		return rep, err
	}
	rep, err := checkpoint.LoadPTH(path, "base_model", ps, PointMAEPrefixes...)
	if err != nil && strings.Contains(err.Error(), "base_model") {
		// A bare state dict, or one under "model" / "state_dict".
		for _, key := range []string{"", "model", "state_dict"} {
			if r2, err2 := checkpoint.LoadPTH(path, key, ps, PointMAEPrefixes...); err2 == nil {
				return r2, nil
			}
		}
	}
	return rep, err
}
