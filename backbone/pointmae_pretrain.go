package backbone

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/nn/layers"
	"github.com/pcx-dev/pcx/nn/state"
)

// Mask types of Point-MAE's pre-training (transformer_config.mask_type).
const (
	// MaskRand masks int(ratio·G) groups of each cloud chosen uniformly at
	// random (MaskTransformer._mask_center_rand).
	MaskRand = "rand"
	// MaskBlock masks the int(ratio·G) groups whose centres lie nearest a
	// randomly chosen centre (MaskTransformer._mask_center_block).
	MaskBlock = "block"
)

// PretrainConfig sizes a PointMAEPretrain (Point-MAE's cfgs/pretrain.yaml,
// model and transformer_config).
type PretrainConfig struct {
	TransDim     int // trans_dim = encoder_dims (384)
	Depth        int // encoder blocks (12)
	Heads        int // encoder heads (6)
	DecoderDepth int // decoder blocks (4)
	DecoderHeads int // decoder heads (6)
	NumGroup     int // G, centres per cloud (64)
	GroupSize    int // M, points per group (32)
	NPoints      int // points per cloud (1024)
	// MaskRatio is the share of groups masked; each cloud masks
	// int(MaskRatio·G) of them, truncated as Python's int() does (0.6·64 →
	// 38).
	MaskRatio float64
	MaskType  string // MaskRand or MaskBlock
	// DropPath is the largest drop-path rate; the encoder's blocks take
	// linspace(0, DropPath, Depth) and the decoder's linspace(0, DropPath,
	// DecoderDepth), as Point_MAE does.
	DropPath float32
}

// PointMAEPretrainConfig returns Point-MAE's pre-training configuration
// (cfgs/pretrain.yaml): 384 wide, 12 encoder and 4 decoder blocks of 6
// heads, 64 groups of 32 points from 1024-point clouds, 60% of the groups
// masked at random, drop-path 0.1.
func PointMAEPretrainConfig() PretrainConfig {
	return PretrainConfig{TransDim: 384, Depth: 12, Heads: 6, DecoderDepth: 4, DecoderHeads: 6,
		NumGroup: 64, GroupSize: 32, NPoints: 1024, MaskRatio: 0.6, MaskType: MaskRand, DropPath: 0.1}
}

// NumMask is the number of groups each cloud masks: int(MaskRatio·G).
func (c PretrainConfig) NumMask() int { return int(c.MaskRatio * float64(c.NumGroup)) }

// PointMAEPretrain is Point-MAE's masked-autoencoder pre-training model
// (Point_MAE of models/Point_MAE.py): the MaskTransformer encoder
// (MAE_encoder: the mini-PointNet patch encoder, the positional MLP, pre-LN
// blocks with the position added before every block, a final LayerNorm; no
// cls token) runs on the visible groups only; the decoder (MAE_decoder)
// runs on [visible tokens, mask tokens] with decoder_pos_embed of all the
// centres added before every block, and increase_dim turns the masked
// tokens into group_size points each, compared with the masked groups by
// the squared-L2 Chamfer distance. Parameter names and order are those of
// Point-MAE's pretrain.pth state dict.
type PointMAEPretrain struct {
	Cfg PretrainConfig
	// MaskToken is mask_token (1×1×C in the state dict).
	MaskToken *nn.Param
	// MAE_encoder.*: encoder, pos_embed.0, pos_embed.2, blocks.blocks.*, norm.
	Encoder    *Encoder
	Pos0, Pos2 *layers.Linear
	Blocks     []*layers.Block
	Norm       *layers.LayerNorm
	// decoder_pos_embed.0 (3→128) and .2 (128→C).
	DecPos0, DecPos2 *layers.Linear
	// MAE_decoder.blocks.*, MAE_decoder.norm (its head is the identity).
	DecBlocks []*layers.Block
	DecNorm   *layers.LayerNorm
	// IncreaseDim is increase_dim.0, the Conv1d (kernel 1) C→3·group_size.
	IncreaseDim *layers.Linear
}

// NewPointMAEPretrain builds the model initialised as Point-MAE does, from
// r: MAE_encoder's Linear and Conv1d weights normal with std 0.02 (timm's
// trunc_normal_, whose ±2 bounds are 100 standard deviations away), their
// biases 0; mask_token normal with std 0.02; MAE_decoder's Linear weights
// Xavier-uniform, biases 0; LayerNorms 1 and 0; BatchNorms and
// decoder_pos_embed and increase_dim PyTorch's defaults. The random
// streams are pcx's, so the values differ from PyTorch's.
func NewPointMAEPretrain(cfg PretrainConfig, r *rand.Rand) (*PointMAEPretrain, error) {
	c := cfg.TransDim
	if c <= 0 || cfg.Heads <= 0 || c%cfg.Heads != 0 || cfg.DecoderHeads <= 0 || c%cfg.DecoderHeads != 0 {
		return nil, fmt.Errorf("backbone: %d-wide tokens cannot split into %d encoder or %d decoder heads", c, cfg.Heads, cfg.DecoderHeads)
	}
	if cfg.Depth <= 0 || cfg.DecoderDepth <= 0 {
		return nil, fmt.Errorf("backbone: pre-training needs encoder and decoder blocks (depths %d and %d)", cfg.Depth, cfg.DecoderDepth)
	}
	if cfg.NumGroup <= 1 || cfg.GroupSize <= 0 {
		return nil, fmt.Errorf("backbone: pre-training needs at least 2 groups of at least 1 point (%d groups of %d)", cfg.NumGroup, cfg.GroupSize)
	}
	if n := cfg.NumMask(); n < 1 || n >= cfg.NumGroup || math.IsNaN(cfg.MaskRatio) {
		return nil, fmt.Errorf("backbone: mask ratio %v masks %d of %d groups; it must leave at least one masked and one visible", cfg.MaskRatio, n, cfg.NumGroup)
	}
	if cfg.MaskType != MaskRand && cfg.MaskType != MaskBlock {
		return nil, fmt.Errorf("backbone: mask type %q is neither %q nor %q", cfg.MaskType, MaskRand, MaskBlock)
	}
	m := &PointMAEPretrain{Cfg: cfg}
	m.MaskToken = nn.NewParam("mask_token", 1, c)
	m.MaskToken.StateShape = []int{1, 1, c}
	normal(m.MaskToken.Data, 0.02, r)

	const enc = "MAE_encoder."
	m.Encoder = &Encoder{
		Conv1: conv1d(enc+"encoder.first_conv.0", 3, 128, r),
		BN1:   nn.NewBatchNorm(enc+"encoder.first_conv.1", 128),
		Conv2: conv1d(enc+"encoder.first_conv.3", 128, 256, r),
		Conv3: conv1d(enc+"encoder.second_conv.0", 512, 512, r),
		BN2:   nn.NewBatchNorm(enc+"encoder.second_conv.1", 512),
		Conv4: conv1d(enc+"encoder.second_conv.3", 512, c, r),
	}
	m.Pos0 = layers.NewLinear(enc+"pos_embed.0", 3, 128, true, r)
	m.Pos2 = layers.NewLinear(enc+"pos_embed.2", 128, c, true, r)
	m.Blocks = pretrainBlocks(enc+"blocks.blocks", c, cfg.Heads, cfg.Depth, cfg.DropPath, r)
	m.Norm = layers.NewLayerNorm(enc+"norm", c, 1e-5)
	for _, l := range []*layers.Linear{m.Encoder.Conv1, m.Encoder.Conv2, m.Encoder.Conv3, m.Encoder.Conv4, m.Pos0, m.Pos2} {
		initLinear(l, "normal", r)
	}
	for _, b := range m.Blocks {
		for _, l := range blockLinears(b) {
			initLinear(l, "normal", r)
		}
	}

	m.DecPos0 = layers.NewLinear("decoder_pos_embed.0", 3, 128, true, r)
	m.DecPos2 = layers.NewLinear("decoder_pos_embed.2", 128, c, true, r)
	m.DecBlocks = pretrainBlocks("MAE_decoder.blocks", c, cfg.DecoderHeads, cfg.DecoderDepth, cfg.DropPath, r)
	m.DecNorm = layers.NewLayerNorm("MAE_decoder.norm", c, 1e-5)
	for _, b := range m.DecBlocks {
		for _, l := range blockLinears(b) {
			initLinear(l, "xavier", r)
		}
	}
	m.IncreaseDim = conv1d("increase_dim.0", c, 3*cfg.GroupSize, r)
	return m, nil
}

// pretrainBlocks returns Point-MAE's depth pre-LN blocks (no qkv bias,
// LayerNorm ε 1e-5, MLP ratio 4) named prefix.i with drop-path rates
// linspace(0, rate, depth).
func pretrainBlocks(prefix string, c, heads, depth int, rate float32, r *rand.Rand) []*layers.Block {
	return blockStack(prefix, layers.BlockConfig{Dim: c, Heads: heads, Hidden: 4 * c, Eps: 1e-5}, depth, rate, r)
}

// blockStack returns depth pre-LN blocks of cfg named prefix.i, with
// drop-path rates linspace(0, rate, depth) (cfg.DropPath is ignored): the
// block stacks of both masked autoencoders' encoders and decoders.
func blockStack(prefix string, cfg layers.BlockConfig, depth int, rate float32, r *rand.Rand) []*layers.Block {
	var bs []*layers.Block
	for i := 0; i < depth; i++ {
		cfg.DropPath = 0
		if depth > 1 {
			cfg.DropPath = rate * float32(i) / float32(depth-1)
		}
		bs = append(bs, layers.NewBlock(fmt.Sprintf("%s.%d", prefix, i), cfg, r))
	}
	return bs
}

// runBlocks runs the blocks in turn on x; a non-nil pos is added before
// every block (Point-MAE's encoder and decoder), a nil one never (MAE adds
// its positions once, before the first block).
func runBlocks(tp *nn.Tape, blocks []*layers.Block, x, pos *nn.Tensor, r *rand.Rand) *nn.Tensor {
	mk := tp.Mark() // inference (the feature probe) frees each block's activations after it
	for _, blk := range blocks {
		if pos != nil {
			x = nn.Add(tp, x, pos)
		}
		x = blk.Forward(tp, x, r, nil)
		tp.ReleaseSince(mk, x)
	}
	return x
}

func blockLinears(b *layers.Block) []*layers.Linear {
	return []*layers.Linear{b.Attn.QKV, b.Attn.Proj, b.MLP.FC1, b.MLP.FC2}
}

// initLinear redraws a Linear's weight, normal with std 0.02 ("normal") or
// Xavier-uniform ("xavier"), and zeroes its bias.
func initLinear(l *layers.Linear, kind string, r *rand.Rand) {
	out, in := l.Weight.Dim(0), l.Weight.Dim(1)
	if kind == "xavier" {
		bound := math.Sqrt(6 / float64(in+out))
		for i := range l.Weight.Data {
			l.Weight.Data[i] = float32((2*r.Float64() - 1) * bound)
		}
	} else {
		normal(l.Weight.Data, 0.02, r)
	}
	if l.Bias != nil {
		clear(l.Bias.Data)
	}
}

func normal(v []float32, std float64, r *rand.Rand) {
	for i := range v {
		v[i] = float32(std * r.NormFloat64())
	}
}

// Params lists every parameter and buffer in the order of Point-MAE's
// pre-training state dict: mask_token, MAE_encoder.* (encoder, pos_embed,
// blocks, norm), decoder_pos_embed.*, MAE_decoder.* (blocks, norm),
// increase_dim.0.*.
func (m *PointMAEPretrain) Params() nn.Params {
	ps := nn.Params{m.MaskToken}
	ps = append(ps, m.EncoderParams()...)
	ps = append(ps, m.DecPos0.Params()...)
	ps = append(ps, m.DecPos2.Params()...)
	for _, b := range m.DecBlocks {
		ps = append(ps, b.Params()...)
	}
	ps = append(ps, m.DecNorm.Params()...)
	return append(ps, m.IncreaseDim.Params()...)
}

// EncoderParams lists MAE_encoder's parameters and buffers in state-dict
// order: what fine-tuning keeps of pre-training.
func (m *PointMAEPretrain) EncoderParams() nn.Params {
	ps := append(nn.Params{}, m.Encoder.Params()...)
	ps = append(ps, m.Pos0.Params()...)
	ps = append(ps, m.Pos2.Params()...)
	for _, b := range m.Blocks {
		ps = append(ps, b.Params()...)
	}
	return append(ps, m.Norm.Params()...)
}

// BackboneParams are MAE_encoder's parameters and buffers under the names
// of the fine-tuning model (PointMAE): "MAE_encoder." removed, so
// encoder.*, pos_embed.*, blocks.blocks.*, norm.*. They share their values
// with m. Saved with checkpoint.Save, they make a .safetensors file that
// LoadWeights loads into NewPointMAE (and into every method built on it)
// with all of the backbone's pretrained weights present.
func (m *PointMAEPretrain) BackboneParams() nn.Params {
	var ps nn.Params
	for _, p := range m.EncoderParams() {
		q := *p
		q.Name = strings.TrimPrefix(p.Name, "MAE_encoder.")
		ps = append(ps, &q)
	}
	return ps
}

// DrawMask draws one mask per cloud of g as Point-MAE does for the
// configured mask type (see MaskRandom and MaskNearBlock): B×G booleans,
// true for a masked group. Point-MAE draws from numpy's and Python's global
// generators; pcx draws from r, so the masks differ from Point-MAE's for
// any seed while following the same distribution.
func (m *PointMAEPretrain) DrawMask(g *Groups, r *rand.Rand) ([]bool, error) {
	if g == nil || g.G != m.Cfg.NumGroup {
		return nil, fmt.Errorf("backbone: pre-training mask of groups that are not %d per cloud", m.Cfg.NumGroup)
	}
	if m.Cfg.MaskType == MaskBlock {
		if g.Centres == nil {
			return nil, fmt.Errorf("backbone: a block mask needs the group centres on the host")
		}
		return MaskNearBlock(g.Centres, g.B, g.G, m.Cfg.NumMask(), r)
	}
	return MaskRandom(g.B, g.G, m.Cfg.NumMask(), r)
}

// maskOrder checks a mask of b samples of n tokens each (b×n, true =
// masked; items names the tokens, holder a sample, for errors: "groups"
// and "cloud", "patches" and "image") and returns each sample's token order,
// visible tokens first, then masked ones, each in ascending order (b×n
// indices within the sample), and the number masked per sample. Every
// sample must mask as many tokens, and leave at least one visible; the
// masked autoencoders of point clouds and of images both gather their
// visible tokens (and their masked targets) on the host this way.
func maskOrder(mask []bool, b, n int, items, holder string) ([]int, int, error) {
	if len(mask) != b*n {
		return nil, 0, fmt.Errorf("backbone: mask of %d entries for %d %ss of %d %s", len(mask), b, holder, n, items)
	}
	nm := -1
	for i := 0; i < b; i++ {
		k := 0
		for _, v := range mask[i*n : (i+1)*n] {
			if v {
				k++
			}
		}
		if nm >= 0 && k != nm {
			return nil, 0, fmt.Errorf("backbone: %s %d masks %d %s, %s 0 %d; every %s must mask as many", holder, i, k, items, holder, nm, holder)
		}
		nm = k
	}
	if nm >= n {
		return nil, 0, fmt.Errorf("backbone: the mask hides all %d %s of each %s; at least one must stay visible", n, items, holder)
	}
	order := make([]int, 0, b*n)
	for i := 0; i < b; i++ {
		for pass := 0; pass < 2; pass++ {
			for j := 0; j < n; j++ {
				if mask[i*n+j] == (pass == 1) {
					order = append(order, j)
				}
			}
		}
	}
	return order, nm, nil
}

// checkMaskSize refuses a mask of n of g groups that is impossible.
func checkMaskSize(b, g, n int) error {
	if b < 1 || g < 1 || n < 0 || n > g {
		return fmt.Errorf("backbone: cannot mask %d of %d groups in %d clouds", n, g, b)
	}
	return nil
}

// MaskRandom masks n of the g groups of each of b clouds, a uniformly
// random subset per cloud (b×g, true = masked), as _mask_center_rand's
// shuffle of n ones among g−n zeros; the shuffle is rand.Rand's, not
// numpy's.
func MaskRandom(b, g, n int, r *rand.Rand) ([]bool, error) {
	if err := checkMaskSize(b, g, n); err != nil {
		return nil, err
	}
	mask := make([]bool, b*g)
	for i := 0; i < b; i++ {
		row := mask[i*g : (i+1)*g]
		for j := g - n; j < g; j++ {
			row[j] = true
		}
		r.Shuffle(g, func(x, y int) { row[x], row[y] = row[y], row[x] })
	}
	return mask, nil
}

// MaskNearBlock masks, in each of b clouds, the n groups whose centres
// (b×g×3) lie nearest (Euclidean) to one centre drawn uniformly from r, the
// drawn one included, as _mask_center_block does. Distances are taken in
// float64 and ties go to the lower group index (PyTorch's argsort leaves
// tie order unspecified).
func MaskNearBlock(centres []float32, b, g, n int, r *rand.Rand) ([]bool, error) {
	if err := checkMaskSize(b, g, n); err != nil {
		return nil, err
	}
	if len(centres) != b*g*3 {
		return nil, fmt.Errorf("backbone: %d centre values for %d clouds of %d groups", len(centres), b, g)
	}
	mask := make([]bool, b*g)
	d := make([]float64, g)
	idx := make([]int, g)
	for i := 0; i < b; i++ {
		c := centres[i*g*3 : (i+1)*g*3]
		k := r.IntN(g)
		for j := 0; j < g; j++ {
			var s float64
			for a := 0; a < 3; a++ {
				v := float64(c[3*j+a]) - float64(c[3*k+a])
				s += v * v
			}
			d[j], idx[j] = s, j
		}
		sort.SliceStable(idx, func(x, y int) bool { return d[idx[x]] < d[idx[y]] })
		for _, j := range idx[:n] {
			mask[i*g+j] = true
		}
	}
	return mask, nil
}

// PretrainOutput is what one pre-training forward returns.
type PretrainOutput struct {
	// Loss is the Chamfer-L2 loss (shape [1]).
	Loss *nn.Tensor
	// Rebuild holds the predicted points of the masked groups
	// ((B·Masked)×M×3, relative to their centres), cloud by cloud, each
	// cloud's masked groups in ascending group order; Target the masked
	// groups' neighbourhoods in the same order.
	Rebuild, Target *nn.Tensor
	// Masked is the number of masked groups per cloud.
	Masked int
}

// Forward runs Point_MAE.forward on grouped clouds with the given mask
// (B×G, true = masked; every cloud must mask the same number of groups,
// at least one, and leave at least one visible). r drives drop-path in
// training. The loss is ChamferDistanceL2(rebuild, target): the mean
// nearest squared distance from the predicted to the true points plus the
// mean from the true to the predicted, over all masked groups.
//
// The visible and masked tokens are gathered on the host: each cloud's
// groups are reordered, visible ones first (ascending), then masked ones
// (ascending), before the patch encoder runs on all of them (its
// BatchNorm takes its statistics over every group, masked ones included,
// as Point-MAE's does; only the order of the sums changes). The visible
// tokens are then the first ones of each cloud, and the decoder's positions
// are those of the reordered centres, [visible, masked], exactly as
// Point-MAE concatenates them. The groups must therefore be on the host
// (Neighbourhoods and Centres set); the parameters may be on a device.
func (m *PointMAEPretrain) Forward(tp *nn.Tape, g *Groups, mask []bool, r *rand.Rand) (*PretrainOutput, error) {
	ro, err := m.reorder(g, mask)
	if err != nil {
		return nil, err
	}
	if ro.nm < 1 {
		return nil, fmt.Errorf("backbone: the mask hides none of the %d groups per cloud; pre-training needs at least one masked", ro.gs)
	}
	b, gs, s, c, nv, nm := ro.b, ro.gs, ro.s, m.Cfg.TransDim, ro.nv, ro.nm
	x := m.encode(tp, ro, r)

	// MAE_decoder on [visible, mask tokens].
	dpos := m.DecPos2.Forward(tp, nn.GELU(tp, m.DecPos0.Forward(tp, nn.FromData(ro.cen, b, gs, 3)), false))
	mt := nn.RepeatRows(tp, m.MaskToken.T(), b*nm).Reshape(b, nm, c)
	x = nn.ConcatTokens(tp, x, mt)
	x = runBlocks(tp, m.DecBlocks, x, dpos, r)
	x = m.DecNorm.Forward(tp, nn.SliceTokens(tp, x, nv, gs))

	rebuild := m.IncreaseDim.Forward(tp, x).Reshape(b*nm, s, 3)
	gt := nn.FromData(ro.target, b*nm, s, 3)
	return &PretrainOutput{Loss: nn.ChamferL2(tp, rebuild, gt), Rebuild: rebuild, Target: gt, Masked: nm}, nil
}

// Encode runs MAE_encoder (MaskTransformer.forward) alone: the final
// norm's tokens of the visible groups (B×V×C, each cloud's visible groups
// in ascending order). A nil mask leaves every group visible, as
// Point-MAE's noaug=True does (the features of its SVM validation are the
// max and mean of these tokens). A mask follows Forward's rules, except
// that it may hide nothing.
func (m *PointMAEPretrain) Encode(tp *nn.Tape, g *Groups, mask []bool, r *rand.Rand) (*nn.Tensor, error) {
	if mask == nil && g != nil && g.B > 0 && g.G > 0 {
		mask = make([]bool, g.B*g.G)
	}
	ro, err := m.reorder(g, mask)
	if err != nil {
		return nil, err
	}
	return m.encode(tp, ro, r), nil
}

// reordered holds a batch's groups reordered cloud by cloud, visible groups
// first, then masked ones, each in ascending order.
type reordered struct {
	b, gs, s, nv, nm int
	nb, cen          []float32 // all groups' neighbourhoods and centres, reordered
	visCen           []float32 // the visible groups' centres (B×V×3)
	target           []float32 // the masked groups' neighbourhoods ((B·nm)×M×3)
}

// reorder checks g and mask and reorders the groups.
func (m *PointMAEPretrain) reorder(g *Groups, mask []bool) (*reordered, error) {
	cfg := m.Cfg
	if g == nil || g.Neighbourhoods == nil || g.Centres == nil {
		return nil, fmt.Errorf("backbone: pre-training needs the groups on the host")
	}
	if g.G != cfg.NumGroup || g.M != cfg.GroupSize || g.B < 1 {
		return nil, fmt.Errorf("backbone: pre-training model for %d groups of %d points given %d clouds of %d groups of %d",
			cfg.NumGroup, cfg.GroupSize, g.B, g.G, g.M)
	}
	if len(g.Centres) != g.B*g.G*3 || len(g.Neighbourhoods) != g.B*g.G*g.M*3 {
		return nil, fmt.Errorf("backbone: groups hold %d centre and %d neighbourhood values, not %d and %d",
			len(g.Centres), len(g.Neighbourhoods), g.B*g.G*3, g.B*g.G*g.M*3)
	}
	b, gs, s := g.B, g.G, g.M
	order, nm, err := maskOrder(mask, b, gs, "groups", "cloud")
	if err != nil {
		return nil, err
	}
	nv := gs - nm
	ro := &reordered{b: b, gs: gs, s: s, nv: nv, nm: nm,
		nb: make([]float32, len(g.Neighbourhoods)), cen: make([]float32, len(g.Centres)),
		visCen: make([]float32, 0, b*nv*3), target: make([]float32, 0, b*nm*s*3)}
	for q, j := range order {
		src := q/gs*gs + j
		copy(ro.nb[q*s*3:(q+1)*s*3], g.Neighbourhoods[src*s*3:(src+1)*s*3])
		copy(ro.cen[q*3:(q+1)*3], g.Centres[src*3:(src+1)*3])
		if q%gs < nv {
			ro.visCen = append(ro.visCen, g.Centres[src*3:(src+1)*3]...)
		} else {
			ro.target = append(ro.target, g.Neighbourhoods[src*s*3:(src+1)*s*3]...)
		}
	}
	return ro, nil
}

// encode runs MAE_encoder on reordered groups: the patch encoder on every
// group, then pos_embed and the blocks (the position added before each)
// and the final norm on the visible tokens.
func (m *PointMAEPretrain) encode(tp *nn.Tape, ro *reordered, r *rand.Rand) *nn.Tensor {
	b, gs, s, c := ro.b, ro.gs, ro.s, m.Cfg.TransDim
	tok := m.Encoder.Forward(tp, nn.FromData(ro.nb, b*gs, s, 3), b*gs, s).Reshape(b, gs, c)
	x := tok
	if ro.nv < gs {
		x = nn.SliceTokens(tp, tok, 0, ro.nv)
	}
	pos := m.Pos2.Forward(tp, nn.GELU(tp, m.Pos0.Forward(tp, nn.FromData(ro.visCen, b, ro.nv, 3)), false))
	return m.Norm.Forward(tp, runBlocks(tp, m.Blocks, x, pos, r))
}

// LoadPretrainWeights loads a pre-training checkpoint into m: Point-MAE's
// pretrain.pth (the state dict under "base_model", keys mask_token,
// MAE_encoder.*, decoder_pos_embed.*, MAE_decoder.*, increase_dim.*;
// "module." removed wherever it occurs) or a pcx .safetensors of m.Params(),
// told apart by their first bytes. A shape mismatch is an error, and so,
// unless opt.Partial, is a checkpoint that leaves any of m's weights
// unloaded (BatchNorm's batch counters excepted).
func (m *PointMAEPretrain) LoadPretrainWeights(path string, opt LoadOptions) (checkpoint.Report, error) {
	var rep checkpoint.Report
	ps := m.Params()
	format, err := state.Sniff(path)
	if err != nil {
		return rep, fmt.Errorf("pre-training weights (a Point-MAE pretrain .pth, or a pcx .safetensors): %w", err)
	}
	if format == state.FormatSafetensors {
		rep, _, _, err = checkpoint.Load(path, ps)
	} else {
		rep, err = checkpoint.LoadPTH(path, pthKeys, ps)
	}
	if err != nil || opt.Partial {
		return rep, err
	}
	return rep, checkPretrained(path, "pre-training model", rep, ps, func(name string) bool {
		return !strings.HasSuffix(name, "num_batches_tracked")
	})
}
