package backbone

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/nn/layers"
)

// MAEConfig sizes a ViTMAE, the image masked autoencoder (He et al., CVPR
// 2022; MaskedAutoencoderViT of facebookresearch/mae's models_mae.py).
type MAEConfig struct {
	ImageSize int // input height and width (224)
	PatchSize int // 16
	InChans   int // 3
	// The encoder: a ViT without head.
	Width, Depth, Heads int // 768, 12, 12 for ViT-B
	// The decoder (512 wide, 8 blocks of 16 heads in every released model).
	DecoderWidth, DecoderDepth, DecoderHeads int
	MLPRatio                                 int     // the blocks' hidden layer, 4
	Eps                                      float32 // LayerNorm ε, 1e-6 in MAE's presets
	// MaskRatio is the share of patches masked: each image keeps
	// int(L·(1−MaskRatio)) of its L patches, truncated as Python's int()
	// does, and masks the others (0.75: 147 of 196).
	MaskRatio float64
	// NormPixLoss normalises each target patch by its own mean and
	// (unbiased) variance before the loss, as MAE's --norm_pix_loss; the
	// released checkpoints were trained with it.
	NormPixLoss bool
}

// MAEBaseConfig is MAE's mae_vit_base_patch16 (mae_vit_base_patch16_dec512d8b):
// ViT-B/16 on 224-pixel images, a decoder 512 wide of 8 blocks of 16 heads,
// 75% of the patches masked, the loss on normalised pixels.
func MAEBaseConfig() MAEConfig {
	return MAEConfig{ImageSize: 224, PatchSize: 16, InChans: 3, Width: 768, Depth: 12, Heads: 12,
		DecoderWidth: 512, DecoderDepth: 8, DecoderHeads: 16, MLPRatio: 4, Eps: 1e-6, MaskRatio: 0.75, NormPixLoss: true}
}

// MAELargeConfig is MAE's mae_vit_large_patch16 (ViT-L/16: 1024 wide, 24
// blocks of 16 heads), with MAEBaseConfig's decoder, ratio and loss.
func MAELargeConfig() MAEConfig {
	c := MAEBaseConfig()
	c.Width, c.Depth, c.Heads = 1024, 24, 16
	return c
}

// MAEHugeConfig is MAE's mae_vit_huge_patch14 (ViT-H/14: 14-pixel patches,
// 1280 wide, 32 blocks of 16 heads), with MAEBaseConfig's decoder, ratio and
// loss.
func MAEHugeConfig() MAEConfig {
	c := MAEBaseConfig()
	c.PatchSize, c.Width, c.Depth, c.Heads = 14, 1280, 32, 16
	return c
}

// MAETinyConfig is a small model for tests: 8-pixel images of 4-pixel
// patches (4 patches), 12 wide, 2 blocks of 3 heads; a decoder 8 wide of 2
// blocks of 2 heads; 3 of the 4 patches masked.
func MAETinyConfig() MAEConfig {
	return MAEConfig{ImageSize: 8, PatchSize: 4, InChans: 3, Width: 12, Depth: 2, Heads: 3,
		DecoderWidth: 8, DecoderDepth: 2, DecoderHeads: 2, MLPRatio: 4, Eps: 1e-6, MaskRatio: 0.75, NormPixLoss: true}
}

// Grid is the number of patches along each side.
func (c MAEConfig) Grid() int { return c.ImageSize / c.PatchSize }

// Patches is L, the number of patches per image.
func (c MAEConfig) Patches() int { return c.Grid() * c.Grid() }

// PatchValues is the length of a patch's pixels, P·P·InChans: what the
// decoder predicts per patch.
func (c MAEConfig) PatchValues() int { return c.PatchSize * c.PatchSize * c.InChans }

// NumMask is the number of patches each image masks: L − int(L·(1−MaskRatio)),
// as MAE's random_masking keeps int(L·(1−mask_ratio)).
func (c MAEConfig) NumMask() int {
	l := c.Patches()
	return l - int(float64(l)*(1-c.MaskRatio))
}

// Validate checks that the sizes make a model.
func (c MAEConfig) Validate() error {
	switch {
	case c.Width <= 0 || c.Depth <= 0 || c.Heads <= 0 || c.Width%c.Heads != 0:
		return fmt.Errorf("backbone: MAE encoder width %d cannot split into %d heads (depth %d)", c.Width, c.Heads, c.Depth)
	case c.DecoderWidth <= 0 || c.DecoderDepth <= 0 || c.DecoderHeads <= 0 || c.DecoderWidth%c.DecoderHeads != 0:
		return fmt.Errorf("backbone: MAE decoder width %d cannot split into %d heads (depth %d)", c.DecoderWidth, c.DecoderHeads, c.DecoderDepth)
	case c.Width%4 != 0 || c.DecoderWidth%4 != 0:
		return fmt.Errorf("backbone: MAE widths %d and %d must be multiples of 4 for the 2D sin-cos position embedding", c.Width, c.DecoderWidth)
	case c.PatchSize <= 0 || c.ImageSize < c.PatchSize || c.ImageSize%c.PatchSize != 0:
		return fmt.Errorf("backbone: MAE image size %d is not a whole number of %d-pixel patches", c.ImageSize, c.PatchSize)
	case c.InChans <= 0 || c.MLPRatio <= 0:
		return fmt.Errorf("backbone: MAE needs positive channels and MLP ratio (%d, %d)", c.InChans, c.MLPRatio)
	case c.PatchValues() < 2:
		return fmt.Errorf("backbone: MAE patches of %d values have no variance to normalise", c.PatchValues())
	case math.IsNaN(c.MaskRatio) || c.MaskRatio < 0 || c.MaskRatio >= 1:
		return fmt.Errorf("backbone: MAE mask ratio %v is outside [0, 1)", c.MaskRatio)
	}
	if n := c.NumMask(); n < 1 || n >= c.Patches() {
		return fmt.Errorf("backbone: MAE mask ratio %v masks %d of %d patches; it must leave at least one masked and one visible", c.MaskRatio, n, c.Patches())
	}
	return nil
}

// Encoder is the configuration of the backbone.ViT that fine-tunes the
// encoder (MAE's models_vit.py is timm's ViT), with a head of classes.
func (c MAEConfig) Encoder(classes int) ViTConfig {
	return ViTConfig{ImageSize: c.ImageSize, PatchSize: c.PatchSize, InChans: c.InChans, Width: c.Width, Depth: c.Depth,
		Heads: c.Heads, MLPRatio: c.MLPRatio, Classes: classes, Eps: c.Eps}
}

// ViTMAE is MAE's MaskedAutoencoderViT. The encoder (a ViT without head:
// patch_embed, cls_token, the fixed pos_embed, blocks, norm) runs on the cls
// token and the visible patches only, the positions added once before the
// blocks; the decoder embeds its tokens (decoder_embed), adds a mask_token
// per masked patch, adds the fixed decoder_pos_embed once, runs its blocks
// and decoder_norm, and decoder_pred predicts each patch's pixels; the loss
// is the mean squared error over the masked patches' pixels.
//
// Parameter names and order are those of MAE's state dict: cls_token,
// pos_embed, mask_token, decoder_pos_embed (the module's own parameters
// first), then patch_embed.proj.*, blocks.i.*, norm.*, decoder_embed.*,
// decoder_blocks.i.*, decoder_norm.*, decoder_pred.*. The encoder's names
// are backbone.ViT's, so a saved ViTMAE loads as a ViT backbone.
type ViTMAE struct {
	Cfg MAEConfig
	// ClsToken is cls_token (1×1×C); MaskToken is mask_token (1×1×D in the
	// state dict).
	ClsToken, MaskToken *nn.Param
	// PosEmbed (1×(1+L)×C) and DecPosEmbed (1×(1+L)×D) are MAE's fixed 2D
	// sin-cos tables (SinCos2D), parameters with requires_grad=False there:
	// here buffers, saved and loaded but never trained. Forward reads their
	// host values.
	PosEmbed, DecPosEmbed *nn.Param
	// PatchEmbed is patch_embed.proj, the Conv2d kept as a Linear on
	// flattened patches (saved as C×in×P×P), as in backbone.ViT.
	PatchEmbed *layers.Linear
	Blocks     []*layers.Block
	Norm       *layers.LayerNorm
	DecEmbed   *layers.Linear // decoder_embed, C→D
	DecBlocks  []*layers.Block
	DecNorm    *layers.LayerNorm
	DecPred    *layers.Linear // decoder_pred, D→P·P·in
}

// NewViTMAE builds the model initialised as MAE's initialize_weights does,
// from r: the sin-cos position tables; the patch embedding's weight and
// every Linear's Xavier-uniform (the patch embedding's as a Linear of
// in·P·P inputs), Linear biases 0 (the patch embedding's keeps PyTorch's
// default); cls_token and mask_token normal with std 0.02; LayerNorms 1
// and 0. The random streams are pcx's, so the values differ from PyTorch's.
func NewViTMAE(cfg MAEConfig, r *rand.Rand) (*ViTMAE, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, d, p := cfg.Width, cfg.DecoderWidth, cfg.PatchSize
	m := &ViTMAE{Cfg: cfg}
	m.ClsToken = nn.NewParam("cls_token", 1, 1, c)
	m.PosEmbed = sinCosParam("pos_embed", c, cfg.Grid())
	m.MaskToken = nn.NewParam("mask_token", 1, d)
	m.MaskToken.StateShape = []int{1, 1, d}
	m.DecPosEmbed = sinCosParam("decoder_pos_embed", d, cfg.Grid())

	m.PatchEmbed = layers.NewLinear("patch_embed.proj", cfg.InChans*p*p, c, true, r)
	m.PatchEmbed.Weight.StateShape = []int{c, cfg.InChans, p, p}
	bias := append([]float32(nil), m.PatchEmbed.Bias.Data...)
	initLinear(m.PatchEmbed, "xavier", r)
	copy(m.PatchEmbed.Bias.Data, bias)
	normal(m.ClsToken.Data, 0.02, r)
	normal(m.MaskToken.Data, 0.02, r)

	enc := layers.BlockConfig{Dim: c, Heads: cfg.Heads, Hidden: cfg.MLPRatio * c, QKVBias: true, Eps: cfg.Eps}
	m.Blocks = blockStack("blocks", enc, cfg.Depth, 0, r)
	m.Norm = layers.NewLayerNorm("norm", c, cfg.Eps)
	m.DecEmbed = layers.NewLinear("decoder_embed", c, d, true, r)
	dec := layers.BlockConfig{Dim: d, Heads: cfg.DecoderHeads, Hidden: cfg.MLPRatio * d, QKVBias: true, Eps: cfg.Eps}
	m.DecBlocks = blockStack("decoder_blocks", dec, cfg.DecoderDepth, 0, r)
	m.DecNorm = layers.NewLayerNorm("decoder_norm", d, cfg.Eps)
	m.DecPred = layers.NewLinear("decoder_pred", d, cfg.PatchValues(), true, r)
	lins := []*layers.Linear{m.DecEmbed, m.DecPred}
	for _, b := range append(append([]*layers.Block{}, m.Blocks...), m.DecBlocks...) {
		lins = append(lins, blockLinears(b)...)
	}
	for _, lin := range lins {
		initLinear(lin, "xavier", r)
	}
	return m, nil
}

// sinCosParam is a fixed 1×(1+grid²)×dim sin-cos table as a buffer.
func sinCosParam(name string, dim, grid int) *nn.Param {
	p := nn.NewParam(name, 1, 1+grid*grid, dim)
	tab, _ := SinCos2D(dim, grid) // dim checked by Validate
	copy(p.Data, tab)
	p.Trainable, p.Buffer = false, true
	return p
}

// SinCos2D is MAE's get_2d_sincos_pos_embed(dim, grid, cls_token=True):
// (1+grid²)×dim values, row 0 (the cls token's) zero, row 1+h·grid+w that
// of the patch in row h, column w. Its first dim/2 channels encode the
// column w and the last dim/2 the row h (numpy.meshgrid puts w first),
// each as [sin(x·ω_k), cos(x·ω_k)] for k < dim/4 with
// ω_k = 1/10000^(k/(dim/4)), computed in float64 and rounded to float32 as
// MAE's numpy code is. dim must be a multiple of 4.
func SinCos2D(dim, grid int) ([]float32, error) {
	if dim <= 0 || dim%4 != 0 || grid <= 0 {
		return nil, fmt.Errorf("backbone: no 2D sin-cos table of width %d (a positive multiple of 4) for a %d×%d grid", dim, grid, grid)
	}
	q := dim / 4
	omega := make([]float64, q)
	for k := range omega {
		omega[k] = 1 / math.Pow(10000, float64(k)/float64(q))
	}
	out := make([]float32, (1+grid*grid)*dim)
	for h := 0; h < grid; h++ {
		for w := 0; w < grid; w++ {
			row := out[(1+h*grid+w)*dim:]
			for half, x := range []float64{float64(w), float64(h)} {
				o := row[half*2*q:]
				for k, om := range omega {
					o[k] = float32(math.Sin(x * om))
					o[q+k] = float32(math.Cos(x * om))
				}
			}
		}
	}
	return out, nil
}

// PatchifyMAE is MAE's patchify: B channel-first images (B×ch×h×w) cut
// into (B·N)×(p·p·ch) rows, the patches in row-major order, each patch's
// values in (row, column, channel) order: the layout of the decoder's
// predictions and of the loss's targets. (Patchify, which feeds the patch
// embedding, orders a patch's values as the Conv2d weight: channel, row,
// column.)
func PatchifyMAE(pix []float32, b, ch, h, w, p int) []float32 {
	gh, gw := h/p, w/p
	row := p * p * ch
	out := make([]float32, b*gh*gw*row)
	for s := 0; s < b; s++ {
		img := pix[s*ch*h*w : (s+1)*ch*h*w]
		for py := 0; py < gh; py++ {
			for px := 0; px < gw; px++ {
				o := out[((s*gh+py)*gw+px)*row:]
				for y := 0; y < p; y++ {
					for x := 0; x < p; x++ {
						for c := 0; c < ch; c++ {
							o[(y*p+x)*ch+c] = img[c*h*w+(py*p+y)*w+px*p+x]
						}
					}
				}
			}
		}
	}
	return out
}

// Params lists every parameter and buffer in MAE's state-dict order.
func (m *ViTMAE) Params() nn.Params {
	ps := nn.Params{m.ClsToken, m.PosEmbed, m.MaskToken, m.DecPosEmbed}
	ps = append(ps, m.PatchEmbed.Params()...)
	for _, b := range m.Blocks {
		ps = append(ps, b.Params()...)
	}
	ps = append(ps, m.Norm.Params()...)
	ps = append(ps, m.DecEmbed.Params()...)
	for _, b := range m.DecBlocks {
		ps = append(ps, b.Params()...)
	}
	ps = append(ps, m.DecNorm.Params()...)
	return append(ps, m.DecPred.Params()...)
}

// BackboneParams are the encoder's parameters under backbone.ViT's names
// and in its order (cls_token, pos_embed, patch_embed.proj.*, blocks.*,
// norm.*; no head): what fine-tuning keeps of pre-training, as MAE's
// released mae_pretrain_vit_base.pth holds. They are m's own parameters;
// saved with checkpoint.Save they make a .safetensors that LoadViTWeights
// loads into NewViT(m.Cfg.Encoder(classes), ...) with every pretrained
// backbone weight present (so does the file of all of m.Params(), the
// decoder's keys then reported unexpected).
func (m *ViTMAE) BackboneParams() nn.Params {
	ps := append(nn.Params{m.ClsToken, m.PosEmbed}, m.PatchEmbed.Params()...)
	for _, b := range m.Blocks {
		ps = append(ps, b.Params()...)
	}
	return append(ps, m.Norm.Params()...)
}

// DrawMask draws one mask per image for b images, MAE's random_masking
// with the configured ratio: each image masks NumMask() of its L patches,
// a uniformly random subset (b×L, true = masked), drawn by MaskRandom. MAE
// argsorts torch.rand noise; pcx shuffles with r, so the masks differ from
// MAE's for any seed while following the same distribution.
func (m *ViTMAE) DrawMask(b int, r *rand.Rand) ([]bool, error) {
	return MaskRandom(b, m.Cfg.Patches(), m.Cfg.NumMask(), r)
}

// MAEOutput is what one ViTMAE forward returns.
type MAEOutput struct {
	// Loss is the mean over the masked patches of the mean squared error of
	// their pixels (shape [1]).
	Loss *nn.Tensor
	// Pred is decoder_pred's output, B×(1+L)×(P·P·in), in the model's token
	// order: the cls token, then each image's visible patches, then its
	// masked ones (see Order). Patches returns it in MAE's order.
	Pred *nn.Tensor
	// Target holds the masked patches' targets ((B·Masked)×(P·P·in), image by
	// image, each image's masked patches in ascending order), normalised
	// when the loss is on normalised pixels.
	Target []float32
	// Order is, per image, the patch index of each of Pred's tokens after
	// the cls token (B×L).
	Order []int
	// Masked is the number of masked patches per image.
	Masked int
}

// Patches returns the predictions B×L×(P·P·in) in the images' patch order,
// the layout of MAE's pred (unpatchify turns it into images), on the host.
func (o *MAEOutput) Patches() []float32 {
	b, t, v := o.Pred.Dim(0), o.Pred.Dim(1), o.Pred.Dim(2)
	l := t - 1
	src := o.Pred.Host()
	out := make([]float32, b*l*v)
	for i := 0; i < b; i++ {
		for k := 0; k < l; k++ {
			j := o.Order[i*l+k]
			copy(out[(i*l+j)*v:(i*l+j+1)*v], src[(i*t+1+k)*v:(i*t+2+k)*v])
		}
	}
	return out
}

// Forward runs MaskedAutoencoderViT.forward on images with the given mask
// (B×L, true = masked; every image must mask the same number of patches,
// at least one, and leave at least one visible); r drives drop-path (none
// in MAE's blocks). The loss is MAE's forward_loss: per patch the mean
// over its pixels of (pred − target)², averaged over the masked patches,
// the target MAE's patchify of the image, normalised by the patch's mean
// and unbiased variance (ε 1e-6) when Cfg.NormPixLoss.
//
// The patches are gathered on the host as Point-MAE's groups are (see
// PointMAEPretrain.Forward): each image's visible patches first
// (ascending), then its masked ones (ascending). Only the visible patches
// are embedded (MAE embeds all and then drops the masked ones, which
// changes nothing downstream). The encoder runs on [cls, visible]; the decoder on [cls, visible, mask tokens], each token
// given the decoder position of its own patch. MAE instead unshuffles the
// decoder's tokens to the patches' order (ids_restore) before adding the
// positions; the transformer blocks treat tokens alike whatever their
// order, so the two agree up to the order of float sums. The images and
// the position tables are read on the host; the other parameters may be
// on a device.
func (m *ViTMAE) Forward(tp *nn.Tape, im *Images, mask []bool, r *rand.Rand) (*MAEOutput, error) {
	cfg := m.Cfg
	ch, hw, p := cfg.InChans, cfg.ImageSize, cfg.PatchSize
	if im == nil || im.B < 1 || im.H != hw || im.W != hw || len(im.Pix) != im.B*ch*hw*hw {
		if im == nil {
			return nil, fmt.Errorf("backbone: MAE given no images")
		}
		return nil, fmt.Errorf("backbone: MAE for %d×%d×%d images given %d of %d×%d (%d values)", ch, hw, hw, im.B, im.H, im.W, len(im.Pix))
	}
	b, l, pv, c, d := im.B, cfg.Patches(), cfg.PatchValues(), cfg.Width, cfg.DecoderWidth
	order, nm, err := maskOrder(mask, b, l, "patches", "image")
	if err != nil {
		return nil, err
	}
	if nm < 1 {
		return nil, fmt.Errorf("backbone: the mask hides none of the %d patches per image; pre-training needs at least one masked", l)
	}
	nv := l - nm

	// The visible patches (Conv2d order) and the positions of every token.
	conv := Patchify(im.Pix, b, ch, hw, hw, p)
	vis := make([]float32, 0, b*nv*pv)
	pos, dpos := m.PosEmbed.Tensor.Host(), m.DecPosEmbed.Tensor.Host()
	epos := make([]float32, 0, b*(1+nv)*c)
	decPos := make([]float32, 0, b*(1+l)*d)
	for i := 0; i < b; i++ {
		epos = append(epos, pos[:c]...)
		decPos = append(decPos, dpos[:d]...)
		for k, j := range order[i*l : (i+1)*l] {
			if k < nv {
				vis = append(vis, conv[(i*l+j)*pv:(i*l+j+1)*pv]...)
				epos = append(epos, pos[(1+j)*c:(2+j)*c]...)
			}
			decPos = append(decPos, dpos[(1+j)*d:(2+j)*d]...)
		}
	}

	// forward_encoder: cls + pos[0], patches + their positions, blocks, norm.
	tok := m.PatchEmbed.Forward(tp, nn.FromData(vis, b*nv, pv)).Reshape(b, nv, c)
	cls := nn.RepeatRows(tp, m.ClsToken.T(), b).Reshape(b, 1, c)
	x := nn.Add(tp, nn.ConcatTokens(tp, cls, tok), nn.FromData(epos, b, 1+nv, c))
	x = m.Norm.Forward(tp, runBlocks(tp, m.Blocks, x, nil, r))

	// forward_decoder: embed, mask tokens, positions (once), blocks, norm, pred.
	y := m.DecEmbed.Forward(tp, x)
	mt := nn.RepeatRows(tp, m.MaskToken.T(), b*nm).Reshape(b, nm, d)
	y = nn.Add(tp, nn.ConcatTokens(tp, y, mt), nn.FromData(decPos, b, 1+l, d))
	y = m.DecNorm.Forward(tp, runBlocks(tp, m.DecBlocks, y, nil, r))
	pred := m.DecPred.Forward(tp, y)

	// forward_loss on the masked patches.
	target := m.maskedTargets(im, order, nm)
	neg := make([]float32, len(target))
	for i, v := range target {
		neg[i] = -v
	}
	diff := nn.Add(tp, nn.SliceTokens(tp, pred, 1+nv, 1+l), nn.FromData(neg, b, nm, pv)).Reshape(1, b*nm*pv)
	sq := nn.MatMulT(tp, diff, diff) // Σ (pred − target)²
	loss := nn.Scale(tp, sq, float32(1/float64(b*nm*pv))).Reshape(1)
	return &MAEOutput{Loss: loss, Pred: pred, Target: target, Order: order, Masked: nm}, nil
}

// maskedTargets returns the masked patches' pixels in MAE's patchify order,
// image by image in the order given, normalised per patch when
// Cfg.NormPixLoss (mean and unbiased variance in float64, ε 1e-6).
func (m *ViTMAE) maskedTargets(im *Images, order []int, nm int) []float32 {
	cfg := m.Cfg
	b, l, pv := im.B, cfg.Patches(), cfg.PatchValues()
	all := PatchifyMAE(im.Pix, b, cfg.InChans, cfg.ImageSize, cfg.ImageSize, cfg.PatchSize)
	out := make([]float32, 0, b*nm*pv)
	for i := 0; i < b; i++ {
		for _, j := range order[i*l+l-nm : (i+1)*l] {
			patch := all[(i*l+j)*pv : (i*l+j+1)*pv]
			if !cfg.NormPixLoss {
				out = append(out, patch...)
				continue
			}
			var mean, ss float64
			for _, v := range patch {
				mean += float64(v)
			}
			mean /= float64(pv)
			for _, v := range patch {
				ss += (float64(v) - mean) * (float64(v) - mean)
			}
			sd := math.Sqrt(ss/float64(pv-1) + 1e-6)
			for _, v := range patch {
				out = append(out, float32((float64(v)-mean)/sd))
			}
		}
	}
	return out
}

// LoadWeights loads a pre-training checkpoint into m: MAE's .pth (the state
// dict under "model", as main_pretrain.py saves it; a bare state dict
// too) or a pcx .safetensors of m.Params(). A shape mismatch is an error,
// and so, unless opt.Partial, is a checkpoint that leaves any of m's
// weights unloaded (MAE's released mae_pretrain_vit_*.pth hold the encoder
// alone: load them with opt.Partial, or into a backbone.ViT with
// LoadViTWeights).
func (m *ViTMAE) LoadWeights(path string, opt LoadOptions) (checkpoint.Report, error) {
	ps := m.Params()
	d, err := readViTDict(path)
	if err != nil {
		return checkpoint.Report{}, err
	}
	rep, err := checkpoint.LoadDict(d, ps)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", path, err)
	}
	if opt.Partial {
		return rep, nil
	}
	return rep, checkPretrained(path, "masked autoencoder", rep, ps, func(string) bool { return true })
}

// Encode runs MAE's encoder on whole images, no patch masked (forward_encoder
// with every patch kept, as MAE's linear probing and fine-tuning see
// images): the cls token and every patch (in Conv2d order) plus their
// positions, the blocks and the final norm. It returns the tokens
// B×(1+L)×C, the cls token first. Only the position table is read on the
// host; the other parameters may be on a device.
func (m *ViTMAE) Encode(tp *nn.Tape, im *Images) (*nn.Tensor, error) {
	cfg := m.Cfg
	ch, hw, p := cfg.InChans, cfg.ImageSize, cfg.PatchSize
	if im == nil || im.B < 1 || im.H != hw || im.W != hw || len(im.Pix) != im.B*ch*hw*hw {
		if im == nil {
			return nil, fmt.Errorf("backbone: MAE given no images")
		}
		return nil, fmt.Errorf("backbone: MAE for %d×%d×%d images given %d of %d×%d (%d values)", ch, hw, hw, im.B, im.H, im.W, len(im.Pix))
	}
	b, l, pv, c := im.B, cfg.Patches(), cfg.PatchValues(), cfg.Width
	conv := Patchify(im.Pix, b, ch, hw, hw, p)
	pos := m.PosEmbed.Tensor.Host()
	epos := make([]float32, 0, b*(1+l)*c)
	for i := 0; i < b; i++ {
		epos = append(epos, pos[:(1+l)*c]...)
	}
	tok := m.PatchEmbed.Forward(tp, nn.FromData(conv, b*l, pv)).Reshape(b, l, c)
	cls := nn.RepeatRows(tp, m.ClsToken.T(), b).Reshape(b, 1, c)
	x := nn.Add(tp, nn.ConcatTokens(tp, cls, tok), nn.FromData(epos, b, 1+l, c))
	return m.Norm.Forward(tp, runBlocks(tp, m.Blocks, x, nil, nil)), nil
}
