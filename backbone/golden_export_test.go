package backbone

import (
	"testing"

	"github.com/pcx-dev/pcx/internal/goldentest"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

// TestGoldenExportPointMAE: PyTorch's Point-MAE classifier loads the
// checkpoints pcx writes for its full and linear methods strictly and gives
// pcx's logits (see goldentest.CheckExport and scripts/golden_export.py).
func TestGoldenExportPointMAE(t *testing.T) {
	c := loadPointMAEGolden(t)["tiny_train"]
	for _, method := range []string{"full", "linear"} {
		m, _ := buildGolden(t, c, "splitmix")
		if method == "linear" { // adapters.Linear's trainable set: the head
			m.Params().Freeze()
			m.Head.Params().Unfreeze()
		}
		in := c.Inputs
		g := GroupAt(goldentest.F32(in.Points.Data), c.Config.B, c.Config.N, goldentest.I32(in.CenterIdx.Data),
			goldentest.I32(in.KnnIdx.Data), m.Cfg.NumGroup, m.Cfg.GroupSize)
		logits := m.Forward(nn.NoGrad(), g, pointcloud.NewRand(1))
		goldentest.CheckExport(t, "pointmae_"+method, goldentest.ExportCase{Model: "pointmae", Fixture: "pointmae.json",
			Case: "tiny_train", InputsCase: "tiny_train"}, m.Params(), goldentest.ExportOptimizer(m.Params()), logits)
	}
}
