package adapters

import (
	"math/rand/v2"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/internal/goldentest"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

// TestGoldenExportDAPT: PyTorch's DAPT, DAPT-X and DAPT-X with KeepDAPT
// load the checkpoints pcx writes for them strictly and give pcx's logits
// (see goldentest.CheckExport and scripts/golden_export.py).
func TestGoldenExportDAPT(t *testing.T) {
	dapt := loadDAPTGolden(t)["tiny_train"]
	daptx := loadDAPTXGolden(t)
	type model interface {
		Params() nn.Params
		Forward(*nn.Tape, backbone.Input, *rand.Rand) *nn.Tensor
	}
	run := func(name string, c goldentest.ExportCase, m model, norm []string, in daptCase, groups, size int) {
		t.Helper()
		nw := map[string]bool{}
		for _, k := range norm {
			nw[k] = true
		}
		goldentest.SplitmixInit(m.Params(), nw)
		g := backbone.GroupAt(goldentest.F32(in.Inputs.Points.Data), in.Config.B, in.Config.N, goldentest.I32(in.Inputs.CenterIdx.Data),
			goldentest.I32(in.Inputs.KnnIdx.Data), groups, size)
		logits := m.Forward(nn.NoGrad(), g, pointcloud.NewRand(1))
		goldentest.CheckExport(t, name, c, m.Params(), goldentest.ExportOptimizer(m.Params()), logits)
	}

	bc := dapt.Config
	base := backbone.Config{TransDim: bc.TransDim, Depth: bc.Depth, Heads: bc.Heads, Classes: bc.Classes,
		NumGroup: bc.NumGroup, GroupSize: bc.GroupSize}
	d, err := NewDAPT(DAPTConfig{Config: base, Rank: bc.Rank, Head: HeadTokens{Cls: true, Prompt: tokenKind(bc.Prompt), Patch: tokenKind(bc.Patch)}},
		pointcloud.NewRand(0))
	if err != nil {
		t.Fatal(err)
	}
	run("dapt", goldentest.ExportCase{Model: "dapt", Fixture: "dapt.json", Case: "tiny_train", InputsCase: "tiny_train"},
		d, dapt.NormWeightKeys, dapt, bc.NumGroup, bc.GroupSize)

	xbase := daptx("tiny_train")
	for _, name := range []string{"tiny_train", "tiny_keepdapt_train"} {
		c := daptx(name)
		xc := c.Config
		cfg := DAPTXConfig{DAPTConfig: DAPTConfig{Config: backbone.Config{TransDim: xc.TransDim, Depth: xc.Depth, Heads: xc.Heads,
			Classes: xc.Classes, NumGroup: xc.NumGroup, GroupSize: xc.GroupSize}, Rank: xc.Rank, Head: HeadTokens{Cls: true, Prompt: "mean", Patch: "max"}},
			SMoAHeads: xc.SMoAHeads, Experts: xc.Experts, Alpha: 0.01, KeepDAPT: xc.KeepDAPT, AdapterRank: xc.AdapterRank}
		x, err := NewDAPTX(cfg, pointcloud.NewRand(0))
		if err != nil {
			t.Fatal(err)
		}
		export := "daptx"
		if xc.KeepDAPT {
			export = "daptx_keepdapt"
		}
		run(export, goldentest.ExportCase{Model: "daptx", Fixture: "daptx.json", Case: name, InputsCase: "tiny_train"},
			x, c.NormWeightKeys, xbase.daptCase, xc.NumGroup, xc.GroupSize)
	}
}
