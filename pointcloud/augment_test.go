package pointcloud

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		name string
		xyz  []float32
	}{
		{"offset box", []float32{10, 10, 10, 12, 10, 10, 10, 14, 10, 10, 10, 11}},
		{"one point", []float32{3, 4, 5}},
		{"coincident", []float32{1, 1, 1, 1, 1, 1}},
	} {
		xyz := append([]float32(nil), tc.xyz...)
		Normalize(xyz)
		var mean [3]float64
		maxR := 0.0
		n := len(xyz) / 3
		for i := 0; i < n; i++ {
			r := 0.0
			for k := 0; k < 3; k++ {
				mean[k] += float64(xyz[3*i+k]) / float64(n)
				r += float64(xyz[3*i+k]) * float64(xyz[3*i+k])
			}
			maxR = math.Max(maxR, math.Sqrt(r))
		}
		for k := 0; k < 3; k++ {
			if !near(mean[k], 0, 1e-6) {
				t.Errorf("%s: mean %v", tc.name, mean)
			}
		}
		if want := 1.0; n > 1 && tc.name != "coincident" && !near(maxR, want, 1e-6) {
			t.Errorf("%s: max radius %v", tc.name, maxR)
		}
	}
}

func TestScaleAndTranslateRanges(t *testing.T) {
	const b, n = 200, 2
	xyz := make([]float32, b*n*3)
	for i := 0; i < b; i++ {
		// point 0 at the origin gives the translation, point 1 at (1,1,1) scale+translation
		copy(xyz[i*6+3:i*6+6], []float32{1, 1, 1})
	}
	DefaultScaleAndTranslate(xyz, b, n, NewRand(1))
	var sMin, sMax, tMin, tMax = 9.0, 0.0, 9.0, -9.0
	distinct := map[float32]bool{}
	for i := 0; i < b; i++ {
		for k := 0; k < 3; k++ {
			tr := float64(xyz[i*6+k])
			s := float64(xyz[i*6+3+k]) - tr
			sMin, sMax = math.Min(sMin, s), math.Max(sMax, s)
			tMin, tMax = math.Min(tMin, tr), math.Max(tMax, tr)
			distinct[float32(s)] = true
		}
	}
	if sMin < 2.0/3-1e-6 || sMax > 1.5+1e-6 || sMax-sMin < 0.6 {
		t.Errorf("scales span [%v, %v], want within and most of [2/3, 3/2]", sMin, sMax)
	}
	if tMin < -0.2-1e-6 || tMax > 0.2+1e-6 || tMax-tMin < 0.3 {
		t.Errorf("shifts span [%v, %v], want within and most of [-0.2, 0.2]", tMin, tMax)
	}
	if len(distinct) < 3*b-5 {
		t.Errorf("only %d distinct scales: not per sample and per axis", len(distinct))
	}
}

func TestRotate(t *testing.T) {
	for _, tc := range []struct {
		axis Axis
		in   [3]float32
		want [3]float32
	}{
		{Z, [3]float32{1, 0, 0}, [3]float32{0, 1, 0}},
		{X, [3]float32{0, 1, 0}, [3]float32{0, 0, 1}},
		{Y, [3]float32{0, 0, 1}, [3]float32{1, 0, 0}},
		{Y, [3]float32{0, 5, 0}, [3]float32{0, 5, 0}},
	} {
		xyz := tc.in[:]
		nrm := append([]float32(nil), xyz...)
		Rotate(xyz, nrm, tc.axis, math.Pi/2)
		for k := 0; k < 3; k++ {
			if !near(float64(xyz[k]), float64(tc.want[k]), 1e-6) || !near(float64(nrm[k]), float64(tc.want[k]), 1e-6) {
				t.Errorf("axis %d: %v → %v / %v, want %v", tc.axis, tc.in, xyz, nrm, tc.want)
			}
		}
	}
	if _, err := ParseAxis("w"); err == nil {
		t.Error("ParseAxis accepted w")
	}
}

func TestJitterClips(t *testing.T) {
	xyz := make([]float32, 3000)
	Jitter(xyz, 0.01, 0.05, NewRand(2))
	var s float64
	for _, v := range xyz {
		if math.Abs(float64(v)) > 0.05+1e-7 {
			t.Fatalf("jitter %v beyond clip", v)
		}
		s += float64(v) * float64(v)
	}
	if sd := math.Sqrt(s / 3000); !near(sd, 0.01, 0.001) {
		t.Errorf("jitter sd %v, want 0.01", sd)
	}
}

func TestShuffleKeepsMesh(t *testing.T) {
	m := &Cloud{XYZ: []float32{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, Normals: []float32{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, Faces: []int32{0, 1, 2, 0, 2, 3}}
	orig := m.Clone()
	Shuffle(m, NewRand(3))
	for f := range m.Faces {
		a, b := m.Point(int(m.Faces[f])), orig.Point(int(orig.Faces[f]))
		if a != b {
			t.Fatalf("face corner %d moved: %v vs %v", f, a, b)
		}
	}
	for i := 0; i < m.Len(); i++ {
		if m.XYZ[3*i] != m.Normals[3*i] || m.XYZ[3*i+1] != m.Normals[3*i+1] {
			t.Fatal("normals no longer follow their points")
		}
	}
}

func TestBatchSubset(t *testing.T) {
	idx, err := BatchSubset(2048, 1024, NewRand(4))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int32]bool{}
	for _, i := range idx {
		if i < 0 || i >= 2048 || seen[i] {
			t.Fatalf("bad or repeated index %d", i)
		}
		seen[i] = true
	}
	xyz := make([]float32, 2*3*3)
	for i := range xyz {
		xyz[i] = float32(i)
	}
	got := GatherBatch(xyz, 2, 3, []int32{2, 0})
	want := []float32{6, 7, 8, 0, 1, 2, 15, 16, 17, 9, 10, 11}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("GatherBatch = %v, want %v", got, want)
		}
	}
	if _, err := BatchSubset(3, 4, NewRand(1)); err == nil {
		t.Error("subset larger than the cloud accepted")
	}
}
