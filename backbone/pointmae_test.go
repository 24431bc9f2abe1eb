package backbone

import (
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

// TestPointMAEParameterCounts checks the parts against the counts derived
// from Point-MAE's state dict (22.09M in all with a 15-class head).
func TestPointMAEParameterCounts(t *testing.T) {
	for _, tc := range []struct {
		classes int
		head    int
		total   int
	}{
		{15, 267535, 22093327},
		{40, 273960, 22099752},
	} {
		m, err := NewPointMAE(PointMAEConfig(tc.classes, 64, 32, 1024, 0.1), pointcloud.NewRand(1))
		if err != nil {
			t.Fatal(err)
		}
		count := func(prefix string) int {
			n := 0
			for _, p := range m.Params() {
				if strings.HasPrefix(p.Name, prefix) && !p.Buffer {
					n += p.Len()
				}
			}
			return n
		}
		for _, part := range []struct {
			prefix string
			want   int
		}{
			{"encoder.", 494464},
			{"pos_embed.", 50048},
			{"blocks.blocks.0.", 1773312},
			{"blocks.", 12 * 1773312},
			{"norm.", 768},
			{"cls_token", 384},
			{"cls_pos", 384},
			{"cls_head_finetune.", tc.head},
		} {
			if got := count(part.prefix); got != part.want {
				t.Errorf("%d classes, %s: %d parameters, want %d", tc.classes, part.prefix, got, part.want)
			}
		}
		if got := m.Params().Count(); got != tc.total {
			t.Errorf("%d classes: %d parameters, want %d", tc.classes, got, tc.total)
		}
	}
}

func TestPointMAEForwardShapes(t *testing.T) {
	cfg := Config{TransDim: 16, Depth: 2, Heads: 2, Classes: 3, NumGroup: 8, GroupSize: 4, NPoints: 64, HeadDropout: 0.5, PosEveryBlock: true}
	m, err := NewPointMAE(cfg, pointcloud.NewRand(2))
	if err != nil {
		t.Fatal(err)
	}
	r := pointcloud.NewRand(3)
	xyz := make([]float32, 2*64*3)
	for i := range xyz {
		xyz[i] = float32(r.NormFloat64())
	}
	g, err := m.Group(xyz, 2, 64)
	if err != nil {
		t.Fatal(err)
	}
	tp := nn.NewTape(true)
	logits := m.Forward(tp, g, r)
	if logits.Dim(0) != 2 || logits.Dim(1) != 3 {
		t.Fatalf("logits %v", logits.Shape)
	}
	loss := nn.CrossEntropy(tp, logits, []int{0, 2}, 0)
	tp.Backward(loss)
	for _, p := range m.Params() {
		if !p.Buffer && p.Grad == nil {
			t.Errorf("%s got no gradient", p.Name)
		}
	}
	if _, err := NewPointMAE(Config{TransDim: 10, Depth: 1, Heads: 3, Classes: 2, NumGroup: 1, GroupSize: 1}, r); err == nil {
		t.Error("10-wide tokens split into 3 heads accepted")
	}
}

func TestLoadPointMAEShapedCheckpoint(t *testing.T) {
	// testdata/state/pointmae.pth is a torch.save of a Point-MAE-shaped
	// pretraining checkpoint with small shapes; a model with matching small
	// shapes loads what it shares and reports the rest.
	ps := nn.Params{
		nn.NewParam("blocks.blocks.0.attn.qkv.weight", 6, 4),
		nn.NewParam("norm.weight", 4),
		nn.NewParam("norm.bias", 4),
		nn.NewParam("cls_pos", 1, 1, 4),
	}
	rep, err := LoadWeights("../testdata/state/pointmae.pth", ps, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.Missing, ",") != "cls_pos" {
		t.Errorf("missing %v", rep.Missing)
	}
	for _, want := range []string{"cls_head_finetune.0.weight", "reduce_dim.weight", "mask_ratio"} {
		if !strings.Contains(strings.Join(rep.Unexpected, ","), want) {
			t.Errorf("unexpected keys %v lack %s", rep.Unexpected, want)
		}
	}
}

func TestCounts(t *testing.T) {
	m, err := NewPointMAE(PointMAEConfig(15, 128, 32, 2048, 0.1), pointcloud.NewRand(1)) // scan_objbg
	if err != nil {
		t.Fatal(err)
	}
	r := CountParams(m.Params())
	if r.Total != 22093327 || r.Tunable != 22093327 {
		t.Errorf("%d of %d tunable, want all 22093327", r.Tunable, r.Total)
	}
	m.Params().Freeze()
	m.Head.Params().Unfreeze()
	if r := CountParams(m.Params()); r.Total != 22093327 || r.Tunable != 267535 {
		t.Errorf("head only: %d of %d tunable, want 267535", r.Tunable, r.Total)
	}
	mods := map[string]int{}
	for _, mc := range r.Modules {
		mods[mc.Module] = mc.Total
	}
	if mods["encoder"] != 494464 || mods["blocks"] != 12*1773312 || mods["cls_head_finetune"] != 267535 {
		t.Errorf("per-module counts %v", mods)
	}
}
