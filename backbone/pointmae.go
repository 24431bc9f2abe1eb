// Package backbone holds the transformer backbones pcx fine-tunes. PointMAE
// is Point-MAE's classification model (Pang et al., ECCV 2022, the
// PointTransformer of models/Point_MAE.py): FPS + kNN grouping, a mini-PointNet
// patch embedding, a positional MLP on the group centres, a cls token, pre-LN
// transformer blocks, a final LayerNorm and an MLP head on [cls, max over
// tokens]. Parameter names are Point-MAE's state-dict keys, so its
// checkpoints load directly.
//
// Activations are channel-last: the encoder's Conv1d layers (kernel 1) act
// on (B·G·M)×channels rows; BatchNorm statistics are taken over all B·G·M
// points per channel, as PyTorch's BatchNorm1d over B·G×C×M.
package backbone

import (
	"fmt"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/layers"
	"github.com/pcx-dev/pcx/points"
	"github.com/pcx-dev/pcx/points/knn"
)

// Config sizes a PointMAE model.
type Config struct {
	TransDim  int // token width (Point-MAE: 384); also encoder_dims
	Depth     int // transformer blocks (12)
	Heads     int // attention heads (6)
	Classes   int // cls_dim
	NumGroup  int // G, centres per cloud (64 or 128)
	GroupSize int // M, points per group (32)
	NPoints   int // points per cloud fed to the model (1024, 2048, 8192)
	DropPath  float32
	// HeadDropout is the dropout of the classification head (0.5).
	HeadDropout float32
	// PosEveryBlock adds the positional embedding before every block, as
	// Point-MAE fine-tuning does; DAPT and DAPT-X add it once.
	PosEveryBlock bool
}

// PointMAEConfig returns Point-MAE's fine-tuning configuration for the
// given sizes (384 wide, 12 blocks, 6 heads, head dropout 0.5, position
// added before every block).
func PointMAEConfig(classes, groups, groupSize, points int, dropPath float32) Config {
	return Config{TransDim: 384, Depth: 12, Heads: 6, Classes: classes, NumGroup: groups, GroupSize: groupSize,
		NPoints: points, DropPath: dropPath, HeadDropout: 0.5, PosEveryBlock: true}
}

// Encoder is Point-MAE's mini-PointNet patch embedding.
type Encoder struct {
	Conv1, Conv2, Conv3, Conv4 *layers.Linear // first_conv.0, .3, second_conv.0, .3
	BN1, BN2                   *nn.BatchNorm  // first_conv.1, second_conv.1
}

// Head is the classification MLP cls_head_finetune.
type Head struct {
	FC0, FC4, FC8 *layers.Linear
	BN1, BN5      *nn.BatchNorm
	Dropout       float32
	// Features, when set, receives each forward's input (the pooled
	// features the head classifies: cls, prompts, patch max), e.g. for a
	// t-SNE of the learned representation.
	Features func(x *nn.Tensor)
}

// PointMAE is the classification model.
type PointMAE struct {
	Cfg       Config
	Encoder   *Encoder
	Pos0      *layers.Linear // pos_embed.0 (3→128)
	Pos2      *layers.Linear // pos_embed.2 (128→C)
	ClsToken  *nn.Param
	ClsPos    *nn.Param
	Blocks    []*layers.Block
	Norm      *layers.LayerNorm
	Head      *Head
	HeadInput int // width of the head's input (2C for Point-MAE)
}

// NewPointMAE builds the model with PyTorch-style random initialisation from
// r (the weights are normally replaced by a checkpoint).
func NewPointMAE(cfg Config, r *rand.Rand) (*PointMAE, error) {
	if cfg.TransDim <= 0 || cfg.Depth <= 0 || cfg.Heads <= 0 || cfg.TransDim%cfg.Heads != 0 {
		return nil, fmt.Errorf("backbone: %d-wide tokens cannot split into %d heads", cfg.TransDim, cfg.Heads)
	}
	if cfg.Classes <= 0 || cfg.NumGroup <= 0 || cfg.GroupSize <= 0 {
		return nil, fmt.Errorf("backbone: classes, groups and group size must be positive (%d, %d, %d)", cfg.Classes, cfg.NumGroup, cfg.GroupSize)
	}
	c := cfg.TransDim
	m := &PointMAE{Cfg: cfg, HeadInput: 2 * c}
	m.Encoder = &Encoder{
		Conv1: conv1d("encoder.first_conv.0", 3, 128, r),
		BN1:   nn.NewBatchNorm("encoder.first_conv.1", 128),
		Conv2: conv1d("encoder.first_conv.3", 128, 256, r),
		Conv3: conv1d("encoder.second_conv.0", 512, 512, r),
		BN2:   nn.NewBatchNorm("encoder.second_conv.1", 512),
		Conv4: conv1d("encoder.second_conv.3", 512, c, r),
	}
	m.Pos0 = layers.NewLinear("pos_embed.0", 3, 128, true, r)
	m.Pos2 = layers.NewLinear("pos_embed.2", 128, c, true, r)
	m.ClsToken = nn.NewParam("cls_token", 1, 1, c)
	for i := range m.ClsToken.Data {
		m.ClsToken.Data[i] = float32(0.02 * r.NormFloat64())
	}
	m.ClsPos = nn.NewParam("cls_pos", 1, 1, c)
	for i := range m.ClsPos.Data {
		m.ClsPos.Data[i] = float32(0.02 * r.NormFloat64())
	}
	for i := 0; i < cfg.Depth; i++ {
		dp := float32(0)
		if cfg.Depth > 1 {
			dp = cfg.DropPath * float32(i) / float32(cfg.Depth-1) // linspace(0, rate, depth)
		}
		m.Blocks = append(m.Blocks, layers.NewBlock(fmt.Sprintf("blocks.blocks.%d", i),
			layers.BlockConfig{Dim: c, Heads: cfg.Heads, Hidden: 4 * c, Eps: 1e-5, DropPath: dp}, r))
	}
	m.Norm = layers.NewLayerNorm("norm", c, 1e-5)
	m.ReplaceHead(m.HeadInput, r)
	return m, nil
}

// conv1d returns a point-wise Conv1d (kernel 1) as the Linear it computes;
// its weight is saved in PyTorch's out×in×1 shape.
func conv1d(prefix string, in, out int, r *rand.Rand) *layers.Linear {
	l := layers.NewLinear(prefix, in, out, true, r)
	l.Weight.StateShape = []int{out, in, 1}
	return l
}

// NewHead returns Point-MAE's classification head: Linear(in→256), BN, ReLU,
// dropout, Linear(256→256), BN, ReLU, dropout, Linear(256→classes).
func NewHead(prefix string, in, classes int, dropout float32, r *rand.Rand) *Head {
	return &Head{
		FC0: layers.NewLinear(prefix+".0", in, 256, true, r), BN1: nn.NewBatchNorm(prefix+".1", 256),
		FC4: layers.NewLinear(prefix+".4", 256, 256, true, r), BN5: nn.NewBatchNorm(prefix+".5", 256),
		FC8: layers.NewLinear(prefix+".8", 256, classes, true, r), Dropout: dropout,
	}
}

// Params lists the head's parameters and buffers.
func (h *Head) Params() nn.Params {
	ps := append(nn.Params{}, h.FC0.Params()...)
	ps = append(ps, h.BN1.Params()...)
	ps = append(ps, h.FC4.Params()...)
	ps = append(ps, h.BN5.Params()...)
	return append(ps, h.FC8.Params()...)
}

// Forward maps B×in features to B×classes logits.
func (h *Head) Forward(tp *nn.Tape, x *nn.Tensor, r *rand.Rand) *nn.Tensor {
	if h.Features != nil {
		h.Features(x)
	}
	x = nn.Dropout(tp, nn.ReLU(tp, h.BN1.Forward(tp, h.FC0.Forward(tp, x))), h.Dropout, r)
	x = nn.Dropout(tp, nn.ReLU(tp, h.BN5.Forward(tp, h.FC4.Forward(tp, x))), h.Dropout, r)
	return h.FC8.Forward(tp, x)
}

// Params lists the encoder's parameters and buffers in state-dict order.
func (e *Encoder) Params() nn.Params {
	ps := append(nn.Params{}, e.Conv1.Params()...)
	ps = append(ps, e.BN1.Params()...)
	ps = append(ps, e.Conv2.Params()...)
	ps = append(ps, e.Conv3.Params()...)
	ps = append(ps, e.BN2.Params()...)
	return append(ps, e.Conv4.Params()...)
}

// Forward embeds groups: neighbourhoods is (B·G)×M×3 (relative to their
// centres); the result is (B·G)×C.
func (e *Encoder) Forward(tp *nn.Tape, nb *nn.Tensor, groups, m int) *nn.Tensor {
	if !tp.Records() && nb.Device() == nil && e.Conv1.Weight.Device() == nil {
		return e.forwardLean(tp, nb, groups, m)
	}
	// BatchNorm and ReLU run as one operation, the global feature is
	// concatenated without a repeated copy, and the outputs of the second
	// and the last convolution, which no backward function reads, go back
	// to the tape's pool as soon as they are consumed, for the gradients of
	// backward to reuse: the values and gradients are those of Point-MAE's
	// Sequential layers.
	// On a tape that records nothing (inference on a device) every
	// intermediate goes back as soon as it is consumed.
	consumed := func(ts ...*nn.Tensor) {
		if !tp.Records() {
			tp.Discard(ts...)
		}
	}
	c1 := e.Conv1.Forward(tp, nb)
	h := e.BN1.ForwardReLU(tp, c1)
	consumed(c1)
	f := e.Conv2.Forward(tp, h) // (B·G)×M×256
	consumed(h)
	global := nn.MaxMiddle(tp, f, groups, m, 256) // (B·G)×256
	cat := nn.ConcatRepeated(tp, global, f, m)    // [global, local]
	tp.Discard(f)
	consumed(global)
	c3 := e.Conv3.Forward(tp, cat)
	consumed(cat)
	h = e.BN2.ForwardReLU(tp, c3)
	consumed(c3)
	f = e.Conv4.Forward(tp, h)
	consumed(h)
	out := nn.MaxMiddle(tp, f, groups, m, e.Conv4.Weight.Dim(0))
	tp.Discard(f)
	return out
}

// encoderChunk is the number of groups whose normalised activations the
// lean forward computes at once.
const encoderChunk = 512

// forwardLean is Forward on the host for a tape that records nothing (a
// frozen encoder, inference), with the same values and running statistics
// and about half the memory. Only what a BatchNorm's statistics need is
// whole: the first convolution's output, the second's (for the group
// maximum) and the third's. Each BatchNorm, its ReLU and the convolution
// after it run over chunks of encoderChunk groups (a product's rows depend
// on their own input rows only), the last with its group maximum; the third
// convolution takes the global feature's product once per group
// (nn.LinearConcatRepeated).
func (e *Encoder) forwardLean(tp *nn.Tape, nb *nn.Tensor, groups, m int) *nn.Tensor {
	chunk := encoderChunk * m
	c1 := e.Conv1.Forward(tp, nb)
	f := e.BN1.ReLULinear(tp, c1, e.Conv2.Weight, e.Conv2.Bias, chunk, nil) // (B·G)×M×256
	tp.Discard(c1)
	global := nn.MaxMiddle(tp, f, groups, m, 256) // (B·G)×256
	c3 := nn.LinearConcatRepeated(tp, global, f, m, e.Conv3.Weight, e.Conv3.Bias)
	tp.Discard(f, global)
	c := e.Conv4.Weight.Dim(0)
	out := nn.New(groups, c)
	e.BN2.ReLULinear(tp, c3, e.Conv4.Weight, e.Conv4.Bias, chunk, func(y *nn.Tensor, row0 int) {
		n := y.Len() / c / m // groups in y (rows of any shape)
		mx := nn.MaxMiddle(tp, y, n, m, c)
		copy(out.Data[row0/m*c:], mx.Host())
		tp.Discard(mx)
	})
	tp.Discard(c3)
	return out
}

// EmbedParams lists the embedding's parameters and buffers (what Tokens
// uses) in state-dict order: cls_token, cls_pos, the patch encoder, the
// positional MLP. Params starts with them, and so does every method built
// on the backbone.
func (m *PointMAE) EmbedParams() nn.Params {
	ps := append(nn.Params{m.ClsToken, m.ClsPos}, m.Encoder.Params()...)
	return append(append(ps, m.Pos0.Params()...), m.Pos2.Params()...)
}

// Params lists every parameter and buffer in Point-MAE's state-dict order:
// the embedding's, the blocks', the final norm's, the head's.
func (m *PointMAE) Params() nn.Params {
	ps := m.EmbedParams()
	for _, b := range m.Blocks {
		ps = append(ps, b.Params()...)
	}
	ps = append(ps, m.Norm.Params()...)
	return append(ps, m.Head.Params()...)
}

// Groups is the input of the network proper: B clouds' centres (B×G×3) and
// neighbourhoods relative to them (B×G×M×3).
type Groups = points.Groups

// Group runs Point-MAE's Group (pointnet2 FPS, then kNN) on b clouds of n
// points (xyz is b×n×3).
func (m *PointMAE) Group(xyz []float32, b, n int) (*Groups, error) {
	return points.Group(xyz, b, n, m.Cfg.NumGroup, m.Cfg.GroupSize, knn.Options{})
}

// GroupAt gathers groups from given centre and neighbour indices: see
// points.GroupAt.
func GroupAt(xyz []float32, b, n int, centreIdx, nbIdx []int32, g, k int) *Groups {
	return points.GroupAt(xyz, b, n, centreIdx, nbIdx, g, k)
}

// Tokens embeds groups into the token sequence [cls, patches] (B×(G+1)×C)
// and its positional embedding [cls_pos, pos(centres)].
func (m *PointMAE) Tokens(tp *nn.Tape, g *Groups) (x, pos *nn.Tensor) {
	c := m.Cfg.TransDim
	nb, centres := g.DevNeighbourhoods, g.DevCentres
	if nb == nil {
		nb = nn.FromData(g.Neighbourhoods, g.B*g.G, g.M, 3)
	}
	if centres == nil {
		centres = nn.FromData(g.Centres, g.B, g.G, 3)
	}
	var tok *nn.Tensor
	tp.Phase("encoder")
	if m.Encoder.Params().Trainable() == nil {
		// A frozen encoder needs no backward: run it on its own scope and
		// free its large per-point activations before the blocks run.
		sc := tp.Scope()
		tok = nn.Copy(tp, m.Encoder.Forward(sc, nb, g.B*g.G, g.M)).Reshape(g.B, g.G, c)
		sc.Release()
	} else {
		tok = m.Encoder.Forward(tp, nb, g.B*g.G, g.M).Reshape(g.B, g.G, c)
	}
	tp.Phase("embed")
	p := m.Pos2.Forward(tp, nn.GELU(tp, m.Pos0.Forward(tp, centres), false))
	cls := nn.RepeatRows(tp, m.ClsToken.T(), g.B).Reshape(g.B, 1, c)
	clsPos := nn.RepeatRows(tp, m.ClsPos.T(), g.B).Reshape(g.B, 1, c)
	return nn.ConcatTokens(tp, cls, tok), nn.ConcatTokens(tp, clsPos, p)
}

// Forward returns the logits (B×classes) of grouped clouds (in is *Groups).
// r drives dropout and drop-path in training.
//
// Phases (nn.Tape.Phase, for a profile of the step): Tokens marks "encoder"
// (the mini-PointNet) and "embed" (positions, cls); every forward over the
// blocks, this one and the methods' in adapters, marks "block i" before
// block i and "head" before the final norm (the norm, the pooling, the head
// and whatever loss the caller computes next).
func (m *PointMAE) Forward(tp *nn.Tape, in Input, r *rand.Rand) *nn.Tensor {
	x, pos := m.Embed(tp, in)
	if !m.Cfg.PosEveryBlock {
		x = nn.Add(tp, x, pos)
	}
	mk := tp.Mark() // inference frees each block's activations after it
	for i, b := range m.Blocks {
		tp.PhaseN("block", i)
		if m.Cfg.PosEveryBlock {
			x = nn.Add(tp, x, pos)
		}
		x = b.Forward(tp, x, r, nil)
		tp.ReleaseSince(mk, x)
	}
	tp.Phase("head")
	return m.Head.Forward(tp, m.Features(tp, m.Norm.Forward(tp, x)), r)
}

// Features pools the final norm's tokens (B×(1+G)×C: cls, then the
// patches) into what Point-MAE's head reads: cls and the max over the
// patches (B×2C).
func (m *PointMAE) Features(tp *nn.Tape, x *nn.Tensor) *nn.Tensor {
	b, t, c := x.Dim(0), x.Dim(1), x.Dim(2)
	cls := nn.SliceTokens(tp, x, 0, 1).Reshape(b, c)
	mx := nn.MaxMiddle(tp, nn.SliceTokens(tp, x, 1, t), b, t-1, c)
	return nn.ConcatLast(tp, cls, mx)
}
