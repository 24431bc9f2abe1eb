// Package layers composes pcx's engine operations into the modules that
// transformers are built from: the pre-LN transformer block of Point-MAE and
// ViT (timm's Block), its attention and MLP, and the bottleneck adapter.
// Parameter names follow the PyTorch modules, so state dicts map one to one.
package layers

import (
	"math"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/nn"
)

// Linear is a fully connected layer, weight out×in (PyTorch layout).
type Linear struct {
	Weight, Bias *nn.Param
}

// NewLinear returns a Linear named prefix.weight / prefix.bias, with
// PyTorch's default initialisation (Kaiming-uniform a=√5, i.e. U(±1/√in) for
// both weight and bias).
func NewLinear(prefix string, in, out int, bias bool, r *rand.Rand) *Linear {
	l := &Linear{Weight: nn.NewParam(prefix+".weight", out, in)}
	bound := 1 / math.Sqrt(float64(in))
	uniform(l.Weight.Data, bound, r)
	if bias {
		l.Bias = nn.NewParam(prefix+".bias", out)
		uniform(l.Bias.Data, bound, r)
	}
	return l
}

func uniform(v []float32, bound float64, r *rand.Rand) {
	for i := range v {
		v[i] = float32((2*r.Float64() - 1) * bound)
	}
}

// Forward applies the layer.
func (l *Linear) Forward(tp *nn.Tape, x *nn.Tensor) *nn.Tensor {
	return nn.Linear(tp, x, l.Weight, l.Bias)
}

// Frozen reports whether l's weight takes no gradient (Trainable false).
// Linear's backward then never reads the layer's input, which the caller
// may Discard as soon as the layer has run, unless something else reads it.
func (l *Linear) Frozen() bool { return !l.Weight.Trainable }

// Params lists weight then bias.
func (l *Linear) Params() nn.Params {
	if l.Bias == nil {
		return nn.Params{l.Weight}
	}
	return nn.Params{l.Weight, l.Bias}
}

// LayerNorm is an affine layer normalisation.
type LayerNorm struct {
	Weight, Bias *nn.Param
	Eps          float32
}

// NewLayerNorm returns a LayerNorm (weight 1, bias 0) named prefix.*.
func NewLayerNorm(prefix string, c int, eps float32) *LayerNorm {
	ln := &LayerNorm{Weight: nn.NewParam(prefix+".weight", c), Bias: nn.NewParam(prefix+".bias", c), Eps: eps}
	for i := range ln.Weight.Data {
		ln.Weight.Data[i] = 1
	}
	return ln
}

// Forward applies the normalisation.
func (ln *LayerNorm) Forward(tp *nn.Tape, x *nn.Tensor) *nn.Tensor {
	return nn.LayerNorm(tp, x, ln.Weight, ln.Bias, ln.Eps)
}

// Params lists weight then bias.
func (ln *LayerNorm) Params() nn.Params { return nn.Params{ln.Weight, ln.Bias} }

// Attention is timm's multi-head self-attention: fused qkv, heads, proj.
type Attention struct {
	QKV, Proj *Linear
	Heads     int
}

// Forward maps B×T×C to B×T×C.
func (a *Attention) Forward(tp *nn.Tape, x *nn.Tensor) *nn.Tensor {
	o := nn.Attention(tp, a.QKV.Forward(tp, x), a.Heads, 0)
	y := a.Proj.Forward(tp, o)
	if a.Proj.Frozen() { // attention's backward reads q, k, v, not o
		tp.Discard(o)
	}
	return y
}

// MLP is fc1 → GELU (exact) → fc2.
type MLP struct {
	FC1, FC2 *Linear
}

// Forward applies the MLP.
func (m *MLP) Forward(tp *nn.Tape, x *nn.Tensor) *nn.Tensor {
	g := nn.GELU(tp, m.FC1.Forward(tp, x), false)
	y := m.FC2.Forward(tp, g)
	if m.FC2.Frozen() { // GELU's backward reads its input, not g
		tp.Discard(g)
	}
	return y
}

// Block is the pre-LN transformer block:
// x += DropPath(Attn(LN1 x)); x += DropPath(MLP(LN2 x)).
type Block struct {
	Norm1, Norm2 *LayerNorm
	Attn         *Attention
	MLP          *MLP
	DropPath     float32
}

// BlockConfig sizes a Block.
type BlockConfig struct {
	Dim, Heads, Hidden int
	QKVBias            bool
	Eps                float32
	DropPath           float32
}

// NewBlock returns a Block whose parameters are named prefix.norm1.weight,
// prefix.attn.qkv.weight, prefix.mlp.fc1.weight, ... as in timm/Point-MAE.
func NewBlock(prefix string, cfg BlockConfig, r *rand.Rand) *Block {
	d := cfg.Dim
	return &Block{
		Norm1: NewLayerNorm(prefix+".norm1", d, cfg.Eps),
		Norm2: NewLayerNorm(prefix+".norm2", d, cfg.Eps),
		Attn: &Attention{QKV: NewLinear(prefix+".attn.qkv", d, 3*d, cfg.QKVBias, r),
			Proj: NewLinear(prefix+".attn.proj", d, d, true, r), Heads: cfg.Heads},
		MLP: &MLP{FC1: NewLinear(prefix+".mlp.fc1", d, cfg.Hidden, true, r),
			FC2: NewLinear(prefix+".mlp.fc2", cfg.Hidden, d, true, r)},
		DropPath: cfg.DropPath,
	}
}

// Params lists the block's parameters in state-dict order.
func (b *Block) Params() nn.Params {
	var ps nn.Params
	ps = append(ps, b.Norm1.Params()...)
	ps = append(ps, b.Attn.QKV.Params()...)
	ps = append(ps, b.Attn.Proj.Params()...)
	ps = append(ps, b.Norm2.Params()...)
	ps = append(ps, b.MLP.FC1.Params()...)
	ps = append(ps, b.MLP.FC2.Params()...)
	return ps
}

// Forward runs the block; side, when not nil, is added to the MLP branch
// (a parallel adapter fed the LN2 output, as DAPT and AdaptFormer do).
func (b *Block) Forward(tp *nn.Tape, x *nn.Tensor, r *rand.Rand, side func(u *nn.Tensor) *nn.Tensor) *nn.Tensor {
	// The branches' outputs (linear layers' outputs, their drop-path
	// copies, the MLP's before the side branch is added) are read by no
	// backward function once added: they go back to the tape's pool at
	// once, for the next outputs to reuse.
	n1 := b.Norm1.Forward(tp, x)
	a := b.Attn.Forward(tp, n1)
	if b.Attn.QKV.Frozen() { // LayerNorm's backward reads its input, not n1
		tp.Discard(n1)
	}
	d := nn.DropPath(tp, a, b.DropPath, r)
	x = nn.Add(tp, x, d)
	tp.Discard(a, d)
	u := b.Norm2.Forward(tp, x)
	m := b.MLP.Forward(tp, u)
	h := m
	if side != nil {
		h = nn.Add(tp, m, side(u))
	}
	d = nn.DropPath(tp, h, b.DropPath, r)
	out := nn.Add(tp, x, d)
	tp.Discard(m, h, d)
	return out
}

// Adapter is a bottleneck adapter: down → activation → up. NewAdapter
// initialises the up projection to zero, so that a new adapter starts as
// the identity branch.
type Adapter struct {
	Down, Up *Linear
	// Act is the activation; nil is the exact GELU.
	Act func(tp *nn.Tape, x *nn.Tensor) *nn.Tensor
}

// NewAdapter returns an adapter of the given width named prefix.down/up.
func NewAdapter(prefix string, dim, width int, r *rand.Rand) *Adapter {
	a := &Adapter{Down: NewLinear(prefix+".down", dim, width, true, r), Up: NewLinear(prefix+".up", width, dim, true, r)}
	clear(a.Up.Weight.Data)
	clear(a.Up.Bias.Data)
	return a
}

// Forward applies the adapter.
func (a *Adapter) Forward(tp *nn.Tape, x *nn.Tensor) *nn.Tensor {
	h := a.Down.Forward(tp, x)
	if a.Act != nil {
		h = a.Act(tp, h)
	} else {
		h = nn.GELU(tp, h, false)
	}
	return a.Up.Forward(tp, h)
}

// Params lists the adapter's parameters.
func (a *Adapter) Params() nn.Params { return append(a.Down.Params(), a.Up.Params()...) }
