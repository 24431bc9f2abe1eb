package cuda

import (
	"math"

	"github.com/pcx-dev/pcx/nn/cuda/check"
	"github.com/pcx-dev/pcx/points/fps"
	"github.com/pcx-dev/pcx/points/knn"
)

// The point operations' cases of `pcx selftest` (package nn/cuda/check):
// the GPU's centre and neighbour indices equal fps's and knn's exactly.
func init() {
	check.Register("fps", false, caseFPS)
	check.Register("knn_group", false, caseGroup)
}

// clouds returns b clouds of n points on and near a unit sphere, with
// exact duplicates (ties) and, in each cloud, a few points within the
// pointnet2 skip radius of the origin.
func clouds(e *check.Env, b, n int) []float32 {
	xyz := make([]float32, b*n*3)
	for i := 0; i < b*n; i++ {
		x, y, z := e.Rand().NormFloat64(), e.Rand().NormFloat64(), e.Rand().NormFloat64()
		r := math.Sqrt(x*x+y*y+z*z) / (1 + 0.05*e.Rand().NormFloat64())
		xyz[3*i], xyz[3*i+1], xyz[3*i+2] = float32(x/r), float32(y/r), float32(z/r)
	}
	for c := 0; c < b; c++ {
		base := c * n * 3
		for j := 0; j < n/16; j++ { // duplicates
			src, dst := e.Rand().IntN(n), e.Rand().IntN(n)
			copy(xyz[base+3*dst:base+3*dst+3], xyz[base+3*src:base+3*src+3])
		}
		for j := 0; j < 3; j++ { // never chosen by pointnet2 FPS
			p := 1 + e.Rand().IntN(n-1)
			xyz[base+3*p], xyz[base+3*p+1], xyz[base+3*p+2] = 0.01, -0.01, 0.005
		}
	}
	return xyz
}

func caseFPS(e *check.Env) {
	b, n, m := e.Pick(3, 32), e.Pick(1100, 2048), e.Pick(24, 128)
	xyz := clouds(e, b, n)
	cpu, err := fps.SampleBatch(xyz, b, n, m, fps.Options{})
	if err != nil {
		e.Fail(err)
		return
	}
	var gpu []int32
	e.Timed(func() error {
		dx, idx := e.Up(xyz), e.Alloc(b*m)
		e.Fail(FPS(e.Stream(), idx, dx, b, n, m))
		gpu = e.DownIdx(idx)
		return nil
	})
	e.CmpIdx("centre_idx", gpu, cpu)
}

func caseGroup(e *check.Env) {
	b, n, g, k := e.Pick(2, 32), e.Pick(256, 2048), e.Pick(16, 128), e.Pick(8, 32)
	xyz := clouds(e, b, n)
	cpu, err := knn.Group(xyz, b, n, g, k, knn.Options{})
	if err != nil {
		e.Fail(err)
		return
	}
	var ci, idx []int32
	var cen, nb []float32
	e.Timed(func() error {
		dx := e.Up(xyz)
		gr, err := Group(e.Stream(), dx, b, n, g, k)
		if err != nil {
			return err
		}
		defer gr.Free()
		ci, cen, idx, nb = e.DownIdx(gr.CentreIdx), e.Down(gr.Centres), e.DownIdx(gr.Idx), e.Down(gr.Neighbourhoods)
		return nil
	})
	e.CmpIdx("centre_idx", ci, cpu.CentreIdx)
	e.Cmp("centres", cen, cpu.Centres)
	e.CmpIdx("neighbour_idx", idx, cpu.Idx)
	e.Cmp("neighbourhoods", nb, cpu.Neighbourhoods)
}
