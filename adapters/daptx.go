package adapters

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
)

// DAPT-X is Adapter-X on Point-MAE, as pcx builds it. The paper leaves
// choices open; these are pcx's, each with its reason:
//
//   - One SMoA (router and experts) shared by every block, as §3.2's text
//     says ("the same router and adapter expert repository across all
//     blocks"); the figure's per-block router is not used by default.
//   - Dense soft mixture, as Algorithm 1 computes it; SMoA.Top1 switches to
//     the figure's top-1 expert scaled by its gate.
//   - 3 sub-token heads and 4 experts (Appendix D); the expert-embedding
//     dimension equals the adapters' rank (§3.2), 32 by default.
//   - The SMoA is parallel to the frozen FFN and fed the output of the
//     block-specific LayerNorm before the FFN, its output added to the FFN's
//     before the residual (the figure, and DAPT's placement).
//   - The Prompt Generator averages the SMoA output over the tokens, scales
//     and shifts it per block, and inserts it after cls (the figure's P_l;
//     DAPT's internal prompt without its GELU).
//   - DAPT's per-block adapters and SSF are dropped: with them the tunable
//     count would be ≥ 1.1M, far above the paper's 0.42M.
//   - The head reads cls, the prompt mean and the patch max, as DAPT does on
//     ScanObjectNN (per preset, as DAPTPreset chooses).
//   - The loss is cross-entropy plus α = 0.01 times the mean over blocks of
//     each block's balance loss (Eq. 6–7).
//
// With these defaults scan_objbg has 422,671 tunable parameters (the paper:
// 0.42M, 1.88%).
type DAPTX struct {
	Cfg DAPTXConfig
	*backbone.PointMAE
	SMoA   *SMoA
	PGamma []*nn.Param // blocks.blocks.i.pg_gamma
	PBeta  []*nn.Param // blocks.blocks.i.pg_beta
	// BalanceLoss holds the last forward's mean balance loss over blocks.
	BalanceLoss *nn.Tensor
}

// DAPTXConfig sizes DAPT-X.
type DAPTXConfig struct {
	DAPTConfig
	SMoAHeads, Experts int
	Top1               bool
	Alpha              float32 // balance-loss coefficient (0.01)
}

// DAPTXPreset returns DAPT-X's defaults on a Point-MAE preset.
func DAPTXPreset(name string) (DAPTXConfig, error) {
	d, err := DAPTPreset(name)
	if err != nil {
		return DAPTXConfig{}, err
	}
	d.Rank = 32
	return DAPTXConfig{DAPTConfig: d, SMoAHeads: 3, Experts: 4, Alpha: 0.01}, nil
}

// NewDAPTX builds DAPT-X and sets its tunable parameters.
func NewDAPTX(cfg DAPTXConfig, r *rand.Rand) (*DAPTX, error) {
	if cfg.Head.Count() == 0 {
		return nil, fmt.Errorf("adapters: DAPT-X's head reads nothing")
	}
	base := cfg.Config
	base.PosEveryBlock = false
	pm, err := backbone.NewPointMAE(base, r)
	if err != nil {
		return nil, err
	}
	c := base.TransDim
	pm.HeadInput = cfg.Head.Count() * c
	pm.Head = backbone.NewHead("cls_head_finetune", pm.HeadInput, base.Classes, base.HeadDropout, r)
	s, err := NewSMoA("smoa", c, cfg.SMoAHeads, cfg.Experts, cfg.Rank, r)
	if err != nil {
		return nil, err
	}
	s.Top1 = cfg.Top1
	d := &DAPTX{Cfg: cfg, PointMAE: pm, SMoA: s}
	for i := range pm.Blocks {
		g := nn.NewParam(fmt.Sprintf("blocks.blocks.%d.pg_gamma", i), c)
		b := nn.NewParam(fmt.Sprintf("blocks.blocks.%d.pg_beta", i), c)
		for k := 0; k < c; k++ {
			g.Data[k] = float32(1 + 0.02*r.NormFloat64())
			b.Data[k] = float32(0.02 * r.NormFloat64())
		}
		d.PGamma, d.PBeta = append(d.PGamma, g), append(d.PBeta, b)
	}
	d.SetTunable()
	return d, nil
}

// SetTunable trains cls_token, cls_pos, the head, the SMoA, each block's
// norm2 and prompt generator; everything else is frozen.
func (d *DAPTX) SetTunable() {
	for _, p := range d.Params() {
		n := p.Name
		p.Trainable = !p.Buffer && (strings.Contains(n, "cls") || strings.HasPrefix(n, "smoa.") ||
			strings.Contains(n, ".norm2.") || strings.Contains(n, ".pg_"))
	}
}

// Params lists every parameter and buffer.
func (d *DAPTX) Params() nn.Params {
	ps := append(nn.Params{d.ClsToken, d.ClsPos}, d.Encoder.Params()...)
	ps = append(append(ps, d.Pos0.Params()...), d.Pos2.Params()...)
	for i, b := range d.Blocks {
		ps = append(ps, b.Params()...)
		ps = append(ps, d.PGamma[i], d.PBeta[i])
	}
	ps = append(ps, d.SMoA.Params()...)
	ps = append(ps, d.Norm.Params()...)
	return append(ps, d.Head.Params()...)
}

// Forward returns the logits; d.BalanceLoss holds the blocks' mean balance
// loss (add Cfg.Alpha times it to the task loss, see Loss).
func (d *DAPTX) Forward(tp *nn.Tape, g *backbone.Groups, r *rand.Rand) *nn.Tensor {
	c := d.Cfg.TransDim
	x, pos := d.Tokens(tp, g)
	x = nn.Add(tp, x, pos)
	var bal *nn.Tensor
	for i, b := range d.Blocks {
		at := b.Attn
		x = nn.Add(tp, x, nn.DropPath(tp, at.Forward(tp, b.Norm1.Forward(tp, x)), b.DropPath, r))
		u := b.Norm2.Forward(tp, x)
		a, l := d.SMoA.Forward(tp, u, i)
		if bal == nil {
			bal = l
		} else {
			bal = nn.Add(tp, bal, l)
		}
		x = nn.Add(tp, x, nn.DropPath(tp, nn.Add(tp, b.MLP.Forward(tp, u), a), b.DropPath, r))
		bs, t := x.Dim(0), x.Dim(1)
		p := nn.ScaleShift(tp, nn.MeanTokens(tp, a), d.PGamma[i], d.PBeta[i]).Reshape(bs, 1, c)
		x = nn.ConcatTokens(tp, nn.SliceTokens(tp, x, 0, 1), p, nn.SliceTokens(tp, x, 1, t))
	}
	d.BalanceLoss = nn.Scale(tp, bal, 1/float32(len(d.Blocks)))
	x = d.Norm.Forward(tp, x)
	return d.Head.Forward(tp, headFeatures(tp, x, d.Cfg.Head, g.B, g.G, c), r)
}

// Loss is cross-entropy plus Alpha times the balance loss of the last
// forward.
func (d *DAPTX) Loss(tp *nn.Tape, logits *nn.Tensor, labels []int) *nn.Tensor {
	return nn.Add(tp, nn.CrossEntropy(tp, logits, labels, 0), nn.Scale(tp, d.BalanceLoss, d.Cfg.Alpha))
}

// headFeatures concatenates the head's inputs: cls, pooled prompts, pooled
// patches.
func headFeatures(tp *nn.Tape, x *nn.Tensor, h HeadTokens, b, g, c int) *nn.Tensor {
	t := x.Dim(1)
	var parts []*nn.Tensor
	if h.Cls {
		parts = append(parts, nn.SliceTokens(tp, x, 0, 1).Reshape(b, c))
	}
	pool := func(kind string, lo, hi int) *nn.Tensor {
		s := nn.SliceTokens(tp, x, lo, hi)
		if kind == "max" {
			return nn.MaxMiddle(tp, s, b, hi-lo, c)
		}
		return nn.MeanTokens(tp, s)
	}
	if h.Prompt != "" {
		parts = append(parts, pool(h.Prompt, 1, t-g))
	}
	if h.Patch != "" {
		parts = append(parts, pool(h.Patch, t-g, t))
	}
	return nn.ConcatLast(tp, parts...)
}
