package optim

import (
	"runtime"
	"slices"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

// TestFineTuneStepRepeatsAcrossCores: two full fine-tuning steps of a small
// Point-MAE (grouping, mini-PointNet encoder over 4096 grouped points, a block,
// head with BatchNorm and dropout, gradient clipping, AdamW) leave the same
// weights, bit for bit, under GOMAXPROCS 1, 2, 4 and 8. The 260 token rows
// of 256 channels are enough for the LayerNorms to split their work.
func TestFineTuneStepRepeatsAcrossCores(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	const b, n = 4, 512
	cfg := backbone.Config{TransDim: 256, Depth: 1, Heads: 4, Classes: 5, NumGroup: 64, GroupSize: 16, NPoints: n,
		DropPath: 0.1, HeadDropout: 0.5, PosEveryBlock: true}
	xyz := make([]float32, b*n*3)
	r := pointcloud.NewRand(7)
	for i := range xyz {
		xyz[i] = float32(r.NormFloat64())
	}
	var first [][]float32
	for _, procs := range []int{1, 2, 4, 8} {
		runtime.GOMAXPROCS(procs)
		m, err := backbone.NewPointMAE(cfg, pointcloud.NewRand(1))
		if err != nil {
			t.Fatal(err)
		}
		ps := m.Params()
		opt := NewAdamW(ps, 0.05)
		dr := pointcloud.NewRand(2)
		var norms []float64
		for step := 0; step < 2; step++ {
			g, err := m.Group(xyz, b, n)
			if err != nil {
				t.Fatal(err)
			}
			ps.ZeroGrad()
			tp := nn.NewTape(true)
			loss := nn.CrossEntropy(tp, m.Forward(tp, g, dr), []int{0, 3, 1, 4}, 0.1)
			tp.Backward(loss)
			norms = append(norms, ClipGradNorm(opt.Params, 10))
			opt.Step(1e-3)
		}
		var got [][]float32
		for _, p := range ps {
			got = append(got, slices.Clone(p.Data))
		}
		if first == nil {
			first = got
			t.Logf("gradient norms %v", norms)
			continue
		}
		for i, p := range ps {
			if !slices.Equal(got[i], first[i]) {
				t.Errorf("GOMAXPROCS=%d: %s differs from GOMAXPROCS=1", procs, p.Name)
			}
		}
	}
}
