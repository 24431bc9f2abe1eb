package cpu

import (
	"fmt"
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

// TestSoftmax4MatchesRows: the four-row AVX-512 softmax gives the scalar
// one-row softmax's values bit for bit for every row length, in place and
// not; it declines rows holding a NaN, an infinity or a value more than 700
// below the row's maximum, leaving out untouched, and the caller's scalar
// path then gives the same values as for one row.
func TestSoftmax4MatchesRows(t *testing.T) {
	if !expAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	r := rand.New(rand.NewPCG(7, 8))
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	oneRow := func(x []float32, c int) []float32 {
		want := make([]float32, len(x))
		for row := range len(x) / c {
			SoftmaxRowsSerial(want[row*c:(row+1)*c], x[row*c:(row+1)*c], 0, 1, c)
		}
		return want
	}
	lengths := []int{129, 200, 1000}
	for c := 1; c <= 70; c++ {
		lengths = append(lengths, c)
	}
	for _, c := range lengths {
		for _, scale := range []float64{1e-3, 1, 8, 50} {
			x := make([]float32, 4*c)
			for i := range x {
				x[i] = float32(r.NormFloat64() * scale)
			}
			if c > 2 {
				x[1], x[c+2] = 0, negZero
			}
			want := oneRow(x, c)
			got := make([]float32, len(x))
			if !softmax4Vec(got, x, c) {
				t.Fatalf("c=%d scale %v: the kernel declined ordinary rows", c, scale)
			}
			sameBits32(t, fmt.Sprintf("c=%d scale %v", c, scale), got, want)
			inPlace := append([]float32(nil), x...)
			if !softmax4Vec(inPlace, inPlace, c) {
				t.Fatalf("c=%d scale %v in place: declined", c, scale)
			}
			sameBits32(t, fmt.Sprintf("c=%d scale %v in place", c, scale), inPlace, want)
		}
		// Rows far from zero, and a value exactly 700 below the maximum,
		// are the kernel's to take.
		x := make([]float32, 4*c)
		for i := range x {
			x[i] = 1000 + float32(math.Abs(r.NormFloat64()))
		}
		if c > 1 {
			x[c-1], x[c-2] = 1700, 1000
		}
		want := oneRow(x, c)
		got := make([]float32, len(x))
		if !softmax4Vec(got, x, c) {
			t.Fatalf("c=%d: the kernel declined rows near 1000", c)
		}
		sameBits32(t, fmt.Sprintf("c=%d near 1000", c), got, want)
		// Rows the kernel must decline, the special value in each row of
		// the four in turn and at every position class.
		for _, special := range []float32{nan, inf, -inf, -710, -1e30} {
			for row := range 4 {
				for _, pos := range []int{0, c / 2, c - 1} {
					x := make([]float32, 4*c)
					for i := range x {
						x[i] = float32(r.NormFloat64())
					}
					x[row*c+pos] = special
					if c == 1 && (special == -710 || special == -1e30) {
						continue // alone in its row, it is its own maximum
					}
					got := make([]float32, len(x))
					for i := range got {
						got[i] = 42
					}
					if softmax4Vec(got, x, c) {
						t.Fatalf("c=%d: took a row holding %v", c, special)
					}
					for i, v := range got {
						if v != 42 {
							t.Fatalf("c=%d %v: declined but wrote out[%d] = %v", c, special, i, v)
						}
					}
					all := make([]float32, len(x))
					SoftmaxRowsSerial(all, x, 0, 4, c)
					sameBits32(t, fmt.Sprintf("c=%d %v in row %d at %d", c, special, row, pos), all, oneRow(x, c))
				}
			}
		}
	}
}

// TestEXP8X2IsEXP8Twice checks exp_amd64.s as TestCDF512X2IsCDF512Twice
// checks gelu_amd64.s: EXP8X2 must be EXP8's instructions, each followed by
// the same on Z16-Z19 (Y18) for Z0-Z3 (Y2).
func TestEXP8X2IsEXP8Twice(t *testing.T) {
	checkInterleaved(t, "exp_amd64.s", "EXP8", "EXP8X2", func(kind byte, n int) string {
		return fmt.Sprintf("%c%d", kind, n+16)
	})
}
