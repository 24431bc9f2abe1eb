// Package enginebench is the engine's reference workload: one frozen pre-LN
// transformer block with a trainable bottleneck adapter parallel to its MLP,
// mean-pooling, a linear classifier and cross-entropy, run forward and
// backward including the gradient with respect to the block input. `pcx
// bench engine` times it; scripts/bench_engine.py runs the same model in
// PyTorch in the same run.
package enginebench

import (
	"fmt"

	"github.com/pcx-dev/pcx/internal/rng"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/layers"
)

// Config sizes the workload.
type Config struct {
	Batch, Tokens, Dim, Heads, Hidden, Adapter, Classes int
	// Blocks is the number of frozen blocks, each with its own adapter
	// (0 means 1).
	Blocks int
}

func (c Config) blocks() int { return max(1, c.Blocks) }

// Default is the workload of the engine's design measurements: B=32, T=65,
// D=384, 6 heads, MLP 1536, a 16-wide adapter, 40 classes.
func Default() Config {
	return Config{Batch: 32, Tokens: 65, Dim: 384, Heads: 6, Hidden: 1536, Adapter: 16, Classes: 40}
}

// FLOPs counts the multiply-adds (×2) of one forward and backward pass:
// frozen weights need only the data gradient, the adapter and head also
// their weight gradients, attention's backward has twice its forward's
// products.
func (c Config) FLOPs() float64 {
	m := float64(c.Batch * c.Tokens)
	d, h, a := float64(c.Dim), float64(c.Hidden), float64(c.Adapter)
	linear := 2 * m * d * (3*d + d + 2*h)
	attn := 2 * 2 * float64(c.Batch*c.Tokens*c.Tokens) * d
	adapter := 2 * m * d * a * 2
	head := 2 * float64(c.Batch) * d * float64(c.Classes)
	nb := float64(c.blocks())
	fwd := nb*(linear+attn+adapter) + head
	bwd := nb*(linear+2*attn+2*adapter) + 2*head
	return fwd + bwd
}

// Model is the workload's model.
type Model struct {
	Cfg      Config
	Blocks   []*layers.Block
	Adapters []*layers.Adapter
	Head     *layers.Linear
	Params   nn.Params
	pool     *nn.Pool
}

// New builds the model with seeded random weights; the blocks are frozen.
func New(cfg Config, seed uint64) *Model {
	r := rng.New(seed)
	m := &Model{Cfg: cfg, pool: nn.NewPool()}
	for i := 0; i < cfg.blocks(); i++ {
		b := layers.NewBlock(fmt.Sprintf("blocks.%d", i), layers.BlockConfig{Dim: cfg.Dim, Heads: cfg.Heads, Hidden: cfg.Hidden, Eps: 1e-5}, r)
		b.Params().Freeze()
		a := layers.NewAdapter(fmt.Sprintf("adapters.%d", i), cfg.Dim, cfg.Adapter, r)
		// A zero up-projection would make the adapter's weight gradients
		// degenerate; give it small weights as after some training.
		for j := range a.Up.Weight.Data {
			a.Up.Weight.Data[j] = float32(0.01 * r.NormFloat64())
		}
		m.Blocks, m.Adapters = append(m.Blocks, b), append(m.Adapters, a)
		m.Params = append(append(m.Params, b.Params()...), a.Params()...)
	}
	m.Head = layers.NewLinear("head", cfg.Dim, cfg.Classes, true, r)
	m.Params = append(m.Params, m.Head.Params()...)
	return m
}

// Input returns a seeded random batch and labels.
func (m *Model) Input(seed uint64) (*nn.Tensor, []int) {
	r := rng.New(seed)
	c := m.Cfg
	x := nn.New(c.Batch, c.Tokens, c.Dim)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	labels := make([]int, c.Batch)
	for i := range labels {
		labels[i] = r.IntN(c.Classes)
	}
	return x, labels
}

// Step runs forward and backward once and returns the loss. Gradients are
// zeroed first; x gets its gradient too.
func (m *Model) Step(x *nn.Tensor, labels []int) float32 {
	m.Params.ZeroGrad()
	x.ZeroGrad()
	x.SetRequiresGrad(true)
	tp := nn.NewTapePool(true, m.pool)
	defer tp.Release()
	h := x
	for i, b := range m.Blocks {
		a := m.Adapters[i]
		h = b.Forward(tp, h, nil, func(u *nn.Tensor) *nn.Tensor { return a.Forward(tp, u) })
	}
	logits := m.Head.Forward(tp, nn.MeanTokens(tp, h))
	loss := nn.CrossEntropy(tp, logits, labels, 0)
	tp.Backward(loss)
	return loss.Data[0]
}
