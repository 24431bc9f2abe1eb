package presets

import (
	"fmt"
	"strings"

	"github.com/pcx-dev/pcx/train"
)

// ImagePretrainModel is an image masked-autoencoder (MAE) pretraining
// preset: the encoder is an image model preset's ViT (so that the
// pretrained backbone loads into pcx train with that preset), with MAE's
// decoder sizes, mask ratio and loss, and the schedule it pretrains with.
type ImagePretrainModel struct {
	Name    string `json:"name"`
	Summary string `json:"summary"`
	// Encoder names the image model preset (ImageModels) whose ViT is
	// the encoder.
	Encoder      string `json:"encoder"`
	DecoderWidth int    `json:"decoder_embed_dim"`
	DecoderDepth int    `json:"decoder_depth"`
	DecoderHeads int    `json:"decoder_num_heads"`
	// MaskRatio is the share of each image's patches masked; NormPixLoss
	// normalises each target patch by its own mean and variance (MAE's
	// --norm_pix_loss).
	MaskRatio   float64 `json:"mask_ratio"`
	NormPixLoss bool    `json:"norm_pix_loss"`
	// Train is the pretraining schedule.
	Train train.Config `json:"train"`
}

// maeSchedule is MAE's ViT-B pretraining (PRETRAIN.md): 800 epochs of
// batch 4096, AdamW at the base rate 1.5e-4 scaled by batch/256 (2.4e-3)
// with weight decay 0.05, 40 warm-up epochs, cosine to 0 moved every
// step, no clipping. (MAE's AdamW has betas (0.9, 0.95) and exempts biases
// and norms from decay; pcx's has (0.9, 0.999) and decays every weight.)
func maeSchedule() train.Config {
	return train.Config{Epochs: 800, BatchSize: 4096, LR: 1.5e-4 * 4096 / 256, MinLR: 0, WarmupLR: 0, WarmupEpochs: 40,
		WeightDecay: 0.05, Best: "train_loss", ScheduleUnit: "step"}
}

// miniMAESchedule is the vit-mini MAE's: 6 epochs of batch 128 (2,814
// steps on Fashion-MNIST's 60,000 training images; an epoch took 170–192 s
// on two quiet cores, the whole run with its probe and held-out loss 18
// minutes), AdamW at 1e-3 with weight decay 0.05, one warm-up epoch, cosine
// to 1e-5 moved every step, no clipping.
func miniMAESchedule() train.Config {
	return train.Config{Epochs: 6, BatchSize: 128, EvalBatch: 256, LR: 1e-3, MinLR: 1e-5, WarmupLR: 1e-6, WarmupEpochs: 1,
		WeightDecay: 0.05, Best: "train_loss", ScheduleUnit: "step"}
}

var imagePretrainModels = newTable("image pretraining preset", func(m ImagePretrainModel) string { return m.Name },
	ImagePretrainModel{Name: "vit-mini", Summary: "the vit-mini ViT (28×28, patch 4) with a light decoder: Fashion-MNIST in about 20 minutes on two CPU cores",
		Encoder: "vit-mini", DecoderWidth: 128, DecoderDepth: 2, DecoderHeads: 4, MaskRatio: 0.75, NormPixLoss: true,
		Train: miniMAESchedule()},
	ImagePretrainModel{Name: "mae-base", Summary: "MAE's mae_vit_base_patch16 (ViT-B/16, decoder 512 wide of 8 blocks)",
		Encoder: "vit-b16", DecoderWidth: 512, DecoderDepth: 8, DecoderHeads: 16, MaskRatio: 0.75, NormPixLoss: true,
		Train: maeSchedule()},
)

// LookupImagePretrainModel returns an image pretraining preset by name.
func LookupImagePretrainModel(name string) (ImagePretrainModel, error) {
	m, ok := imagePretrainModels.lookup(name)
	if !ok {
		return ImagePretrainModel{}, fmt.Errorf("unknown image pretraining preset %q (have %s)", name, strings.Join(imagePretrainModels.names(), ", "))
	}
	return m, nil
}

// ImagePretrainModels lists the image pretraining presets in
// registration order.
func ImagePretrainModels() []ImagePretrainModel { return imagePretrainModels.all() }
