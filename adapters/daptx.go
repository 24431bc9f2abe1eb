package adapters

import (
	"fmt"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/presets"
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
//     count would be ≥ 1.1M, far above the paper's 0.42M. KeepDAPT (off by
//     default) keeps them, for the reading of the paper in which DAPT-X is
//     DAPT plus Adapter-X.
//   - The head reads cls, the prompt mean and the patch max, as DAPT does on
//     ScanObjectNN (per preset, as DAPTPreset chooses).
//   - The loss is cross-entropy plus α = 0.01 times the mean over blocks of
//     each block's balance loss (Eq. 6–7).
//
// With these defaults scan_objbg has 422,671 tunable parameters (the paper:
// 0.42M, 1.88%).
//
// With KeepDAPT, DAPT's pieces stay, with DAPT's keys and initialisation:
// every SSF ("tfts": after the encoder's patch tokens, after the final norm,
// and per block after qkv, proj, fc1, fc2, LN1 and LN2 and on the prompt)
// and, per block, DAPT's dynamic adapter (rank AdapterRank) parallel to the
// SMoA. The FFN's side branch is then DynamicAdapter(u) + SMoA(u), u the
// SSF'd LN2 output, added to MLP(u); the Prompt Generator scales and shifts
// the token mean of that sum, and SSF3 follows. norm2 stays tunable, and so
// does every name containing "tfts" or "Adapter". On scan_objbg (adapter
// rank 64, as DAPT) this gives 1,143,835 tunable parameters: DAPT-X's
// 422,671 plus 12 × (9,216 SSF + 50,753 adapter) + 1,536 model-level SSF.
type DAPTX struct {
	Cfg DAPTXConfig
	*backbone.PointMAE
	SMoA *SMoA
	// DBlocks wraps every Point-MAE block; its SSFs and dynamic adapter are
	// nil unless KeepDAPT.
	DBlocks []*DAPTBlock
	PGamma  []*nn.Param // blocks.blocks.i.pg_gamma
	PBeta   []*nn.Param // blocks.blocks.i.pg_beta
	// TokSSF and NormSSF are DAPT's model-level SSFs (tfts_*_1 after the
	// encoder, tfts_*_2 after the final norm), nil unless KeepDAPT.
	TokSSF, NormSSF *SSF
}

// DAPTXConfig sizes DAPT-X.
type DAPTXConfig struct {
	DAPTConfig
	SMoAHeads, Experts int
	Top1               bool
	Alpha              float32 // balance-loss coefficient (0.01)
	// KeepDAPT keeps DAPT's SSFs and per-block dynamic adapters inside
	// DAPT-X (see DAPTX): 1,143,835 tunable parameters on scan_objbg
	// instead of 422,671. False by default.
	KeepDAPT bool
	// AdapterRank is the rank of the dynamic adapters KeepDAPT keeps
	// (DAPTXPreset: DAPT's, 64 on ScanObjectNN and 72 on ModelNet); Rank
	// stays the SMoA's.
	AdapterRank int
}

// DAPTXPreset returns DAPT-X's defaults on a Point-MAE preset: DAPT's
// drop-path and head for the preset, its adapter rank as AdapterRank, and
// the SMoA of the dapt-x method's registry entry.
func DAPTXPreset(name string) (DAPTXConfig, error) {
	d, err := DAPTPreset(name)
	if err != nil {
		return DAPTXConfig{}, err
	}
	m, err := presets.LookupMethod("dapt-x")
	if err != nil {
		return DAPTXConfig{}, err
	}
	x := m.SMoA
	adapterRank := d.Rank
	d.Rank = x.Rank
	return DAPTXConfig{DAPTConfig: d, SMoAHeads: x.Heads, Experts: x.Experts, Top1: x.Top1, Alpha: x.Alpha, AdapterRank: adapterRank}, nil
}

// NewDAPTX builds DAPT-X and sets its tunable parameters.
func NewDAPTX(cfg DAPTXConfig, r *rand.Rand) (*DAPTX, error) {
	if cfg.Head.Count() == 0 {
		return nil, fmt.Errorf("adapters: DAPT-X's head reads nothing")
	}
	if cfg.KeepDAPT && cfg.AdapterRank <= 0 {
		return nil, fmt.Errorf("adapters: DAPT-X keeping DAPT needs a dynamic-adapter rank, got %d", cfg.AdapterRank)
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
	s, err := NewSMoA("smoa", c, cfg.SMoAHeads, cfg.Experts, cfg.Rank, r)
	if err != nil {
		return nil, err
	}
	s.Top1 = cfg.Top1
	d := &DAPTX{Cfg: cfg, PointMAE: pm, SMoA: s}
	blocks := bb.Layers()
	for i := range blocks {
		g := nn.NewParam(fmt.Sprintf("blocks.blocks.%d.pg_gamma", i), c)
		b := nn.NewParam(fmt.Sprintf("blocks.blocks.%d.pg_beta", i), c)
		for k := 0; k < c; k++ {
			g.Data[k] = float32(1 + 0.02*r.NormFloat64())
			b.Data[k] = float32(0.02 * r.NormFloat64())
		}
		d.PGamma, d.PBeta = append(d.PGamma, g), append(d.PBeta, b)
	}
	// DAPT's pieces are drawn after DAPT-X's, so that KeepDAPT leaves the
	// initialisation of the rest unchanged.
	for i, b := range blocks {
		db := &DAPTBlock{Block: b}
		if cfg.KeepDAPT {
			db = newDAPTBlock(b, i, cfg.AdapterRank, cfg.AdapterDropout, r)
		}
		d.DBlocks = append(d.DBlocks, db)
	}
	if cfg.KeepDAPT {
		d.TokSSF, d.NormSSF = NewSSF("", 1, c, r), NewSSF("", 2, c, r)
	}
	setTrainable(d)
	return d, nil
}

// Trainable is cls_token, cls_pos, the head, the SMoA, each block's norm2
// and Prompt Generator, and, with KeepDAPT, DAPT's SSFs and dynamic
// adapters; everything else is frozen.
func (d *DAPTX) Trainable() nn.Params {
	bb := d.base()
	ps := append(nn.Params{}, bb.ClsParams()...)
	ps = append(ps, d.SMoA.Params()...)
	for i, b := range d.DBlocks {
		ps = append(ps, b.Block.Norm2.Params()...)
		ps = append(ps, d.PGamma[i], d.PBeta[i])
		ps = append(ps, b.daptParams()...)
	}
	ps = append(ps, d.TokSSF.Params()...)
	ps = append(ps, d.NormSSF.Params()...)
	return append(ps, weights(bb.Classifier().Params())...)
}

// Backbone is the Point-MAE model DAPT-X is built on.
func (d *DAPTX) Backbone() *backbone.PointMAE { return d.PointMAE }

// base is the backbone as the method's code sees it.
func (d *DAPTX) base() backbone.Backbone { return d.PointMAE }

// Params lists every parameter and buffer.
func (d *DAPTX) Params() nn.Params {
	bb := d.base()
	ps := bb.EmbedParams()
	for i, b := range d.DBlocks {
		ps = append(ps, b.Params()...)
		ps = append(ps, d.PGamma[i], d.PBeta[i])
	}
	ps = append(ps, d.SMoA.Params()...)
	ps = append(ps, bb.FinalNorm().Params()...)
	ps = append(ps, d.TokSSF.Params()...)
	ps = append(ps, d.NormSSF.Params()...)
	return append(ps, bb.Classifier().Params()...)
}

// Forward returns the logits (ForwardAux also returns the balance loss).
func (d *DAPTX) Forward(tp *nn.Tape, in backbone.Input, r *rand.Rand) *nn.Tensor {
	logits, _ := d.ForwardAux(tp, in, r)
	return logits
}

// ForwardAux returns the logits and the blocks' mean balance loss, which
// training adds to the task's loss times Cfg.Alpha.
func (d *DAPTX) ForwardAux(tp *nn.Tape, in backbone.Input, r *rand.Rand) (logits, balance *nn.Tensor) {
	bb := d.base()
	x, patches := embed(tp, bb, d.TokSSF, in)
	var bal *nn.Tensor
	mk := tp.Mark() // inference frees each block's activations after it
	for i, b := range d.DBlocks {
		tp.PhaseN("block", i) // the phases of backbone.PointMAE.Forward
		var l *nn.Tensor
		x, l = b.forward(tp, x, &blockX{SMoA: d.SMoA, Index: i, Gamma: d.PGamma[i], Beta: d.PBeta[i]}, r)
		if bal == nil {
			bal = l
		} else {
			bal = nn.Add(tp, bal, l)
		}
		tp.ReleaseSince(mk, x, bal)
	}
	tp.Phase("head")
	balance = nn.Scale(tp, bal, 1/float32(len(d.DBlocks)))
	x = d.NormSSF.Forward(tp, bb.FinalNorm().Forward(tp, x))
	return bb.Classifier().Forward(tp, headFeatures(tp, x, d.Cfg.Head, patches), r), balance
}

// headFeatures concatenates the head's inputs from the final tokens x
// (B×T×C: cls, the prompts, then g patch tokens, the layout of
// backbone.Backbone with prompts after cls): cls, pooled prompts, pooled
// patches.
func headFeatures(tp *nn.Tape, x *nn.Tensor, h HeadTokens, g int) *nn.Tensor {
	b, t, c := x.Dim(0), x.Dim(1), x.Dim(2)
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
