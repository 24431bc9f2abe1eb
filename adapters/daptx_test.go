package adapters

import (
	"math"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

func TestDAPTXTunableCount(t *testing.T) {
	cfg, err := DAPTXPreset("scan_objbg")
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDAPTX(cfg, pointcloud.NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	r := backbone.CountParams(d.Params())
	// head 365,839 + cls 768 + 12 block norm2 9,216 + 12 prompt generators
	// 9,216 + SMoA 37,632 (reduction 4,096, embeddings 128, 4 experts 8,352).
	if r.Tunable != 422671 {
		t.Errorf("tunable %d, want 422,671", r.Tunable)
	}
	if r.Percent < 1.85 || r.Percent > 1.95 {
		t.Errorf("tunable share %.3f%%, the paper reports 1.88%%", r.Percent)
	}
}

func TestDAPTXForwardRouting(t *testing.T) {
	for _, top1 := range []bool{false, true} {
		cfg := DAPTXConfig{DAPTConfig: DAPTConfig{Config: backbone.Config{TransDim: 12, Depth: 2, Heads: 2, Classes: 3, NumGroup: 8, GroupSize: 4},
			Rank: 4, Head: HeadTokens{true, "mean", "max"}}, SMoAHeads: 3, Experts: 4, Alpha: 0.01, Top1: top1}
		d, err := NewDAPTX(cfg, pointcloud.NewRand(2))
		if err != nil {
			t.Fatal(err)
		}
		d.SMoA.Stats = &RoutingStats{Track: [][2]int{{0, 3}}}
		r := pointcloud.NewRand(3)
		xyz := make([]float32, 2*64*3)
		for i := range xyz {
			xyz[i] = float32(r.NormFloat64())
		}
		g, _ := d.Group(xyz, 2, 64)
		tp := nn.NewTape(true)
		logits := d.Forward(tp, g, r)
		loss := d.Loss(tp, logits, []int{0, 2})
		if b := d.BalanceLoss.Data[0]; !(b > 0) || b > float32(cfg.Experts) {
			t.Errorf("balance loss %v outside (0, E]", b)
		}
		tp.Backward(loss)
		for _, p := range d.Params() {
			if p.Trainable && p.Grad == nil {
				t.Errorf("top1=%v: tunable %s got no gradient", top1, p.Name)
			}
			if !p.Trainable && p.Grad != nil {
				t.Errorf("top1=%v: frozen %s got a gradient", top1, p.Name)
			}
		}
		shares := d.SMoA.Stats.Shares()
		if len(shares) != 2 || len(d.SMoA.Stats.Gates[1]) != 1 || len(d.SMoA.Stats.Gates[1][0]) != 3 {
			t.Fatalf("routing stats: %d blocks, gates %v", len(shares), d.SMoA.Stats.Gates)
		}
		sum := 0.0
		for _, s := range shares[0] {
			sum += s
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("shares of block 0 sum to %v", sum)
		}
	}
}
