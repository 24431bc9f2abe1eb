package fps

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naive is an independent, straightforward pointnet2_ops / plain FPS written
// from the semantics in the package documentation, one loop, no tricks.
func naive(xyz []float32, m int, plain bool, start int) []int32 {
	n := len(xyz) / 3
	temp := make([]float32, n)
	for i := range temp {
		if plain {
			temp[i] = float32(math.Inf(1))
		} else {
			temp[i] = 1e10
		}
	}
	out := make([]int32, m)
	old := 0
	if plain {
		old = start
	}
	out[0] = int32(old)
	for j := 1; j < m; j++ {
		besti, best := 0, float32(-1)
		x1, y1, z1 := xyz[3*old], xyz[3*old+1], xyz[3*old+2]
		for k := 0; k < n; k++ {
			x2, y2, z2 := xyz[3*k], xyz[3*k+1], xyz[3*k+2]
			mag := float32(x2*x2) + float32(y2*y2) + float32(z2*z2)
			if !plain && float64(mag) <= 1e-3 {
				continue
			}
			d := float32((x2-x1)*(x2-x1)) + float32((y2-y1)*(y2-y1))
			d = d + float32((z2-z1)*(z2-z1))
			d2 := min(d, temp[k])
			temp[k] = d2
			if d2 > best {
				besti, best = k, d2
			}
		}
		old = besti
		out[j] = int32(old)
	}
	return out
}

// cloud makes a random cloud with some points near the origin and some exact
// duplicates and lattice points, so that ties happen.
func cloud(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	xyz := make([]float32, 3*n)
	for i := 0; i < n; i++ {
		switch {
		case i%17 == 3: // near the origin: skipped by pointnet2
			for k := 0; k < 3; k++ {
				xyz[3*i+k] = float32(r.Float64()*0.02 - 0.01)
			}
		case i%11 == 5 && i > 0: // duplicate of an earlier point
			copy(xyz[3*i:3*i+3], xyz[3*(i/2):3*(i/2)+3])
		case i%7 == 2: // lattice: many equal distances
			for k := 0; k < 3; k++ {
				xyz[3*i+k] = float32(r.IntN(5)-2) * 0.5
			}
		default:
			for k := 0; k < 3; k++ {
				xyz[3*i+k] = float32(r.NormFloat64())
			}
		}
	}
	return xyz
}

func equal(t *testing.T, name string, got, want []int32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d indices, want %d", name, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: index %d is %d, want %d", name, i, got[i], want[i])
		}
	}
}

func TestSampleMatchesNaive(t *testing.T) {
	for _, tc := range []struct {
		n, m    int
		plain   bool
		start   int
		workers int
	}{
		{1, 1, false, 0, 1},
		{7, 7, false, 0, 1},
		{9, 5, true, 3, 1},
		{100, 30, false, 0, 1},
		{100, 30, true, 99, 1},
		{1000, 200, false, 0, 2},
		{2048, 128, false, 0, 1},
		{40000, 64, false, 0, 2}, // split across cores
		{40000, 64, true, 5, 3},
		{40001, 50, false, 0, 4},
	} {
		name := fmt.Sprintf("n%d_m%d_plain%v_w%d", tc.n, tc.m, tc.plain, tc.workers)
		t.Run(name, func(t *testing.T) {
			xyz := cloud(tc.n, uint64(tc.n))
			mode := PointNet2
			if tc.plain {
				mode = Plain
			}
			got, err := Sample(xyz, tc.m, Options{Mode: mode, Start: tc.start, Workers: tc.workers})
			if err != nil {
				t.Fatal(err)
			}
			equal(t, name, got, naive(xyz, tc.m, tc.plain, tc.start))
		})
	}
}

func TestScalarAndVectorKernelsAgree(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2 on this CPU")
	}
	xyz := cloud(1003, 7)
	s1, _ := newSampler(xyz, PointNet2)
	s2, _ := newSampler(xyz, PointNet2)
	useAVX2 = false
	a := make([]int32, 300)
	s1.run(a, 0, PointNet2)
	useAVX2 = true
	b := make([]int32, 300)
	s2.run(b, 0, PointNet2)
	equal(t, "scalar vs avx2", a, b)
	for i := range s1.d {
		if s1.d[i] != s2.d[i] {
			t.Fatalf("running distance %d: scalar %v, avx2 %v", i, s1.d[i], s2.d[i])
		}
	}
}

func TestTiesGoToLowestIndex(t *testing.T) {
	// A square: after point 0, points 1 and 3 are equally far (distance 1),
	// point 2 farther; then 1 and 3 tie and the lower index must win.
	xyz := []float32{1, 0, 0, 2, 0, 0, 2, 1, 0, 1, 1, 0}
	got, err := Sample(xyz, 4, Options{})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "square", got, []int32{0, 2, 1, 3})
	// Sixteen copies of one point (more than a vector width): after the
	// first pick every running distance is 0, so the lowest index, 0, wins.
	dup := make([]float32, 3*16)
	for i := 0; i < 16; i++ {
		dup[3*i] = 1
	}
	got, _ = Sample(dup, 3, Options{})
	equal(t, "duplicates", got, []int32{0, 0, 0})
}

func TestNearOriginNeverChosen(t *testing.T) {
	xyz := []float32{0.5, 0, 0, 0.01, 0.01, 0.01, -0.5, 0, 0, 0, 0.02, 0}
	got, _ := Sample(xyz, 4, Options{})
	// Points 1 and 3 are within |p|² ≤ 1e-3: after 0 and 2 nothing is left,
	// and pointnet2 returns index 0.
	equal(t, "pointnet2", got, []int32{0, 2, 0, 0})
	got, _ = Sample(xyz, 4, Options{Mode: Plain})
	equal(t, "plain", got, naive(xyz, 4, true, 0))
	// Point 0 near the origin is still the first pick.
	xyz[0] = 0
	got, _ = Sample(xyz, 2, Options{})
	equal(t, "origin first", got, []int32{0, 2})
}

func TestSampleBatch(t *testing.T) {
	const b, n, m = 5, 333, 40
	xyz := make([]float32, 0, b*n*3)
	for i := 0; i < b; i++ {
		xyz = append(xyz, cloud(n, uint64(100+i))...)
	}
	got, err := SampleBatch(xyz, b, n, m, Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < b; i++ {
		equal(t, fmt.Sprint("cloud ", i), got[i*m:(i+1)*m], naive(xyz[i*n*3:(i+1)*n*3], m, false, 0))
	}
}

func TestErrors(t *testing.T) {
	nan := []float32{0, 0, 0, float32(math.NaN()), 1, 1}
	for _, tc := range []struct {
		name string
		err  func() error
	}{
		{"empty", func() error { _, err := Sample(nil, 1, Options{}); return err }},
		{"ragged", func() error { _, err := Sample([]float32{1, 2}, 1, Options{}); return err }},
		{"too many", func() error { _, err := Sample(cloud(4, 1), 5, Options{}); return err }},
		{"zero", func() error { _, err := Sample(cloud(4, 1), 0, Options{}); return err }},
		{"start", func() error { _, err := Sample(cloud(4, 1), 2, Options{Mode: Plain, Start: 4}); return err }},
		{"nan", func() error { _, err := Sample(nan, 2, Options{}); return err }},
		{"batch nan", func() error { _, err := SampleBatch(append(cloud(2, 1), nan...), 2, 2, 1, Options{}); return err }},
		{"batch shape", func() error { _, err := SampleBatch(cloud(5, 1), 2, 3, 1, Options{}); return err }},
	} {
		if err := tc.err(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func BenchmarkBatch32x8192to1024(b *testing.B) {
	const bs, n, m = 32, 8192, 1024
	xyz := make([]float32, 0, bs*n*3)
	for i := 0; i < bs; i++ {
		xyz = append(xyz, cloud(n, uint64(i))...)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := SampleBatch(xyz, bs, n, m, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*bs), "ms/cloud")
}

func BenchmarkLarge100000to4096(b *testing.B) {
	xyz := cloud(100000, 3)
	for i := 0; i < b.N; i++ {
		if _, err := Sample(xyz, 4096, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
