package backbone

import (
	"fmt"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/layers"
)

// Input is what a backbone embeds, opaque to the fine-tuning methods:
// Point-MAE takes *Groups; an image backbone would take its images.
type Input any

// Classifier is a backbone's classification head: it maps the pooled
// features (B×in) to logits (B×classes).
type Classifier interface {
	// Params lists the head's parameters and buffers in state-dict order.
	Params() nn.Params
	Forward(tp *nn.Tape, x *nn.Tensor, r *rand.Rand) *nn.Tensor
}

// Backbone is a transformer backbone seen as its parts: a token embedding
// with a cls token at index 0, pre-LN blocks, a final norm, pooled features
// and a head. Fine-tuning methods run their own loop over Layers, hooking
// into each block (SSF, adapters, SMoA, prompts), and depend on nothing else
// of the model.
//
// Two choices the methods make stay tied to Point-MAE's token layout: a
// method's prompts are inserted right after cls, before the patch tokens,
// and a method's head input (adapters.HeadTokens) pools cls, the prompts and
// the patch tokens by position, the patch tokens being the last ones.
type Backbone interface {
	// Width is the token width C.
	Width() int
	// Embed returns the token sequence [cls, patches] (B×(1+N)×C) of in and
	// its positional embedding (same shape), not yet added.
	Embed(tp *nn.Tape, in Input) (x, pos *nn.Tensor)
	// EmbedParams lists the embedding's parameters and buffers in
	// state-dict order; every model's Params starts with them.
	EmbedParams() nn.Params
	// ClsParams lists the cls token and its position (what the methods
	// tune of the embedding).
	ClsParams() nn.Params
	// Layers are the transformer blocks, in order.
	Layers() []*layers.Block
	// FinalNorm is the LayerNorm after the last block.
	FinalNorm() *layers.LayerNorm
	// Features pools the final norm's tokens into the backbone's own head
	// input.
	Features(tp *nn.Tape, x *nn.Tensor) *nn.Tensor
	// Classifier is the head.
	Classifier() Classifier
	// ReplaceHead draws a new head (same names, weights from r) reading
	// in-wide features, for a method whose head reads other features.
	ReplaceHead(in int, r *rand.Rand)
	// Forward is the backbone's own classifier: the logits of in.
	Forward(tp *nn.Tape, in Input, r *rand.Rand) *nn.Tensor
	// Params lists every parameter and buffer in state-dict order.
	Params() nn.Params
}

var _ Backbone = (*PointMAE)(nil)

// Width is the token width.
func (m *PointMAE) Width() int { return m.Cfg.TransDim }

// Embed embeds *Groups: see Tokens.
func (m *PointMAE) Embed(tp *nn.Tape, in Input) (x, pos *nn.Tensor) {
	return m.Tokens(tp, m.groups(in))
}

// groups returns in as Point-MAE's input; any other input is a programming
// error.
func (m *PointMAE) groups(in Input) *Groups {
	g, ok := in.(*Groups)
	if !ok {
		panic(fmt.Sprintf("backbone: Point-MAE embeds *Groups, not %T", in))
	}
	return g
}

// ClsParams is cls_token and cls_pos.
func (m *PointMAE) ClsParams() nn.Params { return nn.Params{m.ClsToken, m.ClsPos} }

// Layers are the blocks.
func (m *PointMAE) Layers() []*layers.Block { return m.Blocks }

// FinalNorm is the norm after the blocks.
func (m *PointMAE) FinalNorm() *layers.LayerNorm { return m.Norm }

// Classifier is cls_head_finetune.
func (m *PointMAE) Classifier() Classifier { return m.Head }

// ReplaceHead draws a new cls_head_finetune reading in-wide features.
func (m *PointMAE) ReplaceHead(in int, r *rand.Rand) {
	m.HeadInput = in
	m.Head = NewHead("cls_head_finetune", in, m.Cfg.Classes, m.Cfg.HeadDropout, r)
}
