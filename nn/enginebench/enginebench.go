// Package enginebench is the engine's reference workload: one frozen pre-LN
// transformer block with a trainable bottleneck adapter parallel to its MLP,
// mean-pooling, a linear classifier and cross-entropy, run forward and
// backward including the gradient with respect to the block input. `pcx
// bench engine` times it; scripts/bench_engine.py runs the same model in
// PyTorch in the same run.
package enginebench

import (
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/layers"
	"github.com/pcx-dev/pcx/pointcloud"
)

// Config sizes the workload.
type Config struct {
	Batch, Tokens, Dim, Heads, Hidden, Adapter, Classes int
}

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
	fwd := linear + attn + adapter + head
	bwd := linear + 2*attn + 2*adapter + 2*head
	return fwd + bwd
}

// Model is the workload's model.
type Model struct {
	Cfg     Config
	Block   *layers.Block
	Adapter *layers.Adapter
	Head    *layers.Linear
	Params  nn.Params
}

// New builds the model with seeded random weights; the block is frozen.
func New(cfg Config, seed uint64) *Model {
	r := pointcloud.NewRand(seed)
	m := &Model{Cfg: cfg,
		Block: layers.NewBlock("block", layers.BlockConfig{Dim: cfg.Dim, Heads: cfg.Heads, Hidden: cfg.Hidden, Eps: 1e-5}, r),
		Head:  layers.NewLinear("head", cfg.Dim, cfg.Classes, true, r)}
	m.Adapter = layers.NewAdapter("adapter", cfg.Dim, cfg.Adapter, r)
	// A zero up-projection would make the adapter's weight gradients
	// degenerate; give it small weights as after some training.
	for i := range m.Adapter.Up.Weight.Data {
		m.Adapter.Up.Weight.Data[i] = float32(0.01 * r.NormFloat64())
	}
	m.Block.Params().Freeze()
	m.Params = append(append(append(nn.Params{}, m.Block.Params()...), m.Adapter.Params()...), m.Head.Params()...)
	return m
}

// Input returns a seeded random batch and labels.
func (m *Model) Input(seed uint64) (*nn.Tensor, []int) {
	r := pointcloud.NewRand(seed)
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
	tp := nn.NewTape(true)
	h := m.Block.Forward(tp, x, nil, func(u *nn.Tensor) *nn.Tensor { return m.Adapter.Forward(tp, u) })
	logits := m.Head.Forward(tp, nn.MeanTokens(tp, h))
	loss := nn.CrossEntropy(tp, logits, labels, 0)
	tp.Backward(loss)
	return loss.Data[0]
}
