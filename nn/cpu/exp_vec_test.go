package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestExpShiftedMatchesMathExp: the vector exp of the softmax gives
// float32(math.Exp(float64(x-m))) bit for bit, across the range a softmax
// sees and past the ends of the kernel's range (±700, NaN, infinities, where
// the scalar code takes over), for every length and offset, with the AVX2
// kernel and, where the CPU has it, the AVX-512 one.
func TestExpShiftedMatchesMathExp(t *testing.T) {
	if !expVector {
		t.Skip("no vector exp on this CPU")
	}
	has512 := expAVX512
	defer func() { expAVX512 = has512 }()
	for _, wide := range []bool{false, true} {
		if wide && !has512 {
			continue
		}
		expAVX512 = wide
		t.Run(map[bool]string{false: "avx2", true: "avx512"}[wide], testExpShifted)
	}
}

func testExpShifted(t *testing.T) {
	var x []float32
	for i := -200000; i <= 20000; i++ {
		x = append(x, float32(i)*1e-3)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range []float64{1e-6, 1e-2, 1, 30, 300, 1e4} {
		for range 20000 {
			x = append(x, float32(r.NormFloat64()*s))
		}
	}
	x = append(x, 0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, -699.99, -700, -700.01, 699.99, 700.01,
		-745.2, -745.1, -708.4, 709.7, 709.8, -87.4, -103.9, -104, 88.8,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.MaxFloat32, -math.MaxFloat32)
	for _, m := range []float32{0, 1.5, -3, 650, float32(math.Inf(-1))} {
		got := make([]float32, len(x))
		expShifted(got, x, m)
		if n := expShiftedVec(got, x[:len(x)-24], m); m == 0 && n < len(x)/2 {
			t.Fatalf("m=%v: the kernel took only %d of %d values", m, n, len(x))
		}
		for i, v := range x {
			want := float32(math.Exp(float64(v - m)))
			if math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Fatalf("m=%v x=%v: exp %v (%#x), math.Exp %v (%#x)", m, v, got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
			}
		}
	}
	// Every split between kernel and scalar code gives the same values.
	for off := 0; off < 8; off++ {
		for n := 0; n < 40; n++ {
			in := x[100000+off : 100000+off+n]
			got := make([]float32, n)
			expShifted(got, in, 0.25)
			for i, v := range in {
				if want := float32(math.Exp(float64(v - 0.25))); math.Float32bits(got[i]) != math.Float32bits(want) {
					t.Fatalf("offset %d length %d: value %d differs", off, n, i)
				}
			}
		}
	}
}
