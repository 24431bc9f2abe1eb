package backbone

import (
	"fmt"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/layers"
)

// ViTConfig sizes a Vision Transformer (Dosovitskiy et al., ICLR 2021) as
// timm's VisionTransformer builds it: a patch embedding (a Conv2d of stride
// and kernel PatchSize, written as a Linear on flattened patches), a cls
// token, a learned position embedding over [cls, patches], pre-LN blocks
// with qkv bias and LayerNorm ε 1e-6, a final norm and a linear head on the
// cls token.
type ViTConfig struct {
	ImageSize int `json:"img_size"`   // input height and width (224)
	PatchSize int `json:"patch_size"` // 16
	InChans   int `json:"in_chans"`   // 3
	Width     int `json:"embed_dim"`  // 768 for ViT-B
	Depth     int `json:"depth"`      // 12
	Heads     int `json:"num_heads"`  // 12
	// MLPRatio sizes the blocks' hidden layer (4).
	MLPRatio int     `json:"mlp_ratio"`
	Classes  int     `json:"num_classes"`
	DropPath float32 `json:"drop_path_rate"`
	// Eps is the LayerNorm ε (1e-6 in timm's ViT).
	Eps float32 `json:"eps"`
}

// Patches is the number of patch tokens.
func (c ViTConfig) Patches() int { g := c.ImageSize / c.PatchSize; return g * g }

// Validate checks that the sizes make a model.
func (c ViTConfig) Validate() error {
	switch {
	case c.Width <= 0 || c.Depth <= 0 || c.Heads <= 0 || c.Width%c.Heads != 0:
		return fmt.Errorf("backbone: ViT width %d cannot split into %d heads (depth %d)", c.Width, c.Heads, c.Depth)
	case c.PatchSize <= 0 || c.ImageSize < c.PatchSize || c.ImageSize%c.PatchSize != 0:
		return fmt.Errorf("backbone: ViT image size %d is not a whole number of %d-pixel patches", c.ImageSize, c.PatchSize)
	case c.InChans <= 0 || c.MLPRatio <= 0 || c.Classes <= 0:
		return fmt.Errorf("backbone: ViT needs positive channels, MLP ratio and classes (%d, %d, %d)", c.InChans, c.MLPRatio, c.Classes)
	case c.DropPath < 0 || c.DropPath >= 1:
		return fmt.Errorf("backbone: ViT drop-path rate %g is outside [0, 1)", c.DropPath)
	}
	return nil
}

// Images is a ViT's input: B images of InChans×H×W float32 values,
// channel-first (PyTorch's layout), already normalised.
type Images struct {
	B, H, W int
	Pix     []float32
}

// LinearHead is a linear classifier (timm's head).
type LinearHead struct {
	*layers.Linear
	// Features, when set, receives each forward's input (the pooled
	// features the head classifies), e.g. for a t-SNE.
	Features func(x *nn.Tensor)
}

// Forward maps B×in features to B×classes logits.
func (h *LinearHead) Forward(tp *nn.Tape, x *nn.Tensor, _ *rand.Rand) *nn.Tensor {
	if h.Features != nil {
		h.Features(x)
	}
	return h.Linear.Forward(tp, x)
}

// ViT is timm's VisionTransformer with global_pool "token", parameters
// under timm's names: patch_embed.proj.{weight,bias}, cls_token, pos_embed,
// blocks.i.*, norm.*, head.*.
type ViT struct {
	Cfg        ViTConfig
	PatchEmbed *layers.Linear // patch_embed.proj, saved as out×in_chans×P×P
	ClsToken   *nn.Param      // cls_token, 1×1×C
	PosEmbed   *nn.Param      // pos_embed, 1×(1+N)×C
	Blocks     []*layers.Block
	Norm       *layers.LayerNorm
	Head       *LinearHead
}

var _ Backbone = (*ViT)(nil)

// NewViT builds the model with random initialisation from r: PyTorch's
// default for the linear layers, N(0, .02) for the cls token and the
// position embedding (timm draws them truncated; the weights are normally
// replaced by a checkpoint).
func NewViT(cfg ViTConfig, r *rand.Rand) (*ViT, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, p := cfg.Width, cfg.PatchSize
	m := &ViT{Cfg: cfg}
	m.PatchEmbed = layers.NewLinear("patch_embed.proj", cfg.InChans*p*p, c, true, r)
	m.PatchEmbed.Weight.StateShape = []int{c, cfg.InChans, p, p}
	m.ClsToken = nn.NewParam("cls_token", 1, 1, c)
	m.PosEmbed = nn.NewParam("pos_embed", 1, 1+cfg.Patches(), c)
	for _, t := range []*nn.Param{m.ClsToken, m.PosEmbed} {
		for i := range t.Data {
			t.Data[i] = float32(0.02 * r.NormFloat64())
		}
	}
	for i := 0; i < cfg.Depth; i++ {
		dp := float32(0)
		if cfg.Depth > 1 {
			dp = cfg.DropPath * float32(i) / float32(cfg.Depth-1) // linspace(0, rate, depth)
		}
		m.Blocks = append(m.Blocks, layers.NewBlock(fmt.Sprintf("blocks.%d", i),
			layers.BlockConfig{Dim: c, Heads: cfg.Heads, Hidden: cfg.MLPRatio * c, QKVBias: true, Eps: cfg.Eps, DropPath: dp}, r))
	}
	m.Norm = layers.NewLayerNorm("norm", c, cfg.Eps)
	m.ReplaceHead(c, r)
	return m, nil
}

// Width is the token width.
func (m *ViT) Width() int { return m.Cfg.Width }

// images returns in as the ViT's input; any other input is a programming
// error.
func (m *ViT) images(in Input) *Images {
	im, ok := in.(*Images)
	if !ok {
		panic(fmt.Sprintf("backbone: ViT embeds *Images, not %T", in))
	}
	return im
}

// Patchify cuts B channel-first images (B×ch×h×w) into non-overlapping p×p
// patches: (B·N)×(ch·p·p) rows, N = (h/p)·(w/p) in row-major order, each row
// in the order (channel, row, column) of a Conv2d weight's out×ch×p×p
// layout, so that the patch embedding is a Linear with the Conv2d's weight.
func Patchify(pix []float32, b, ch, h, w, p int) []float32 {
	gh, gw := h/p, w/p
	row := ch * p * p
	out := make([]float32, b*gh*gw*row)
	for s := 0; s < b; s++ {
		img := pix[s*ch*h*w : (s+1)*ch*h*w]
		for py := 0; py < gh; py++ {
			for px := 0; px < gw; px++ {
				o := out[((s*gh+py)*gw+px)*row:]
				k := 0
				for c := 0; c < ch; c++ {
					for y := 0; y < p; y++ {
						src := img[c*h*w+(py*p+y)*w+px*p:]
						copy(o[k:k+p], src[:p])
						k += p
					}
				}
			}
		}
	}
	return out
}

// Embed returns [cls, patch embeddings] (B×(1+N)×C) of *Images and the
// position embedding broadcast over the batch, not yet added.
func (m *ViT) Embed(tp *nn.Tape, in Input) (x, pos *nn.Tensor) {
	im := m.images(in)
	cfg := m.Cfg
	if im.H != cfg.ImageSize || im.W != cfg.ImageSize || len(im.Pix) != im.B*cfg.InChans*im.H*im.W {
		panic(fmt.Sprintf("backbone: ViT for %d×%d×%d images given %d of %d×%d (%d values)",
			cfg.InChans, cfg.ImageSize, cfg.ImageSize, im.B, im.H, im.W, len(im.Pix)))
	}
	c, n := cfg.Width, cfg.Patches()
	patches := nn.FromData(Patchify(im.Pix, im.B, cfg.InChans, im.H, im.W, cfg.PatchSize), im.B*n, cfg.InChans*cfg.PatchSize*cfg.PatchSize)
	var tok *nn.Tensor
	if m.PatchEmbed.Weight.Trainable || m.PatchEmbed.Bias.Trainable {
		tok = m.PatchEmbed.Forward(tp, patches).Reshape(im.B, n, c)
	} else {
		// A frozen patch embedding needs no backward.
		sc := tp.Scope()
		tok = nn.Copy(tp, m.PatchEmbed.Forward(sc, patches)).Reshape(im.B, n, c)
		sc.Release()
	}
	cls := nn.RepeatRows(tp, m.ClsToken.T(), im.B).Reshape(im.B, 1, c)
	pos = nn.RepeatRows(tp, m.PosEmbed.T().Reshape(1, (1+n)*c), im.B).Reshape(im.B, 1+n, c)
	return nn.ConcatTokens(tp, cls, tok), pos
}

// EmbedParams lists patch_embed.proj, cls_token and pos_embed, in timm's
// state-dict order (cls_token, pos_embed, patch_embed).
func (m *ViT) EmbedParams() nn.Params {
	return append(nn.Params{m.ClsToken, m.PosEmbed}, m.PatchEmbed.Params()...)
}

// ClsParams is cls_token.
func (m *ViT) ClsParams() nn.Params { return nn.Params{m.ClsToken} }

// Layers are the blocks.
func (m *ViT) Layers() []*layers.Block { return m.Blocks }

// FinalNorm is the norm after the blocks.
func (m *ViT) FinalNorm() *layers.LayerNorm { return m.Norm }

// Classifier is the head.
func (m *ViT) Classifier() Classifier { return m.Head }

// ReplaceHead draws a new head reading in-wide features.
func (m *ViT) ReplaceHead(in int, r *rand.Rand) {
	m.Head = &LinearHead{Linear: layers.NewLinear("head", in, m.Cfg.Classes, true, r)}
}

// Features is the cls token of the final norm's tokens (timm's
// global_pool "token"): B×C.
func (m *ViT) Features(tp *nn.Tape, x *nn.Tensor) *nn.Tensor {
	return nn.SliceTokens(tp, x, 0, 1).Reshape(x.Dim(0), x.Dim(2))
}

// Forward returns the logits (B×classes) of *Images.
func (m *ViT) Forward(tp *nn.Tape, in Input, r *rand.Rand) *nn.Tensor {
	x, pos := m.Embed(tp, in)
	x = nn.Add(tp, x, pos)
	for _, b := range m.Blocks {
		x = b.Forward(tp, x, r, nil)
	}
	return m.Head.Forward(tp, m.Features(tp, m.Norm.Forward(tp, x)), r)
}

// Params lists every parameter in timm's state-dict order.
func (m *ViT) Params() nn.Params {
	ps := m.EmbedParams()
	for _, b := range m.Blocks {
		ps = append(ps, b.Params()...)
	}
	ps = append(ps, m.Norm.Params()...)
	return append(ps, m.Head.Params()...)
}
