package vision

import (
	"fmt"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/adapters"
	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/internal/memlimit"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/presets"
)

// ModelConfig is everything needed to rebuild an image model: the ViT's
// sizes and the method with its settings.
type ModelConfig struct {
	Preset    string  `yaml:"preset" json:"preset"`
	Method    string  `yaml:"method" json:"method"`
	ImageSize int     `yaml:"img_size" json:"img_size"`
	PatchSize int     `yaml:"patch_size" json:"patch_size"`
	InChans   int     `yaml:"in_chans" json:"in_chans"`
	Width     int     `yaml:"embed_dim" json:"embed_dim"`
	Depth     int     `yaml:"depth" json:"depth"`
	Heads     int     `yaml:"num_heads" json:"num_heads"`
	MLPRatio  int     `yaml:"mlp_ratio" json:"mlp_ratio"`
	Classes   int     `yaml:"num_classes" json:"num_classes"`
	DropPath  float32 `yaml:"drop_path_rate" json:"drop_path_rate"`
	// Adapters.
	Rank    int     `yaml:"rank,omitempty" json:"rank,omitempty"`
	Scale   float32 `yaml:"scale,omitempty" json:"scale,omitempty"`
	Dropout float32 `yaml:"adapter_dropout,omitempty" json:"adapter_dropout,omitempty"`
	// Adapter-X.
	SMoAHeads int     `yaml:"smoa_heads,omitempty" json:"smoa_heads,omitempty"`
	Experts   int     `yaml:"experts,omitempty" json:"experts,omitempty"`
	Top1      bool    `yaml:"top1,omitempty" json:"top1,omitempty"`
	Alpha     float32 `yaml:"alpha,omitempty" json:"alpha,omitempty"`
	SMoAOnly  bool    `yaml:"smoa_only,omitempty" json:"smoa_only,omitempty"`
	NoSharing bool    `yaml:"no_sharing,omitempty" json:"no_sharing,omitempty"`
}

// ResolveModel fills a ModelConfig from a ViT preset and an image method
// for a data set of the given number of classes (0: the preset's) and
// image size (0: the preset's).
func ResolveModel(preset, method string, classes, imageSize int) (ModelConfig, error) {
	p, err := presets.LookupImageModel(preset)
	if err != nil {
		return ModelConfig{}, err
	}
	if classes <= 0 {
		classes = p.Classes
	}
	if imageSize <= 0 {
		imageSize = p.ImageSize
	}
	m := ModelConfig{Preset: preset, Method: method, ImageSize: imageSize, PatchSize: p.PatchSize, InChans: 3,
		Width: p.Width, Depth: p.Depth, Heads: p.Heads, MLPRatio: p.MLPRatio, Classes: classes, DropPath: p.DropPath}
	mc, err := adapters.ViTMethodPreset(method, m.vit())
	if err != nil {
		return ModelConfig{}, err
	}
	m.Rank, m.Scale, m.Dropout = mc.Rank, mc.Scale, mc.Dropout
	m.SMoAHeads, m.Experts, m.Top1, m.Alpha = mc.SMoAHeads, mc.Experts, mc.Top1, mc.Alpha
	return m, nil
}

func (m ModelConfig) vit() backbone.ViTConfig {
	return backbone.ViTConfig{ImageSize: m.ImageSize, PatchSize: m.PatchSize, InChans: m.InChans, Width: m.Width,
		Depth: m.Depth, Heads: m.Heads, MLPRatio: m.MLPRatio, Classes: m.Classes, DropPath: m.DropPath, Eps: 1e-6}
}

func (m ModelConfig) method() adapters.ViTMethodConfig {
	return adapters.ViTMethodConfig{ViTConfig: m.vit(), Method: m.Method, Rank: m.Rank, Scale: m.Scale, Dropout: m.Dropout,
		SMoAHeads: m.SMoAHeads, Experts: m.Experts, Top1: m.Top1, Alpha: m.Alpha, SMoAOnly: m.SMoAOnly, NoSharing: m.NoSharing}
}

// Validate checks that the configuration builds a model of a sane size.
func (m ModelConfig) Validate() error {
	if _, err := presets.LookupImageMethod(m.Method); err != nil {
		return err
	}
	if err := m.vit().Validate(); err != nil {
		return err
	}
	if m.ImageSize > 4096 || m.Width > 8192 || m.Depth > 256 || m.Classes > 100_000 || m.MLPRatio > 16 {
		return fmt.Errorf("image model: sizes out of range (image %d, width %d, depth %d, classes %d, mlp ratio %d)",
			m.ImageSize, m.Width, m.Depth, m.Classes, m.MLPRatio)
	}
	switch m.Method {
	case "adapter", "adaptformer":
		if m.Rank <= 0 || m.Rank > m.Width {
			return fmt.Errorf("image model: %s rank %d must be in 1..%d", m.Method, m.Rank, m.Width)
		}
	case "adapter-x", "adaptformer-x":
		if m.SMoAHeads <= 0 || m.Width%m.SMoAHeads != 0 || m.Experts <= 0 || m.Experts > 64 || m.Rank <= 0 || m.Rank > m.Width {
			return fmt.Errorf("image model: SMoA of %d heads, %d experts, rank %d does not fit width %d", m.SMoAHeads, m.Experts, m.Rank, m.Width)
		}
	}
	if m.Alpha < 0 || m.Scale < 0 || m.Dropout < 0 || m.Dropout >= 1 {
		return fmt.Errorf("image model: alpha, scale and dropout must be non-negative (dropout below 1)")
	}
	return nil
}

// weightBytes is a lower bound on the bytes of the model's weights: the
// blocks' attention and MLP ((4 + 2·mlp_ratio)·width² each) and the patch
// embedding.
func (m ModelConfig) weightBytes() int64 {
	d := int64(m.Width)
	blocks := memlimit.Bytes(int64(m.Depth), int64(4+2*m.MLPRatio), d, d)
	return memlimit.Bytes(4, memlimit.Sum(blocks, memlimit.Bytes(d, 3, int64(m.PatchSize), int64(m.PatchSize)), memlimit.Bytes(d, int64(m.Classes))))
}

// CheckBatch refuses a batch of b images (with workers more being loaded)
// that would not fit in memory with the weights: at least the images, the
// attention maps and the MLP's hidden layer of one block.
func (m ModelConfig) CheckBatch(what string, b int, workers int64) error {
	if b <= 0 {
		return fmt.Errorf("%s: the batch size must be positive (got %d)", what, b)
	}
	s := int64(m.ImageSize)
	t := int64(1+(m.ImageSize/m.PatchSize)*(m.ImageSize/m.PatchSize)) + int64(m.Depth) // tokens, prompts included
	in := memlimit.Bytes(3, s, s)
	peak := max(memlimit.Bytes(int64(m.Heads), t, t), memlimit.Bytes(t, int64(m.MLPRatio), int64(m.Width)))
	need := memlimit.Sum(m.weightBytes(), memlimit.Bytes(4, int64(b), memlimit.Sum(in, peak)), memlimit.Bytes(workers, 4, int64(b), in))
	return memlimit.Check(fmt.Sprintf("%s in batches of %d images of %d×%d", what, b, m.ImageSize, m.ImageSize), need)
}

// Model is an image classifier built for a method.
type Model struct {
	Cfg ModelConfig
	Net *adapters.ViTNet
}

// NewModel builds the model of cfg with weights drawn from r and the
// method's trainable parameters set.
func NewModel(cfg ModelConfig, r *rand.Rand) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n, err := adapters.NewViTNet(cfg.method(), r)
	if err != nil {
		return nil, err
	}
	return &Model{Cfg: cfg, Net: n}, nil
}

// Params lists every parameter.
func (m *Model) Params() nn.Params { return m.Net.Params() }
