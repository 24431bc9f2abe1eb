package adapters

import (
	"fmt"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/layers"
)

// The generic adapters of the ViT path, independent of width. Each has a
// plain form (one adapter per block) and an -X form whose adapter is a call
// of an SMoA shared by the blocks.

// SerialAdapter is the sequential adapter (Houlsby-style, NOAH's
// "Adapter"): x + up(GELU(down(x))), applied after a sub-layer.
type SerialAdapter struct{ *layers.Adapter }

// NewSerialAdapter returns a serial adapter named prefix.down/up; its up
// projection starts at zero, so it starts as the identity.
func NewSerialAdapter(prefix string, dim, width int, r *rand.Rand) *SerialAdapter {
	return &SerialAdapter{layers.NewAdapter(prefix, dim, width, r)}
}

// Forward returns x + adapter(x).
func (a *SerialAdapter) Forward(tp *nn.Tape, x *nn.Tensor) *nn.Tensor {
	return nn.Add(tp, x, a.Adapter.Forward(tp, x))
}

// AdaptFormer is the parallel, scaled adapter of AdaptFormer: s·up(dropout(
// ReLU(down(x)))), added beside the MLP and fed the residual stream after
// attention (no LayerNorm). Init "lora": down Kaiming-uniform(a=√5), up and
// biases zero.
type AdaptFormer struct {
	Down, Up *layers.Linear
	Scale    float32 // 0.1 in AdaptFormer
	Dropout  float32 // 0.1 in AdaptFormer
}

// NewAdaptFormer returns an AdaptFormer adapter named prefix.down_proj and
// prefix.up_proj (AdaptFormer's names).
func NewAdaptFormer(prefix string, dim, width int, scale, dropout float32, r *rand.Rand) *AdaptFormer {
	a := &AdaptFormer{Down: layers.NewLinear(prefix+".down_proj", dim, width, true, r),
		Up: layers.NewLinear(prefix+".up_proj", width, dim, true, r), Scale: scale, Dropout: dropout}
	clear(a.Down.Bias.Data)
	clear(a.Up.Weight.Data)
	clear(a.Up.Bias.Data)
	return a
}

// Params lists the adapter's parameters.
func (a *AdaptFormer) Params() nn.Params { return append(a.Down.Params(), a.Up.Params()...) }

// Forward returns the scaled branch (the caller adds it beside the MLP).
func (a *AdaptFormer) Forward(tp *nn.Tape, x *nn.Tensor, r *rand.Rand) *nn.Tensor {
	h := nn.Dropout(tp, nn.ReLU(tp, a.Down.Forward(tp, x)), a.Dropout, r)
	return nn.Scale(tp, a.Up.Forward(tp, h), a.Scale)
}

// SerialAdapterX is the serial adapter's -X form: x + SMoA(x).
type SerialAdapterX struct{ SMoA *SMoA }

// Forward returns x + SMoA(x) for block and the block's balance loss.
func (a *SerialAdapterX) Forward(tp *nn.Tape, x *nn.Tensor, block int) (*nn.Tensor, *nn.Tensor) {
	y, l := a.SMoA.Forward(tp, x, block)
	return nn.Add(tp, x, y), l
}

// AdaptFormerX is AdaptFormer's -X form: s·SMoA(x), added beside the MLP.
type AdaptFormerX struct {
	SMoA  *SMoA
	Scale float32
}

// Forward returns the scaled SMoA branch for block and the block's balance
// loss.
func (a *AdaptFormerX) Forward(tp *nn.Tape, x *nn.Tensor, block int) (*nn.Tensor, *nn.Tensor) {
	y, l := a.SMoA.Forward(tp, x, block)
	return nn.Scale(tp, y, a.Scale), l
}

// UsePerBlockRouters gives every block its own reduction (router)
// projection, named prefix.reduction.<block>.weight, as the paper's figure
// draws it; the experts and their embeddings stay shared. By default one
// reduction serves all blocks (§3.2's text).
func (s *SMoA) UsePerBlockRouters(prefix string, blocks int, r *rand.Rand) {
	rank, ds := s.Reduction.Dim(0), s.Reduction.Dim(1)
	s.Routers = nil
	for i := 0; i < blocks; i++ {
		s.Routers = append(s.Routers, layers.NewLinear(fmt.Sprintf("%s.reduction.%d", prefix, i), ds, rank, false, r).Weight)
	}
}
