package pretrain

import (
	"fmt"
	"path/filepath"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/train"
)

// OfficialFile is the checkpoint in the original toolkit's format that a
// pretraining run leaves in its directory beside backbone.safetensors:
// Point-MAE's own fine-tuning code (--ckpts) and pretraining code
// (--start_ckpts) load it unchanged, and so does MAE's main_finetune.py
// (--finetune) for the image model.
const OfficialFile = "pretrain.pth"

// Model is a pretraining model: *backbone.PointMAEPretrain or
// *backbone.ViTMAE.
type Model interface {
	Params() nn.Params
}

// WriteOfficial writes m's whole state (every parameter and buffer, under
// the original key names and in PyTorch's shapes) to path as a PyTorch
// checkpoint in the layout of the original toolkit, atomically:
//
//	*backbone.PointMAEPretrain  {"base_model": state dict, "epoch": epoch}
//	                            (Point-MAE's tools/builder.py save_checkpoint,
//	                            less the optimiser and metrics)
//	*backbone.ViTMAE            {"model": state dict, "epoch": epoch}
//	                            (MAE's util/misc.py save_model, less the
//	                            optimiser, scaler and args)
//
// epoch is counted as both toolkits count it: the 0-based index of the
// last epoch trained (Point-MAE's released pretrain.pth says 300 after 301
// epochs); WriteRun derives it from a run's result. The file holds no
// float, so even torch 1.13's torch.load(path, weights_only=True) reads
// it. The optimiser state is not written: the file continues pretraining
// with fresh optimiser moments (see InitFrom), not as a resume.
func WriteOfficial(path string, m Model, epoch int) error {
	key, err := officialKey(m)
	if err != nil {
		return fmt.Errorf("pretrain: %s: %w", path, err)
	}
	obj := state.NewOrderedDict()
	obj.Set(key, checkpoint.Dict(m.Params(), nil, nil))
	obj.Set("epoch", epoch)
	return state.WritePTH(path, obj)
}

// WriteRun writes dir/OfficialFile, m in the official format (see
// WriteOfficial), after a pretraining run whose result is res: the epoch
// recorded is the 0-based index of res's last epoch (-1 when it has none).
func WriteRun(dir string, m Model, res *train.Result) error {
	epoch := -1
	if res != nil && len(res.Epochs) > 0 {
		epoch = res.Epochs[len(res.Epochs)-1].Epoch - 1
	}
	return WriteOfficial(filepath.Join(dir, OfficialFile), m, epoch)
}

// officialKey is where the original toolkit keeps m's state dict.
func officialKey(m Model) (string, error) {
	switch m.(type) {
	case *backbone.PointMAEPretrain:
		return "base_model", nil
	case *backbone.ViTMAE:
		return "model", nil
	}
	return "", fmt.Errorf("no official checkpoint format for a %T (only Point-MAE's and MAE's pretraining models)", m)
}

// InitFrom loads pretrained weights into m to continue pretraining from
// them: an official checkpoint (Point-MAE's pretrain.pth or ckpt-last.pth,
// the state dict under "base_model", "module." prefixes removed; MAE's
// checkpoint-N.pth, the state dict under "model", its optimizer, scaler
// and argparse args ignored), a file WriteOfficial wrote, or a pcx
// .safetensors of the whole pretraining model (a run's last.safetensors).
// Every weight of m must be in the file with its shape (BatchNorm's batch
// counters excepted); the report lists the file's extra keys. Only the
// weights are taken: the epoch count, learning-rate schedule and optimiser
// moments start afresh.
func InitFrom(m Model, path string) (checkpoint.Report, error) {
	var rep checkpoint.Report
	var err error
	switch x := m.(type) {
	case *backbone.PointMAEPretrain:
		rep, err = x.LoadPretrainWeights(path, backbone.LoadOptions{})
	case *backbone.ViTMAE:
		rep, err = x.LoadWeights(path, backbone.LoadOptions{})
	default:
		err = fmt.Errorf("pretrain: %s: cannot initialise a %T from a checkpoint", path, m)
	}
	if err != nil {
		return rep, fmt.Errorf("pretrain: initialising the model from %s: %w", path, err)
	}
	return rep, nil
}
