package presets

import (
	"fmt"
	"strings"

	"github.com/pcx-dev/pcx/train"
)

// ImageModel is a ViT preset: the backbone's sizes (timm's names) and the
// image size it takes.
type ImageModel struct {
	Name    string `json:"name"`
	Summary string `json:"summary"`
	// ImageSize and PatchSize: the input is ImageSize² pixels cut into
	// PatchSize² patches.
	ImageSize int     `json:"img_size"`
	PatchSize int     `json:"patch_size"`
	Width     int     `json:"embed_dim"`
	Depth     int     `json:"depth"`
	Heads     int     `json:"num_heads"`
	MLPRatio  int     `json:"mlp_ratio"`
	Classes   int     `json:"num_classes"`
	DropPath  float32 `json:"drop_path_rate"`
}

var imageModels = newTable("image model preset", func(m ImageModel) string { return m.Name },
	ImageModel{Name: "vit-b16", Summary: "ViT-B/16 (timm vit_base_patch16_224_in21k, the paper's backbone)",
		ImageSize: 224, PatchSize: 16, Width: 768, Depth: 12, Heads: 12, MLPRatio: 4, Classes: 21843, DropPath: 0.1},
	ImageModel{Name: "vit-s16", Summary: "ViT-S/16 (timm vit_small_patch16_224)",
		ImageSize: 224, PatchSize: 16, Width: 384, Depth: 12, Heads: 6, MLPRatio: 4, Classes: 1000, DropPath: 0.1},
	ImageModel{Name: "vit-ti16", Summary: "ViT-Ti/16 (timm vit_tiny_patch16_224)",
		ImageSize: 224, PatchSize: 16, Width: 192, Depth: 12, Heads: 3, MLPRatio: 4, Classes: 1000, DropPath: 0.1},
	ImageModel{Name: "vit-mini", Summary: "a small ViT for 28×28 images (Fashion-MNIST) that trains in minutes on two CPU cores",
		ImageSize: 28, PatchSize: 4, Width: 192, Depth: 6, Heads: 3, MLPRatio: 4, Classes: 10, DropPath: 0.1},
)

// LookupImageModel returns a ViT preset by name.
func LookupImageModel(name string) (ImageModel, error) {
	m, ok := imageModels.lookup(name)
	if !ok {
		return ImageModel{}, fmt.Errorf("unknown image model preset %q (have %s)", name, strings.Join(imageModels.names(), ", "))
	}
	return m, nil
}

// ImageModels lists the ViT presets in registration order.
func ImageModels() []ImageModel { return imageModels.all() }

// IsImageModel reports whether name is a ViT preset.
func IsImageModel(name string) bool { _, ok := imageModels.lookup(name); return ok }

// ImageMethod is a fine-tuning method of the ViT path and its fixed
// settings.
type ImageMethod struct {
	Name    string `json:"name"`
	Summary string `json:"summary"`
	Trains  string `json:"trains"`
	// Rank is the adapter's bottleneck; Scale and Dropout AdaptFormer's
	// branch scale and adapter dropout.
	Rank    int     `json:"rank,omitempty"`
	Scale   float32 `json:"scale,omitempty"`
	Dropout float32 `json:"dropout,omitempty"`
	// SMoA sizes Adapter-X's shared mixture (its Rank is also the
	// experts').
	SMoA *SMoA `json:"smoa,omitempty"`
}

var imageMethods = newTable("image method", func(m ImageMethod) string { return m.Name },
	ImageMethod{Name: "full", Summary: "full fine-tuning", Trains: "every parameter"},
	ImageMethod{Name: "linear", Summary: "linear probing", Trains: "the head"},
	ImageMethod{Name: "adapter", Summary: "NOAH's serial adapter after each FFN (Houlsby et al.)",
		Trains: "the adapters and the head", Rank: 8},
	ImageMethod{Name: "adaptformer", Summary: "AdaptFormer's parallel scaled adapter (Chen et al., NeurIPS 2022)",
		Trains: "the adapters and the head", Rank: 64, Scale: 0.1, Dropout: 0.1},
	ImageMethod{Name: "adapter-x", Summary: "Adapter-X on NOAH's serial adapter",
		Trains: "the shared SMoA, each block's norm2 and prompt generator, the head",
		SMoA:   &SMoA{Rank: 64, Heads: 3, Experts: 4, Alpha: 0.01}},
	ImageMethod{Name: "adaptformer-x", Summary: "Adapter-X on AdaptFormer",
		Trains: "the shared SMoA, each block's norm2 and prompt generator, the head", Scale: 0.1,
		SMoA: &SMoA{Rank: 64, Heads: 3, Experts: 4, Alpha: 0.01}},
)

// LookupImageMethod returns a ViT method by name.
func LookupImageMethod(name string) (ImageMethod, error) {
	m, ok := imageMethods.lookup(name)
	if !ok {
		return ImageMethod{}, fmt.Errorf("unknown image method %q (have %s)", name, strings.Join(imageMethods.names(), ", "))
	}
	if m.SMoA != nil {
		s := *m.SMoA
		m.SMoA = &s
	}
	return m, nil
}

// ImageMethodNames lists the ViT methods in registration order.
func ImageMethodNames() []string { return imageMethods.names() }

// vtabSchedule is NOAH's VTAB-1K schedule (configs/*/VTAB): 100 epochs of
// batch 64, AdamW lr 1e-3 and weight decay 1e-4, 10 warm-up epochs from
// 1e-6, cosine to 1e-5, no clipping.
func vtabSchedule() train.Config {
	return train.Config{Epochs: 100, BatchSize: 64, EvalBatch: 128, LR: 1e-3, MinLR: 1e-5, WarmupLR: 1e-6,
		WarmupEpochs: 10, WeightDecay: 1e-4}
}

// miniSchedule is the vit-mini's from-scratch runs: 10 epochs of batch 64,
// AdamW at 1e-3 with weight decay 0.05, one warm-up epoch, cosine to 1e-5.
func miniSchedule() train.Config {
	return train.Config{Epochs: 10, BatchSize: 64, EvalBatch: 256, LR: 1e-3, MinLR: 1e-5, WarmupLR: 1e-6,
		WarmupEpochs: 1, WeightDecay: 0.05}
}

// ImageDataKind is a kind of image data set pcx train takes, with the model
// preset and schedule it defaults to.
type ImageDataKind struct {
	Name    string `json:"name"`
	Summary string `json:"summary"`
	Preset  string `json:"preset"`
	// ImageSize overrides the preset's input size (0: the preset's).
	ImageSize int    `json:"img_size,omitempty"`
	Schedule  string `json:"schedule"`
	// Data is the default location of the data ("" when it must be
	// given).
	Data string `json:"data,omitempty"`
}

var imageKinds = newTable("image data set kind", func(d ImageDataKind) string { return d.Name },
	ImageDataKind{Name: "vtab", Summary: "a VTAB-1K task as NOAH lays it out (--data ROOT --task NAME)", Preset: "vit-b16", Schedule: "vtab"},
	ImageDataKind{Name: "images", Summary: "a folder of images, one subfolder per class", Preset: "vit-b16", Schedule: "vtab"},
	ImageDataKind{Name: "fashion-mnist", Summary: "Fashion-MNIST idx files (Debian's dataset-fashion-mnist)", Preset: "vit-mini", Schedule: "mini",
		Data: "/usr/share/datasets/fashion-mnist"},
	ImageDataKind{Name: "mnist", Summary: "MNIST idx files", Preset: "vit-mini", Schedule: "mini"},
	ImageDataKind{Name: "cifar", Summary: "CIFAR-10 or CIFAR-100, binary or python version", Preset: "vit-mini", ImageSize: 32, Schedule: "mini"},
)

// LookupImageDataKind returns an image data set kind by name.
func LookupImageDataKind(name string) (ImageDataKind, bool) { return imageKinds.lookup(name) }

// ImageDataKinds lists the image data set kinds in registration order.
func ImageDataKinds() []ImageDataKind { return imageKinds.all() }
