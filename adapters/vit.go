package adapters

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/layers"
	"github.com/pcx-dev/pcx/presets"
)

// The ViT methods. Each is a frozen (or, for full, trained) timm ViT with
// its pieces under its reference code's state-dict names:
//
//   - adapter: NOAH's serial adapter (model/module/adapter_super.py), after
//     the FFN of every block: x += h + ln2(QuickGELU(ln1(h))), h =
//     DropPath(MLP(LN2 x)); blocks.i.adapter.ln1/ln2, Xavier-uniform
//     weights and N(0, 1e-6) biases.
//   - adaptformer: AdaptFormer's parallel adapter, fed the residual stream
//     after attention: x += DropPath(MLP(LN2 x)) + 0.1·up(dropout(ReLU(down
//     x))); blocks.i.adaptmlp.down_proj/up_proj, "lora" initialisation.
//   - adapter-x, adaptformer-x: Adapter-X on each (§3 of the paper): the
//     block's adapter becomes a call of one SMoA shared by every block
//     (3 sub-token heads, 4 experts, expert rank = embedding dimension =
//     the adapter's rank; each expert the base adapter's body on C/3
//     channels: QuickGELU and NOAH's initialisation for adapter-x, ReLU and
//     "lora" initialisation for adaptformer-x, without dropout), plus the
//     block-specific design: each block's own norm2 is tuned, and its
//     Prompt Generator scales and shifts the token mean of the SMoA branch
//     (as added to the stream) into a prompt inserted after cls, so the
//     sequence grows by one token per block. The head reads the cls token.
//     The loss adds α = 0.01 times the blocks' mean balance loss.
//
// Table 3a's ablations are options of the -X methods: SMoAOnly (no Prompt
// Generator, norm2 frozen) and NoSharing (one SMoA per block).
type ViTNet struct {
	Cfg ViTMethodConfig
	*backbone.ViT
	// Serial holds adapter's per-block adapters, Parallel adaptformer's.
	Serial   []*SerialAdapter
	Parallel []*AdaptFormer
	// SMoA holds the -X methods' shared SMoA (one) or, with NoSharing,
	// one per block.
	SMoA          []*SMoA
	PGamma, PBeta []*nn.Param // blocks.i.pg_gamma, pg_beta
}

// ViTMethodConfig sizes a ViT method.
type ViTMethodConfig struct {
	backbone.ViTConfig
	Method string
	// Rank is the adapters' bottleneck (NOAH: 8; AdaptFormer and the -X
	// forms: 64).
	Rank int
	// Scale is AdaptFormer's fixed branch scale (0.1); Dropout its adapter
	// dropout (0.1).
	Scale, Dropout     float32
	SMoAHeads, Experts int
	Top1               bool
	Alpha              float32
	// SMoAOnly drops the block-specific design (no Prompt Generator,
	// norm2 frozen): Table 3a's "Only Sharing MoA".
	SMoAOnly bool
	// NoSharing gives each block its own SMoA: Table 3a's "Only
	// Block-specific".
	NoSharing bool
}

// ViTMethodPreset returns a ViT method's settings from the registry for a
// ViT configuration.
func ViTMethodPreset(method string, vit backbone.ViTConfig) (ViTMethodConfig, error) {
	m, err := presets.LookupImageMethod(method)
	if err != nil {
		return ViTMethodConfig{}, err
	}
	c := ViTMethodConfig{ViTConfig: vit, Method: method, Rank: m.Rank, Scale: m.Scale, Dropout: m.Dropout}
	if x := m.SMoA; x != nil {
		c.SMoAHeads, c.Experts, c.Top1, c.Alpha = x.Heads, x.Experts, x.Top1, x.Alpha
		c.Rank = x.Rank
	}
	return c, nil
}

// serial reports whether the method's adapter sits after the FFN (NOAH's)
// rather than beside it (AdaptFormer's).
func (c ViTMethodConfig) serial() bool { return c.Method == "adapter" || c.Method == "adapter-x" }

// x reports whether the method is an Adapter-X form.
func (c ViTMethodConfig) x() bool { return c.Method == "adapter-x" || c.Method == "adaptformer-x" }

// NewViTNet builds a ViT method with weights drawn from r (backbone first,
// then the method's pieces) and sets its trainable parameters.
func NewViTNet(cfg ViTMethodConfig, r *rand.Rand) (*ViTNet, error) {
	if _, err := presets.LookupImageMethod(cfg.Method); err != nil {
		return nil, err
	}
	vit, err := backbone.NewViT(cfg.ViTConfig, r)
	if err != nil {
		return nil, err
	}
	n := &ViTNet{Cfg: cfg, ViT: vit}
	c := cfg.Width
	switch cfg.Method {
	case "adapter", "adaptformer":
		if cfg.Rank <= 0 {
			return nil, fmt.Errorf("adapters: %s needs a positive rank, got %d", cfg.Method, cfg.Rank)
		}
		for i := range vit.Blocks {
			pre := fmt.Sprintf("blocks.%d.", i)
			if cfg.serial() {
				n.Serial = append(n.Serial, &SerialAdapter{noahAdapter(pre+"adapter", "ln1", "ln2", c, cfg.Rank, r)})
			} else {
				n.Parallel = append(n.Parallel, NewAdaptFormer(pre+"adaptmlp", c, cfg.Rank, cfg.Scale, cfg.Dropout, r))
			}
		}
	case "adapter-x", "adaptformer-x":
		expert := noahExpert
		if !cfg.serial() {
			expert = loraExpert
		}
		count, name := 1, func(int) string { return "smoa" }
		if cfg.NoSharing {
			count, name = len(vit.Blocks), func(i int) string { return fmt.Sprintf("blocks.%d.smoa", i) }
		}
		for i := 0; i < count; i++ {
			s, err := NewSMoAWith(name(i), c, cfg.SMoAHeads, cfg.Experts, cfg.Rank, expert, r)
			if err != nil {
				return nil, err
			}
			s.Top1 = cfg.Top1
			n.SMoA = append(n.SMoA, s)
		}
		if !cfg.SMoAOnly {
			for i := range vit.Blocks {
				g := nn.NewParam(fmt.Sprintf("blocks.%d.pg_gamma", i), c)
				b := nn.NewParam(fmt.Sprintf("blocks.%d.pg_beta", i), c)
				for k := 0; k < c; k++ {
					g.Data[k] = float32(1 + 0.02*r.NormFloat64())
					b.Data[k] = float32(0.02 * r.NormFloat64())
				}
				n.PGamma, n.PBeta = append(n.PGamma, g), append(n.PBeta, b)
			}
		}
	}
	setTrainable(n)
	return n, nil
}

// noahAdapter is NOAH's adapter body dim → rank → dim named prefix.down
// and prefix.up: QuickGELU, Xavier-uniform weights, N(0, 1e-6) biases.
func noahAdapter(prefix, down, up string, dim, rank int, r *rand.Rand) *layers.Adapter {
	lin := func(name string, in, out int) *layers.Linear {
		l := &layers.Linear{Weight: nn.NewParam(prefix+"."+name+".weight", out, in), Bias: nn.NewParam(prefix+"."+name+".bias", out)}
		bound := math.Sqrt(6 / float64(in+out))
		for i := range l.Weight.Data {
			l.Weight.Data[i] = float32((2*r.Float64() - 1) * bound)
		}
		for i := range l.Bias.Data {
			l.Bias.Data[i] = float32(1e-6 * r.NormFloat64())
		}
		return l
	}
	return &layers.Adapter{Down: lin(down, dim, rank), Up: lin(up, rank, dim), Act: quickGELU}
}

// quickGELU is NOAH's activation.
func quickGELU(tp *nn.Tape, x *nn.Tensor) *nn.Tensor { return nn.QuickGELU(tp, x) }

// noahExpert is adapter-x's expert: NOAH's adapter body, named
// prefix.down/up.
func noahExpert(prefix string, dim, rank int, r *rand.Rand) *layers.Adapter {
	return noahAdapter(prefix, "down", "up", dim, rank, r)
}

// loraExpert is adaptformer-x's expert: AdaptFormer's adapter body (ReLU,
// "lora" initialisation: down Kaiming-uniform(a=√5), up and biases zero),
// named prefix.down/up.
func loraExpert(prefix string, dim, rank int, r *rand.Rand) *layers.Adapter {
	a := &layers.Adapter{Down: layers.NewLinear(prefix+".down", dim, rank, true, r),
		Up: layers.NewLinear(prefix+".up", rank, dim, true, r), Act: nn.ReLU}
	clear(a.Down.Bias.Data)
	clear(a.Up.Weight.Data)
	clear(a.Up.Bias.Data)
	return a
}

// Trainable is the method's: every weight (full), the head (linear), or
// the adapters, SMoA, Prompt Generators and norm2 with the head.
func (n *ViTNet) Trainable() nn.Params {
	if n.Cfg.Method == "full" {
		return weights(n.Params())
	}
	var ps nn.Params
	for _, a := range n.Serial {
		ps = append(ps, a.Params()...)
	}
	for _, a := range n.Parallel {
		ps = append(ps, a.Params()...)
	}
	for _, s := range n.SMoA {
		ps = append(ps, s.Params()...)
	}
	if n.Cfg.x() && !n.Cfg.SMoAOnly {
		for i, b := range n.Blocks {
			ps = append(ps, b.Norm2.Params()...)
			ps = append(ps, n.PGamma[i], n.PBeta[i])
		}
	}
	return append(ps, n.Head.Params()...)
}

// Params lists every parameter in state-dict order: the embedding, each
// block with its adapter, the shared SMoA, the final norm, the head.
func (n *ViTNet) Params() nn.Params {
	ps := n.ViT.EmbedParams()
	for i, b := range n.Blocks {
		ps = append(ps, b.Params()...)
		if n.Serial != nil {
			ps = append(ps, n.Serial[i].Params()...)
		}
		if n.Parallel != nil {
			ps = append(ps, n.Parallel[i].Params()...)
		}
		if n.Cfg.NoSharing && n.SMoA != nil {
			ps = append(ps, n.SMoA[i].Params()...)
		}
		if n.PGamma != nil {
			ps = append(ps, n.PGamma[i], n.PBeta[i])
		}
	}
	if !n.Cfg.NoSharing && n.SMoA != nil {
		ps = append(ps, n.SMoA[0].Params()...)
	}
	ps = append(ps, n.Norm.Params()...)
	return append(ps, n.Head.Params()...)
}

// Forward returns the logits of *backbone.Images.
func (n *ViTNet) Forward(tp *nn.Tape, in backbone.Input, r *rand.Rand) *nn.Tensor {
	logits, _ := n.ForwardAux(tp, in, r)
	return logits
}

// ForwardAux returns the logits and, for the -X methods, the blocks' mean
// balance loss (nil otherwise).
func (n *ViTNet) ForwardAux(tp *nn.Tape, in backbone.Input, r *rand.Rand) (logits, balance *nn.Tensor) {
	x, pos := n.Embed(tp, in)
	x = nn.Add(tp, x, pos)
	mk := tp.Mark() // inference frees each block's activations after it
	for i, b := range n.Blocks {
		var l *nn.Tensor
		x, l = n.block(tp, i, b, x, r)
		if l != nil {
			if balance == nil {
				balance = l
			} else {
				balance = nn.Add(tp, balance, l)
			}
		}
		tp.ReleaseSince(mk, x, balance)
	}
	if balance != nil {
		balance = nn.Scale(tp, balance, 1/float32(len(n.Blocks)))
	}
	return n.Head.Forward(tp, n.Features(tp, n.Norm.Forward(tp, x)), r), balance
}

// smoaFor is block i's SMoA (called with the block's index, which its
// routing statistics record).
func (n *ViTNet) smoaFor(i int) (*SMoA, int) {
	if n.Cfg.NoSharing {
		return n.SMoA[i], i
	}
	return n.SMoA[0], i
}

// block runs block i with the method's pieces and returns its output and
// balance loss.
func (n *ViTNet) block(tp *nn.Tape, i int, b *layers.Block, x *nn.Tensor, r *rand.Rand) (*nn.Tensor, *nn.Tensor) {
	cfg := n.Cfg
	x = nn.Add(tp, x, nn.DropPath(tp, b.Attn.Forward(tp, b.Norm1.Forward(tp, x)), b.DropPath, r))
	h := nn.DropPath(tp, b.MLP.Forward(tp, b.Norm2.Forward(tp, x)), b.DropPath, r)
	var side, balance *nn.Tensor // side: the branch added to the stream beside h
	switch {
	case n.Serial != nil:
		side = n.Serial[i].Adapter.Forward(tp, h)
	case n.Parallel != nil:
		side = n.Parallel[i].Forward(tp, x, r)
	case n.SMoA != nil:
		s, idx := n.smoaFor(i)
		if cfg.serial() {
			side, balance = s.Forward(tp, h, idx)
		} else {
			side, balance = s.Forward(tp, x, idx)
			side = nn.Scale(tp, side, cfg.Scale)
		}
	}
	if side != nil {
		h = nn.Add(tp, h, side)
	}
	x = nn.Add(tp, x, h)
	if n.PGamma == nil {
		return x, balance
	}
	bs, t, c := x.Dim(0), x.Dim(1), x.Dim(2)
	p := nn.ScaleShift(tp, nn.MeanTokens(tp, side), n.PGamma[i], n.PBeta[i]).Reshape(bs, 1, c)
	return nn.ConcatTokens(tp, nn.SliceTokens(tp, x, 0, 1), p, nn.SliceTokens(tp, x, 1, t)), balance
}
