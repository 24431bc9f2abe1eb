package adapters

import (
	"math"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/train"
)

// daptxLoss is DAPT-X's objective (Eq. 6–7), as training forms it:
// cross-entropy plus alpha times the balance loss.
func daptxLoss(tp *nn.Tape, logits, balance *nn.Tensor, alpha float32, labels []int) *nn.Tensor {
	return train.Output{Loss: nn.CrossEntropy(tp, logits, labels, 0),
		Aux: []train.Aux{{Name: "balance", Value: balance, Weight: alpha}}}.Objective(tp)
}

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

// TestDAPTXKeepDAPTTunableCount pins the tunable count of DAPT-X with
// DAPT's SSFs and dynamic adapters kept, and checks that it is DAPT-X's
// plus exactly DAPT's per-block and model-level pieces.
func TestDAPTXKeepDAPTTunableCount(t *testing.T) {
	cfg, err := DAPTXPreset("scan_objbg")
	if err != nil {
		t.Fatal(err)
	}
	cfg.KeepDAPT = true
	if cfg.AdapterRank != 64 || cfg.Rank != 32 {
		t.Fatalf("adapter rank %d, SMoA rank %d; want DAPT's 64 and 32", cfg.AdapterRank, cfg.Rank)
	}
	d, err := NewDAPTX(cfg, pointcloud.NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	r := backbone.CountParams(d.Params())
	// 422,671 (DAPT-X) + 12 × (SSF 9,216 + dynamic adapter 50,753) + 1,536.
	if r.Tunable != 1143835 {
		t.Errorf("tunable %d, want 1,143,835", r.Tunable)
	}
	extra := 0
	for _, p := range d.Params() {
		if strings.Contains(p.Name, "tfts") || strings.Contains(p.Name, "Adapter") {
			if !p.Trainable {
				t.Errorf("%s is frozen", p.Name)
			}
			extra += p.Len()
		}
	}
	if extra != 1143835-422671 {
		t.Errorf("DAPT's pieces hold %d parameters, want %d", extra, 1143835-422671)
	}
	cfg.AdapterRank = 0
	if _, err := NewDAPTX(cfg, pointcloud.NewRand(1)); err == nil {
		t.Error("KeepDAPT without an adapter rank was accepted")
	}
}

func TestDAPTXForwardRouting(t *testing.T) {
	for _, tc := range []struct{ top1, keep bool }{{false, false}, {true, false}, {false, true}} {
		top1 := tc.top1
		cfg := DAPTXConfig{DAPTConfig: DAPTConfig{Config: backbone.Config{TransDim: 12, Depth: 2, Heads: 2, Classes: 3, NumGroup: 8, GroupSize: 4},
			Rank: 4, Head: HeadTokens{Cls: true, Prompt: "mean", Patch: "max"}}, SMoAHeads: 3, Experts: 4, Alpha: 0.01, Top1: top1,
			KeepDAPT: tc.keep, AdapterRank: 5}
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
		logits, bal := d.ForwardAux(tp, g, r)
		loss := daptxLoss(tp, logits, bal, d.Cfg.Alpha, []int{0, 2})
		if b := bal.Data[0]; !(b > 0) || b > float32(cfg.Experts) {
			t.Errorf("balance loss %v outside (0, E]", b)
		}
		tp.Backward(loss)
		for _, p := range d.Params() {
			if p.Trainable && p.Grad == nil {
				t.Errorf("%+v: tunable %s got no gradient", tc, p.Name)
			}
			if !p.Trainable && p.Grad != nil {
				t.Errorf("%+v: frozen %s got a gradient", tc, p.Name)
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

// Each forward returns its own balance loss: a second forward on other
// clouds leaves the first's as it was.
func TestDAPTXBalancePerForward(t *testing.T) {
	cfg := DAPTXConfig{DAPTConfig: DAPTConfig{Config: backbone.Config{TransDim: 24, Depth: 2, Heads: 2, Classes: 3,
		NumGroup: 8, GroupSize: 8, NPoints: 64}, Rank: 4, Head: HeadTokens{Cls: true, Prompt: "mean", Patch: "max"}},
		SMoAHeads: 3, Experts: 4, Alpha: 0.01}
	d, err := NewDAPTX(cfg, pointcloud.NewRand(0))
	if err != nil {
		t.Fatal(err)
	}
	group := func(seed uint64) *backbone.Groups {
		r := pointcloud.NewRand(seed)
		xyz := make([]float32, 2*64*3)
		for i := range xyz {
			xyz[i] = float32(r.NormFloat64())
		}
		g, err := d.Group(xyz, 2, 64)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g1, g2 := group(1), group(2)
	tp := nn.NoGrad()
	_, b1 := d.ForwardAux(tp, g1, nil)
	first := b1.Data[0]
	_, b2 := d.ForwardAux(tp, g2, nil)
	if b1.Data[0] != first || b2 == b1 {
		t.Errorf("the second forward changed the first's balance loss: %v, then %v", first, b1.Data[0])
	}
	if b2.Data[0] == first {
		t.Errorf("both clouds gave balance loss %v", first)
	}
}
