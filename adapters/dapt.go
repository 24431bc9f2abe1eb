// Package adapters holds the parameter-efficient fine-tuning methods pcx
// puts on a frozen backbone. DAPT (Zhou et al., CVPR 2024, LMD0311/DAPT
// models/DAPT.py) is implemented exactly, with its state-dict keys:
//
//   - SSF ("tfts"): learnable per-channel γ (init N(1, .02)) and β (init
//     N(0, .02)) applied as x·γ+β after the encoder tokens, after qkv and
//     proj, after fc1 and fc2, after LN1 and LN2 in each block, on each
//     block's prompt, and after the final LayerNorm.
//   - The dynamic adapter (Adapter_MLP), parallel to the MLP and fed the
//     SSF'd LN2 output: its own LayerNorm, a per-token scale
//     s = ReLU(Linear(C→1)), down (C→r) → GELU → dropout → up (r→C), times s.
//   - Internal prompts: each block appends after cls the token mean of
//     GELU(adapter output), SSF'd, so the sequence grows by one per block.
//   - Positions are added once, at the input.
//   - The head reads cls, the mean over the prompts and the max over the
//     patches, as the preset chooses.
//   - Tunable (DAPT.Trainable): cls_token, cls_pos, the head, the SSFs and
//     the adapters, which DAPT's optimiser finds as the names containing
//     "cls", "tfts" or "Adapter". The frozen encoder's BatchNorm still
//     updates its running statistics in training.
package adapters

import (
	"fmt"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/layers"
	"github.com/pcx-dev/pcx/presets"
)

// SSF is DAPT's scale-and-shift ("tfts") pair.
type SSF struct{ Gamma, Beta *nn.Param }

// NewSSF returns γ ~ N(1, .02), β ~ N(0, .02) named prefix+"tfts_gamma_"+n
// and prefix+"tfts_beta_"+n.
func NewSSF(prefix string, n, dim int, r *rand.Rand) *SSF {
	s := &SSF{Gamma: nn.NewParam(fmt.Sprintf("%stfts_gamma_%d", prefix, n), dim),
		Beta: nn.NewParam(fmt.Sprintf("%stfts_beta_%d", prefix, n), dim)}
	for i := 0; i < dim; i++ {
		s.Gamma.Data[i] = float32(1 + 0.02*r.NormFloat64())
		s.Beta.Data[i] = float32(0.02 * r.NormFloat64())
	}
	return s
}

// Forward applies x·γ+β over the last axis. A nil SSF is the identity (a
// site DAPT-X leaves without SSF).
func (s *SSF) Forward(tp *nn.Tape, x *nn.Tensor) *nn.Tensor {
	if s == nil {
		return x
	}
	return nn.ScaleShift(tp, x, s.Gamma, s.Beta)
}

// Params lists γ then β (nothing for a nil SSF).
func (s *SSF) Params() nn.Params {
	if s == nil {
		return nil
	}
	return nn.Params{s.Gamma, s.Beta}
}

// DynamicAdapter is DAPT's Adapter_MLP.
type DynamicAdapter struct {
	Norm            *layers.LayerNorm
	Scale, Down, Up *layers.Linear
	Dropout         float32
}

// NewDynamicAdapter initialises as DAPT does: down and scale weights
// Kaiming-uniform(a=√5), up weight zero, biases zero.
func NewDynamicAdapter(prefix string, dim, rank int, dropout float32, r *rand.Rand) *DynamicAdapter {
	a := &DynamicAdapter{
		Norm:    layers.NewLayerNorm(prefix+".adapter_layer_norm_before", dim, 1e-5),
		Scale:   layers.NewLinear(prefix+".scale", dim, 1, true, r),
		Down:    layers.NewLinear(prefix+".down_proj", dim, rank, true, r),
		Up:      layers.NewLinear(prefix+".up_proj", rank, dim, true, r),
		Dropout: dropout,
	}
	clear(a.Scale.Bias.Data)
	clear(a.Down.Bias.Data)
	clear(a.Up.Weight.Data)
	clear(a.Up.Bias.Data)
	return a
}

// Params lists the adapter's parameters in state-dict order.
func (a *DynamicAdapter) Params() nn.Params {
	ps := append(nn.Params{}, a.Norm.Params()...)
	ps = append(ps, a.Scale.Params()...)
	ps = append(ps, a.Down.Params()...)
	return append(ps, a.Up.Params()...)
}

// Forward returns up(dropout(GELU(down(LN u)))) · ReLU(scale(LN u)).
func (a *DynamicAdapter) Forward(tp *nn.Tape, u *nn.Tensor, r *rand.Rand) *nn.Tensor {
	v := a.Norm.Forward(tp, u)
	s := nn.ReLU(tp, a.Scale.Forward(tp, v))
	up := a.Up.Forward(tp, nn.Dropout(tp, nn.GELU(tp, a.Down.Forward(tp, v), false), a.Dropout, r))
	return nn.RowScale(tp, up, s)
}

// DAPTBlock is a frozen backbone block with DAPT's SSFs, adapter and
// prompt. In DAPT every piece is set; DAPT-X uses the same block with the
// SSFs and the adapter nil unless DAPTXConfig.KeepDAPT.
type DAPTBlock struct {
	*layers.Block
	AttnSSF1, AttnSSF2 *SSF // after qkv (3C), after proj
	MLPSSF1, MLPSSF2   *SSF // after fc1 (hidden), after fc2
	SSF1, SSF2, SSF3   *SSF // after LN1, after LN2, on the prompt
	Adapter            *DynamicAdapter
}

// newDAPTBlock gives the frozen block b (number i) DAPT's SSFs and dynamic
// adapter of the given rank, named as in DAPT.
func newDAPTBlock(b *layers.Block, i, rank int, dropout float32, r *rand.Rand) *DAPTBlock {
	pre := fmt.Sprintf("blocks.blocks.%d.", i)
	c := b.Norm1.Weight.Len()
	hidden := b.MLP.FC1.Weight.Dim(0)
	return &DAPTBlock{Block: b,
		AttnSSF1: NewSSF(pre+"attn.", 1, 3*c, r), AttnSSF2: NewSSF(pre+"attn.", 2, c, r),
		MLPSSF1: NewSSF(pre+"mlp.", 1, hidden, r), MLPSSF2: NewSSF(pre+"mlp.", 2, c, r),
		SSF1: NewSSF(pre, 1, c, r), SSF2: NewSSF(pre, 2, c, r), SSF3: NewSSF(pre, 3, c, r),
		Adapter: NewDynamicAdapter(pre+"Adapter_MLP", c, rank, dropout, r)}
}

// Params lists the block's parameters (its nil pieces contribute nothing).
func (b *DAPTBlock) Params() nn.Params {
	return append(append(nn.Params{}, b.Block.Params()...), b.daptParams()...)
}

// daptParams lists what DAPT adds to the frozen block: the SSFs, then the
// dynamic adapter (nothing for the nil ones).
func (b *DAPTBlock) daptParams() nn.Params {
	var ps nn.Params
	for _, s := range []*SSF{b.AttnSSF1, b.AttnSSF2, b.MLPSSF1, b.MLPSSF2, b.SSF1, b.SSF2, b.SSF3} {
		ps = append(ps, s.Params()...)
	}
	if b.Adapter != nil {
		ps = append(ps, b.Adapter.Params()...)
	}
	return ps
}

// Forward runs the block on B×T×C and returns B×(T+1)×C, the prompt
// inserted after cls (token 0), before the earlier prompts and the patches.
func (b *DAPTBlock) Forward(tp *nn.Tape, x *nn.Tensor, r *rand.Rand) *nn.Tensor {
	y, _ := b.forward(tp, x, nil, r)
	return y
}

// blockX is what Adapter-X adds to a block: a call of the shared SMoA for
// block Index and the block's Prompt Generator (scale Gamma, shift Beta).
type blockX struct {
	SMoA        *SMoA
	Index       int
	Gamma, Beta *nn.Param
}

// forward is the one block forward of DAPT (bx nil) and DAPT-X (bx set). The
// FFN's side branch, fed the SSF'd LN2 output u, is the sum of the dynamic
// adapter's output (when b has one) and the SMoA's (DAPT-X); the block adds
// MLP(u) + side to the residual. The prompt is SSF3 of the token mean of
// GELU(side) (DAPT) or of the token mean of side scaled and shifted by the
// Prompt Generator (DAPT-X). It returns B×(T+1)×C and the SMoA's balance
// loss for the block (nil in DAPT).
func (b *DAPTBlock) forward(tp *nn.Tape, x *nn.Tensor, bx *blockX, r *rand.Rand) (*nn.Tensor, *nn.Tensor) {
	// Intermediates that no recorded backward function reads go back to
	// the tape's pool as soon as they are consumed (Tape.Discard): the
	// inputs of frozen linear layers (unless an SSF, whose backward reads
	// its input, sits in front), the attention and GELU outputs those
	// layers take, and what only adds, drop-path, slices and the token
	// concatenation consume.
	at, mlp := b.Block.Attn, b.Block.MLP
	n1 := b.Block.Norm1.Forward(tp, x)
	h := b.SSF1.Forward(tp, n1)
	q := at.QKV.Forward(tp, h)
	if at.QKV.Frozen() && b.SSF1 == nil {
		tp.Discard(n1)
	}
	qkv := b.AttnSSF1.Forward(tp, q)
	o := nn.Attention(tp, qkv, at.Heads, 0)
	pr := at.Proj.Forward(tp, o)
	if at.Proj.Frozen() {
		tp.Discard(o)
	}
	a := b.AttnSSF2.Forward(tp, pr)
	d := nn.DropPath(tp, a, b.Block.DropPath, r)
	x = nn.Add(tp, x, d)
	tp.Discard(a, d)
	u := b.SSF2.Forward(tp, b.Block.Norm2.Forward(tp, x))
	var side, balance *nn.Tensor
	if b.Adapter != nil {
		side = b.Adapter.Forward(tp, u, r)
	}
	if bx != nil {
		var s *nn.Tensor
		s, balance = bx.SMoA.Forward(tp, u, bx.Index)
		if side == nil {
			side = s
		} else {
			side = nn.Add(tp, side, s)
		}
	}
	g := nn.GELU(tp, b.MLPSSF1.Forward(tp, mlp.FC1.Forward(tp, u)), false)
	f2 := mlp.FC2.Forward(tp, g)
	if mlp.FC2.Frozen() {
		tp.Discard(g)
	}
	m := b.MLPSSF2.Forward(tp, f2)
	sum := nn.Add(tp, m, side)
	d = nn.DropPath(tp, sum, b.Block.DropPath, r)
	x = nn.Add(tp, x, d)
	tp.Discard(m, sum, d)
	bs, t, c := x.Dim(0), x.Dim(1), x.Dim(2)
	var p *nn.Tensor
	if bx == nil {
		p = nn.MeanTokens(tp, nn.GELU(tp, side, false))
	} else {
		p = nn.ScaleShift(tp, nn.MeanTokens(tp, side), bx.Gamma, bx.Beta)
	}
	p = b.SSF3.Forward(tp, p).Reshape(bs, 1, c)
	cls, rest := nn.SliceTokens(tp, x, 0, 1), nn.SliceTokens(tp, x, 1, t)
	y := nn.ConcatTokens(tp, cls, p, rest)
	tp.Discard(x, cls, rest)
	return y, balance
}

// HeadTokens chooses what DAPT's head reads: cls, the prompts pooled by
// "mean" or "max" (or "" for none), the patches pooled likewise.
type HeadTokens = presets.HeadTokens

// DAPTConfig sizes DAPT on a Point-MAE backbone.
type DAPTConfig struct {
	backbone.Config
	Rank           int
	AdapterDropout float32
	Head           HeadTokens
}

// BackboneConfig returns the Point-MAE configuration of a model preset:
// Point-MAE's fine-tuning (head dropout 0.5, positions before every block)
// with the preset's sizes; a preset without TransDim gets Point-MAE's 384
// wide, 12 deep, 6 heads.
func BackboneConfig(p presets.Model) backbone.Config {
	c := backbone.PointMAEConfig(p.Classes, p.Groups, p.GroupSize, p.Points, p.DropPath)
	if p.TransDim > 0 {
		c.TransDim, c.Depth, c.Heads = p.TransDim, p.Depth, p.Heads
	}
	return c
}

// DAPTPreset returns DAPT's configuration for a Point-MAE preset
// (cfgs/finetune_*_dapt.yaml), as the preset's row of the registry gives
// it (presets.Model.DAPT).
func DAPTPreset(name string) (DAPTConfig, error) {
	p, err := presets.LookupModel(name)
	if err != nil {
		return DAPTConfig{}, err
	}
	d := p.DAPT
	c := DAPTConfig{Config: BackboneConfig(p), Rank: d.Rank, AdapterDropout: d.AdapterDropout, Head: d.Head}
	c.PosEveryBlock = false
	c.DropPath = d.DropPath
	return c, nil
}

// DAPT is a Point-MAE classifier with DAPT.
type DAPT struct {
	Cfg DAPTConfig
	*backbone.PointMAE
	TokSSF  *SSF // tfts_*_1 after the encoder
	NormSSF *SSF // tfts_*_2 after the final norm
	DBlocks []*DAPTBlock
}

// NewDAPT builds the model and sets DAPT's tunable parameters.
func NewDAPT(cfg DAPTConfig, r *rand.Rand) (*DAPT, error) {
	if cfg.Head.Count() == 0 {
		return nil, fmt.Errorf("adapters: DAPT's head reads nothing (no cls, prompt or patch token)")
	}
	base := cfg.Config
	base.PosEveryBlock = false
	pm, err := backbone.NewPointMAE(base, r)
	if err != nil {
		return nil, err
	}
	var bb backbone.Backbone = pm
	c := bb.Width()
	bb.ReplaceHead(cfg.Head.Count()*c, r)
	d := &DAPT{Cfg: cfg, PointMAE: pm, TokSSF: NewSSF("", 1, c, r), NormSSF: NewSSF("", 2, c, r)}
	for i, b := range bb.Layers() {
		d.DBlocks = append(d.DBlocks, newDAPTBlock(b, i, cfg.Rank, cfg.AdapterDropout, r))
	}
	setTrainable(d)
	return d, nil
}

// Trainable is DAPT's optimiser part "dapt": cls_token, cls_pos, the head,
// every SSF and the dynamic adapters.
func (d *DAPT) Trainable() nn.Params {
	bb := d.base()
	ps := append(nn.Params{}, bb.ClsParams()...)
	ps = append(ps, d.TokSSF.Params()...)
	ps = append(ps, d.NormSSF.Params()...)
	for _, b := range d.DBlocks {
		ps = append(ps, b.daptParams()...)
	}
	return append(ps, weights(bb.Classifier().Params())...)
}

// ForwardAux returns the logits; DAPT has no auxiliary loss.
func (d *DAPT) ForwardAux(tp *nn.Tape, in backbone.Input, r *rand.Rand) (logits, aux *nn.Tensor) {
	return d.Forward(tp, in, r), nil
}

// Backbone is the Point-MAE model DAPT is built on.
func (d *DAPT) Backbone() *backbone.PointMAE { return d.PointMAE }

// base is the backbone as the method's code sees it.
func (d *DAPT) base() backbone.Backbone { return d.PointMAE }

// Params lists every parameter and buffer.
func (d *DAPT) Params() nn.Params {
	bb := d.base()
	ps := bb.EmbedParams()
	for _, b := range d.DBlocks {
		ps = append(ps, b.Params()...)
	}
	ps = append(ps, bb.FinalNorm().Params()...)
	ps = append(ps, d.TokSSF.Params()...)
	ps = append(ps, d.NormSSF.Params()...)
	return append(ps, bb.Classifier().Params()...)
}

// Forward returns the logits of the backbone's input.
func (d *DAPT) Forward(tp *nn.Tape, in backbone.Input, r *rand.Rand) *nn.Tensor {
	bb := d.base()
	x, patches := embed(tp, bb, d.TokSSF, in)
	mk := tp.Mark() // inference frees each block's activations after it
	for i, b := range d.DBlocks {
		tp.PhaseN("block", i) // the phases of backbone.PointMAE.Forward
		x = b.Forward(tp, x, r)
		tp.ReleaseSince(mk, x)
	}
	tp.Phase("head")
	x = d.NormSSF.Forward(tp, bb.FinalNorm().Forward(tp, x))
	return bb.Classifier().Forward(tp, headFeatures(tp, x, d.Cfg.Head, patches), r)
}

// embed returns the blocks' input and its number of patch tokens: the
// backbone's cls and patch tokens, the patch tokens (not cls) scaled and
// shifted by tok (DAPT's tfts_*_1; nil: none), plus the positions, added
// once.
func embed(tp *nn.Tape, bb backbone.Backbone, tok *SSF, in backbone.Input) (*nn.Tensor, int) {
	x, pos := bb.Embed(tp, in)
	t := x.Dim(1)
	if tok != nil {
		x = nn.ConcatTokens(tp, nn.SliceTokens(tp, x, 0, 1), tok.Forward(tp, nn.SliceTokens(tp, x, 1, t)))
	}
	return nn.Add(tp, x, pos), t - 1
}
