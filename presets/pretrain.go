package presets

import (
	"fmt"

	"github.com/pcx-dev/pcx/train"
)

// PretrainModel is a Point-MAE pretraining preset: the masked
// autoencoder's sizes (cfgs/pretrain.yaml's model and transformer_config)
// and the schedule it pretrains with.
type PretrainModel struct {
	Name         string  `json:"name"`
	Summary      string  `json:"summary"`
	TransDim     int     `json:"trans_dim"`
	Depth        int     `json:"encoder_depth"`
	Heads        int     `json:"encoder_num_heads"`
	DecoderDepth int     `json:"decoder_depth"`
	DecoderHeads int     `json:"decoder_num_heads"`
	Groups       int     `json:"num_group"`
	GroupSize    int     `json:"group_size"`
	Points       int     `json:"npoints"`
	MaskRatio    float64 `json:"mask_ratio"`
	MaskType     string  `json:"mask_type"` // "rand" or "block"
	DropPath     float32 `json:"drop_path_rate"`
	// Train is the pretraining schedule.
	Train train.Config `json:"train"`
}

// pointMAEPretrainSchedule is Point-MAE's pretraining schedule
// (cfgs/pretrain.yaml): 300 epochs of batch 128, AdamW at 1e-3 with weight
// decay 0.05, 10 warm-up epochs from 1e-6, cosine to 1e-6 per epoch, the
// gradient norm clipped at 10.
func pointMAEPretrainSchedule() train.Config {
	return train.Config{Epochs: 300, BatchSize: 128, LR: 1e-3, MinLR: 1e-6, WarmupLR: 1e-6, WarmupEpochs: 10,
		WeightDecay: 0.05, ClipGrad: 10, Best: "train_loss"}
}

// synthPretrainSchedule is pcx pretrain synth's: 20 epochs of batch 32,
// AdamW at 1e-3 with weight decay 0.05, 2 warm-up epochs, the rate moved
// every step, clipping at 10.
func synthPretrainSchedule() train.Config {
	return train.Config{Epochs: 20, BatchSize: 32, LR: 1e-3, MinLR: 1e-6, WarmupLR: 1e-6, WarmupEpochs: 2,
		WeightDecay: 0.05, ClipGrad: 10, Best: "train_loss", ScheduleUnit: "step"}
}

var pretrainModels = newTable("pretraining preset", func(m PretrainModel) string { return m.Name },
	PretrainModel{Name: "pointmae", Summary: "Point-MAE's pretraining on ShapeNet (cfgs/pretrain.yaml)",
		TransDim: 384, Depth: 12, Heads: 6, DecoderDepth: 4, DecoderHeads: 6, Groups: 64, GroupSize: 32, Points: 1024,
		MaskRatio: 0.6, MaskType: "rand", DropPath: 0.1, Train: pointMAEPretrainSchedule()},
	// synth's encoder is the synth fine-tuning preset's (192 wide, 6
	// blocks of 3 heads, 32 groups of 16 from 1024 points), so that its
	// backbone loads into pcx train synth; the decoder has 2 blocks.
	PretrainModel{Name: "synth", Summary: "pcx pretrain synth's: minutes on a CPU, the synth preset's encoder",
		TransDim: 192, Depth: 6, Heads: 3, DecoderDepth: 2, DecoderHeads: 3, Groups: 32, GroupSize: 16, Points: 1024,
		MaskRatio: 0.6, MaskType: "rand", DropPath: 0.1, Train: synthPretrainSchedule()},
)

// LookupPretrainModel returns a pretraining preset by name.
func LookupPretrainModel(name string) (PretrainModel, error) {
	m, ok := pretrainModels.lookup(name)
	if !ok {
		return PretrainModel{}, fmt.Errorf("unknown pretraining preset %q (have %v)", name, PretrainModelNames())
	}
	return m, nil
}

// PretrainModelNames lists the pretraining presets in alphabetical order.
func PretrainModelNames() []string { return pretrainModels.sorted() }

// PretrainModels lists the pretraining presets in registration order.
func PretrainModels() []PretrainModel { return pretrainModels.all() }
