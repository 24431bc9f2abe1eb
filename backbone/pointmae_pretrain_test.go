package backbone

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/internal/goldentest"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/pointcloud"
)

// Golden fixtures from scripts/golden_pointmae_pretrain.py: a PyTorch
// re-implementation of Point-MAE's pre-training model (Point_MAE), and a
// checkpoint in the layout of its pretrain.pth.

type pretrainCfgJSON struct {
	TransDim     int `json:"trans_dim"`
	Depth        int `json:"depth"`
	Heads        int `json:"num_heads"`
	DecoderDepth int `json:"decoder_depth"`
	DecoderHeads int `json:"decoder_num_heads"`
	B            int `json:"B"`
	N            int `json:"N"`
	NumGroup     int `json:"num_group"`
	GroupSize    int `json:"group_size"`
	Masked       int `json:"masked"`
}

func (c pretrainCfgJSON) config() PretrainConfig {
	return PretrainConfig{TransDim: c.TransDim, Depth: c.Depth, Heads: c.Heads, DecoderDepth: c.DecoderDepth,
		DecoderHeads: c.DecoderHeads, NumGroup: c.NumGroup, GroupSize: c.GroupSize, NPoints: c.N,
		MaskRatio: float64(c.Masked) / float64(c.NumGroup), MaskType: MaskRand}
}

type pretrainGolden struct {
	Cases struct {
		Tiny struct {
			Config         pretrainCfgJSON    `json:"config"`
			NormWeightKeys []string           `json:"norm_weight_keys"`
			StateKeys      []string           `json:"state_keys"`
			ParamChecks    map[string]gTensor `json:"param_checks"`
			Inputs         struct {
				Points    gTensor `json:"points"`
				CenterIdx gTensor `json:"center_idx"`
				KnnIdx    gTensor `json:"knn_idx"`
				Mask      gTensor `json:"mask"`
			} `json:"inputs"`
			Loss         float64            `json:"loss"`
			Rebuild      gTensor            `json:"rebuild"`
			GT           gTensor            `json:"gt"`
			Grads        map[string]gTensor `json:"grads"`
			BuffersAfter map[string]gTensor `json:"buffers_after"`
		} `json:"tiny_train"`
		Encode struct {
			Tokens gTensor `json:"tokens"`
		} `json:"tiny_encode"`
		PTH struct {
			Config  pretrainCfgJSON `json:"config"`
			File    string          `json:"file"`
			Entries []struct {
				Key    string `json:"key"`
				Shape  []int  `json:"shape"`
				SHA256 string `json:"sha256"`
				Int    *int64 `json:"int"`
			} `json:"entries"`
		} `json:"official_pth"`
	} `json:"cases"`
}

func loadPretrainGolden(t *testing.T) pretrainGolden {
	t.Helper()
	var g pretrainGolden
	goldentest.Read(t, "pointmae_pretrain.json", &g)
	return g
}

func TestGoldenPointMAEPretrainTiny(t *testing.T) {
	c := loadPretrainGolden(t).Cases.Tiny
	m, err := NewPointMAEPretrain(c.Config.config(), pointcloud.NewRand(0))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Cfg.NumMask(); got != c.Config.Masked {
		t.Fatalf("config masks %d groups, fixture %d", got, c.Config.Masked)
	}
	var names []string
	for _, p := range m.Params() {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, c.StateKeys) {
		t.Fatalf("state-dict order differs from Point-MAE's:\n got %v\nwant %v", names, c.StateKeys)
	}
	norm := map[string]bool{}
	for _, k := range c.NormWeightKeys {
		norm[k] = true
	}
	goldentest.SplitmixInit(m.Params(), norm)
	byName := goldentest.ByName(m.Params())
	goldentest.CheckFirst(t, "init", byName, c.ParamChecks, nil)

	cfg := c.Config
	g := GroupAt(goldentest.F32(c.Inputs.Points.Data), cfg.B, cfg.N, goldentest.I32(c.Inputs.CenterIdx.Data),
		goldentest.I32(c.Inputs.KnnIdx.Data), cfg.NumGroup, cfg.GroupSize)
	mask := make([]bool, len(c.Inputs.Mask.Data))
	for i, v := range c.Inputs.Mask.Data {
		mask[i] = v != 0
	}
	tp := nn.NewTape(true)
	out, err := m.Forward(tp, g, mask, pointcloud.NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	if out.Masked != cfg.Masked {
		t.Errorf("%d masked groups per cloud, want %d", out.Masked, cfg.Masked)
	}
	lossErr := math.Abs(float64(out.Loss.Data[0])-c.Loss) / math.Abs(c.Loss)
	if lossErr > 1e-4 {
		t.Errorf("loss %v, want %v", out.Loss.Data[0], c.Loss)
	}
	goldentest.CloseTo(t, "rebuild", out.Rebuild.Data, c.Rebuild, 1e-4)
	goldentest.CloseTo(t, "target", out.Target.Data, c.GT, 1e-6)
	tp.Backward(out.Loss)
	worst, worstKey := 0.0, ""
	for k, want := range c.Grads {
		p, ok := byName[k]
		if !ok || p.Grad == nil {
			t.Errorf("no gradient for %s", k)
			continue
		}
		goldentest.CloseTo(t, "grad "+k, p.Grad, want, 1e-4)
		if w := worstRel(p.Grad, want); w > worst && !roundoffZero(want) {
			worst, worstKey = w, k
		}
	}
	if n := len(m.Params()) - len(c.BuffersAfter); len(c.Grads) != n {
		t.Errorf("fixture has %d gradients, the model %d trainable parameters", len(c.Grads), n)
	}
	for k, want := range c.BuffersAfter {
		goldentest.CloseTo(t, "buffer "+k, byName[k].Data, want, 1e-4)
	}

	// MAE_encoder alone, nothing masked, in evaluation mode, from the
	// weights before the step.
	goldentest.SplitmixInit(m.Params(), norm)
	tok, err := m.Encode(nn.NoGrad(), g, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{cfg.B, cfg.NumGroup, cfg.TransDim}; !slices.Equal(tok.Shape, want) {
		t.Errorf("encoded tokens %v, want %v", tok.Shape, want)
	}
	g2 := loadPretrainGolden(t).Cases.Encode.Tokens
	goldentest.CloseTo(t, "encode", tok.Data, g2, 1e-4)
	t.Logf("encode (noaug, eval) error %.2g", worstRel(tok.Data, g2))
	t.Logf("loss %.9g (PyTorch %.12g, relative error %.2g); rebuild error %.2g; worst gradient error %.2g (%s)",
		out.Loss.Data[0], c.Loss, lossErr, worstRel(out.Rebuild.Data, c.Rebuild), worst, worstKey)
}

// roundoffZero reports a reference gradient that is zero in exact
// arithmetic (a bias feeding a training-mode BatchNorm): float64 noise.
func roundoffZero(want gTensor) bool {
	ref := want.Data
	if ref == nil {
		ref = want.Sample
	}
	m := math.Sqrt(want.SqSum / math.Max(1, float64(want.Numel)))
	for _, v := range ref {
		m = math.Max(m, math.Abs(v))
	}
	return m < 1e-10
}

func sha256F32(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestPointMAEPretrainOfficialPTH loads a checkpoint in the layout of
// Point-MAE's pretrain.pth (strided tensors included), checks every tensor,
// writes it to safetensors and checks the file, then loads that back.
func TestPointMAEPretrainOfficialPTH(t *testing.T) {
	c := loadPretrainGolden(t).Cases.PTH
	m, err := NewPointMAEPretrain(c.Config.config(), pointcloud.NewRand(3))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := m.LoadPretrainWeights(filepath.Join("../testdata/golden", c.File), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) != 0 || len(rep.Unexpected) != 0 {
		t.Fatalf("load report %v", rep)
	}
	byName := goldentest.ByName(m.Params())
	if len(c.Entries) != len(byName) {
		t.Fatalf("checkpoint has %d entries, model %d", len(c.Entries), len(byName))
	}
	check := func(what string, key string, got []float32, gotShape []int, e int) {
		t.Helper()
		ent := c.Entries[e]
		if !slices.Equal(gotShape, ent.Shape) && !(len(ent.Shape) == 0 && slices.Equal(gotShape, []int{1})) {
			t.Errorf("%s %s: shape %v, want %v", what, key, gotShape, ent.Shape)
		}
		if ent.Int != nil {
			if len(got) != 1 || got[0] != float32(*ent.Int) {
				t.Errorf("%s %s = %v, want %d", what, key, got, *ent.Int)
			}
		} else if h := sha256F32(got); h != ent.SHA256 {
			t.Errorf("%s %s: values differ from the checkpoint's", what, key)
		}
	}
	for i, e := range c.Entries {
		p := byName[e.Key]
		if p == nil {
			t.Fatalf("model lacks %s", e.Key)
		}
		shape := p.Shape
		if p.StateShape != nil {
			shape = p.StateShape
		}
		check("loaded", e.Key, p.Data, shape, i)
	}

	path := filepath.Join(t.TempDir(), "pretrain.safetensors")
	if err := checkpoint.Save(path, m.Params(), nil, nil); err != nil {
		t.Fatal(err)
	}
	d, err := state.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Keys) != len(c.Entries) {
		t.Fatalf("safetensors has %d tensors, want %d", len(d.Keys), len(c.Entries))
	}
	for i, e := range c.Entries {
		st := d.Tensors[e.Key]
		if st == nil {
			t.Fatalf("safetensors lacks %s", e.Key)
		}
		vals := st.F32
		if e.Int != nil {
			vals = nil
			for _, v := range st.I64 {
				vals = append(vals, float32(v))
			}
		}
		check("safetensors", e.Key, vals, st.Shape, i)
	}

	m2, err := NewPointMAEPretrain(c.Config.config(), pointcloud.NewRand(4))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.LoadPretrainWeights(path, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, p := range m2.Params() {
		if !slices.Equal(p.Data, m.Params()[i].Data) {
			t.Errorf("%s differs after the safetensors round trip", p.Name)
		}
	}
}

// TestPointMAEPretrainToFineTune saves the pre-trained backbone and loads it
// into the fine-tuning model: every pretrained weight present and equal.
func TestPointMAEPretrainToFineTune(t *testing.T) {
	cfg := PretrainConfig{TransDim: 16, Depth: 2, Heads: 2, DecoderDepth: 1, DecoderHeads: 2, NumGroup: 4, GroupSize: 4,
		NPoints: 32, MaskRatio: 0.5, MaskType: MaskRand}
	pre, err := NewPointMAEPretrain(cfg, pointcloud.NewRand(5))
	if err != nil {
		t.Fatal(err)
	}
	// Make the BatchNorm statistics differ from a fresh model's.
	for _, p := range pre.Params() {
		if p.Buffer {
			for i := range p.Data {
				p.Data[i] += 0.25
			}
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "backbone.safetensors")
	if err := checkpoint.Save(path, pre.BackboneParams(), nil, nil); err != nil {
		t.Fatal(err)
	}
	ft, err := NewPointMAE(Config{TransDim: 16, Depth: 2, Heads: 2, Classes: 3, NumGroup: 4, GroupSize: 4, PosEveryBlock: true},
		pointcloud.NewRand(6))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := LoadWeights(path, ft.Params(), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Unexpected) != 0 {
		t.Errorf("unexpected keys %v", rep.Unexpected)
	}
	for _, k := range rep.Missing {
		if k != "cls_token" && k != "cls_pos" && !strings.HasPrefix(k, "cls_head_finetune.") {
			t.Errorf("fine-tuning model missing %s", k)
		}
	}
	src := goldentest.ByName(pre.Params())
	n := 0
	for _, p := range ft.Params() {
		if !IsPretrained(p.Name) {
			continue
		}
		n++
		q := src["MAE_encoder."+p.Name]
		if q == nil || !slices.Equal(p.Data, q.Data) {
			t.Errorf("%s not loaded from the pre-trained MAE_encoder", p.Name)
		}
	}
	if want := len(pre.EncoderParams()) - 2; n != want { // minus the two BatchNorm counters
		t.Errorf("%d pretrained weights, want %d", n, want)
	}
	// The whole pre-training checkpoint loads too: its MAE_encoder.*
	// weights are the backbone's, the decoder's are unexpected.
	full := filepath.Join(dir, "pretrain.safetensors")
	if err := checkpoint.Save(full, pre.Params(), nil, nil); err != nil {
		t.Fatal(err)
	}
	ft2, _ := NewPointMAE(Config{TransDim: 16, Depth: 2, Heads: 2, Classes: 3, NumGroup: 4, GroupSize: 4, PosEveryBlock: true},
		pointcloud.NewRand(9))
	rep2, err := LoadWeights(full, ft2.Params(), LoadOptions{})
	if err != nil {
		t.Fatalf("a pre-training .safetensors as the backbone: %v", err)
	}
	if !slices.Contains(rep2.Unexpected, "mask_token") || !slices.Contains(rep2.Unexpected, "increase_dim.0.weight") {
		t.Errorf("unexpected keys %v", rep2.Unexpected)
	}
	for _, p := range ft2.Params() {
		if IsPretrained(p.Name) && slices.Contains(rep2.Missing, p.Name) {
			t.Errorf("%s not loaded from the pre-training checkpoint", p.Name)
		}
	}
}

func TestPointMAEPretrainMasks(t *testing.T) {
	if n := PointMAEPretrainConfig().NumMask(); n != 38 { // int(0.6·64)
		t.Errorf("pretrain.yaml masks %d of 64 groups, want 38", n)
	}
	r := pointcloud.NewRand(7)
	a, err := MaskRandom(3, 10, 6, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		k := 0
		for _, v := range a[i*10 : (i+1)*10] {
			if v {
				k++
			}
		}
		if k != 6 {
			t.Errorf("cloud %d masks %d groups, want 6", i, k)
		}
	}
	b, _ := MaskRandom(3, 10, 6, pointcloud.NewRand(7))
	if !slices.Equal(a, b) {
		t.Error("the same seed gives different masks")
	}
	c, _ := MaskRandom(3, 10, 6, pointcloud.NewRand(8))
	if slices.Equal(a, c) {
		t.Error("different seeds give the same masks")
	}
	// Centres on a line at 0, 1, ..., 7: the block around any centre is
	// the 3 nearest positions, contiguous.
	cen := make([]float32, 8*3)
	for j := 0; j < 8; j++ {
		cen[3*j] = float32(j)
	}
	for seed := uint64(0); seed < 5; seed++ {
		mk, err := MaskNearBlock(cen, 1, 8, 3, pointcloud.NewRand(seed))
		if err != nil {
			t.Fatal(err)
		}
		var on []int
		for j, v := range mk {
			if v {
				on = append(on, j)
			}
		}
		if len(on) != 3 || on[2]-on[0] != 2 {
			t.Errorf("block mask %v is not 3 neighbouring centres", on)
		}
	}
	if _, err := MaskRandom(1, 4, 5, r); err == nil {
		t.Error("masking 5 of 4 groups accepted")
	}
	if _, err := MaskNearBlock(cen[:5], 1, 8, 3, r); err == nil {
		t.Error("short centres accepted")
	}
}

func TestPointMAEPretrainBadInput(t *testing.T) {
	cfg := PretrainConfig{TransDim: 8, Depth: 1, Heads: 2, DecoderDepth: 1, DecoderHeads: 2, NumGroup: 4, GroupSize: 2,
		NPoints: 16, MaskRatio: 0.5, MaskType: MaskBlock}
	m, err := NewPointMAEPretrain(cfg, pointcloud.NewRand(0))
	if err != nil {
		t.Fatal(err)
	}
	g := &Groups{B: 2, G: 4, M: 2, Centres: make([]float32, 2*4*3), Neighbourhoods: make([]float32, 2*4*2*3)}
	for i := range g.Neighbourhoods {
		g.Neighbourhoods[i] = float32(math.Sin(float64(i)))
	}
	mk, err := m.DrawMask(g, pointcloud.NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Forward(nn.NewTape(true), g, mk, pointcloud.NewRand(1)); err != nil {
		t.Fatalf("drawn mask refused: %v", err)
	}
	for name, mask := range map[string][]bool{
		"short":   {true, false},
		"unequal": {true, false, false, false, true, true, false, false},
		"none":    make([]bool, 8),
		"all":     {true, true, true, true, true, true, true, true},
	} {
		if _, err := m.Forward(nn.NewTape(true), g, mask, nil); err == nil {
			t.Errorf("%s mask accepted", name)
		}
	}
	for name, c := range map[string]PretrainConfig{
		"heads":     {TransDim: 8, Depth: 1, Heads: 3, DecoderDepth: 1, DecoderHeads: 2, NumGroup: 4, GroupSize: 2, MaskRatio: 0.5, MaskType: MaskRand},
		"ratio":     {TransDim: 8, Depth: 1, Heads: 2, DecoderDepth: 1, DecoderHeads: 2, NumGroup: 4, GroupSize: 2, MaskRatio: 1, MaskType: MaskRand},
		"mask type": {TransDim: 8, Depth: 1, Heads: 2, DecoderDepth: 1, DecoderHeads: 2, NumGroup: 4, GroupSize: 2, MaskRatio: 0.5, MaskType: "x"},
		"decoder":   {TransDim: 8, Depth: 1, Heads: 2, DecoderDepth: 0, DecoderHeads: 2, NumGroup: 4, GroupSize: 2, MaskRatio: 0.5, MaskType: MaskRand},
	} {
		if _, err := NewPointMAEPretrain(c, pointcloud.NewRand(0)); err == nil {
			t.Errorf("bad config (%s) accepted", name)
		}
	}
}

// TestPointMAEPretrainFullSize builds cfgs/pretrain.yaml's model: as many
// parameters and state-dict entries as scripts/ref/pointmae_pretrain.py's
// PointMAEPretrain(384, 12, 6, 4, 6, 32).
func TestPointMAEPretrainFullSize(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size Point-MAE pre-training model in -short mode")
	}
	m, err := NewPointMAEPretrain(PointMAEPretrainConfig(), pointcloud.NewRand(0))
	if err != nil {
		t.Fatal(err)
	}
	ps := m.Params()
	if got := CountParams(ps).Total; got != 29006432 {
		t.Errorf("%d parameters, PyTorch's model has 29006432", got)
	}
	if got := CountParams(m.EncoderParams()).Total; got != 21825024 {
		t.Errorf("MAE_encoder has %d parameters, PyTorch's 21825024", got)
	}
	if len(ps) != 209 {
		t.Errorf("%d state-dict entries, PyTorch's model has 209", len(ps))
	}
	if got := m.Blocks[11].DropPath; math.Abs(float64(got)-0.1) > 1e-7 {
		t.Errorf("last encoder block drop-path %v, want 0.1", got)
	}
	if got := m.DecBlocks[1].DropPath; math.Abs(float64(got)-0.1/3) > 1e-7 {
		t.Errorf("second decoder block drop-path %v, want 0.1/3", got)
	}
}
