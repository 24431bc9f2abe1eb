package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// geluTestInputs returns values across the range GELU sees and its edges:
// a dense grid over [-12, 12], random normals at several scales, signed
// zeros, subnormals, the cut-off of expf, infinities and NaN.
func geluTestInputs() []float32 {
	var x []float32
	for i := -120000; i <= 120000; i++ {
		x = append(x, float32(i)*1e-4)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range []float64{1e-3, 1, 4, 30, 1e4} {
		for range 20000 {
			x = append(x, float32(r.NormFloat64()*s))
		}
	}
	x = append(x, 0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, -13.19, -13.2, 13.2,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.MaxFloat32, -math.MaxFloat32)
	return x
}

// TestGELUExactVectorMatchesScalar: the AVX2 and AVX-512 kernels give
// normCDF's results bit for bit, forward and backward, for every length (so
// the split between kernel and scalar tail, which follows the core count,
// changes nothing).
func TestGELUExactVectorMatchesScalar(t *testing.T) {
	if !geluVector {
		t.Skip("no vector GELU kernels on this CPU")
	}
	x := geluTestInputs()
	// The edge cases (the last 16) first, where every kernel reads them.
	x = slices.Concat(x[len(x)-16:], x[:len(x)-16])
	r := rand.New(rand.NewPCG(3, 4))
	dout := make([]float32, len(x))
	dx0 := make([]float32, len(x))
	for i := range dout {
		dout[i] = float32(r.NormFloat64())
		dx0[i] = float32(r.NormFloat64())
	}
	for i := range 16 {
		dout[i] = -1 // GELU'(x)·dout is -0 at x = -13.2 and -Inf
	}
	same := func(a, b float32) bool {
		return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
	}
	widths := map[bool]int{false: 8}
	if geluAVX512 {
		widths[true] = 16
	}
	defer func(v bool) { geluAVX512 = v }(geluAVX512)
	for wide, w := range widths {
		geluAVX512 = wide
		out := make([]float32, len(x))
		dx := append([]float32(nil), dx0...)
		n := len(x) &^ (w - 1)
		if got := geluExactVec(out, x); got != n {
			t.Fatalf("%d lanes: forward kernel covered %d of %d", w, got, len(x))
		}
		if got := geluExactBackVec(dx, dout, x, true); got != n {
			t.Fatalf("%d lanes: backward kernel covered %d of %d", w, got, len(x))
		}
		set := make([]float32, len(x))
		for i := range set {
			set[i] = float32(math.NaN()) // what a fresh buffer may hold
		}
		geluExactBackVec(set, dout, x, false)
		for i, v := range x[:n] {
			cdf, pdf := normCDF(v)
			if want := v * cdf; !same(out[i], want) {
				t.Fatalf("%d lanes: forward at x = %g (bits %#x): kernel %g, scalar %g", w, v, math.Float32bits(v), out[i], want)
			}
			if want := dx0[i] + float32((cdf+float32(v*pdf))*dout[i]); !same(dx[i], want) {
				t.Fatalf("%d lanes: backward at x = %g: kernel %g, scalar %g", w, v, dx[i], want)
			}
			if want := 0 + float32((cdf+float32(v*pdf))*dout[i]); math.Float32bits(set[i]) != math.Float32bits(want) && !(want != want && set[i] != set[i]) {
				t.Fatalf("%d lanes: backward without accumulating at x = %g (dout %g): kernel %g, scalar %g", w, v, dout[i], set[i], want)
			}
		}
	}
	// Every tail length through the exported entry points: pairs of
	// vectors, one vector, the scalar rest.
	for n := range 70 {
		xs := x[len(x)/2 : len(x)/2+n]
		o := make([]float32, n)
		GELUForward(o, xs, GELUExact)
		d := make([]float32, n)
		GELUBackward(d, dout[:n], xs, GELUExact, false)
		for i, v := range xs {
			cdf, pdf := normCDF(v)
			if !same(o[i], v*cdf) {
				t.Fatalf("length %d, element %d: %g, want %g", n, i, o[i], v*cdf)
			}
			if want := 0 + float32((cdf+float32(v*pdf))*dout[i]); !same(d[i], want) {
				t.Fatalf("length %d, element %d: backward %g, want %g", n, i, d[i], want)
			}
		}
	}
}

func BenchmarkGELUExact(b *testing.B) {
	x := make([]float32, 1<<16)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	out := make([]float32, len(x))
	b.Run("forward", func(b *testing.B) {
		b.SetBytes(4 * int64(len(x)))
		for b.Loop() {
			GELUForward(out, x, GELUExact)
		}
	})
	b.Run("backward", func(b *testing.B) {
		b.SetBytes(4 * int64(len(x)))
		for b.Loop() {
			GELUBackward(out, x, x, GELUExact, true)
		}
	})
	b.Run("scalar", func(b *testing.B) {
		b.SetBytes(4 * int64(len(x)))
		for b.Loop() {
			for i, v := range x {
				cdf, _ := normCDF(v)
				out[i] = v * cdf
			}
		}
	})
}

// TestCDF512X2IsCDF512Twice checks gelu_amd64.s: CDF512X2 must be CDF512's
// instructions, each followed by the same instruction on the second
// vector's registers (Z16 for Z0, Z17-Z27 for Z1-Z11, K4-K6 for K1-K3; the
// constants Z14 and Z15 shared), so that the two-vector loops compute what
// the one-vector loop does.
func TestCDF512X2IsCDF512Twice(t *testing.T) {
	checkInterleaved(t, "gelu_amd64.s", "CDF512", "CDF512X2", func(kind byte, n int) string {
		switch {
		case kind == 'K':
			return fmt.Sprintf("K%d", n+3)
		case n == 14 || n == 15:
			return fmt.Sprintf("Z%d", n)
		}
		return fmt.Sprintf("Z%d", n+16)
	})
}

// checkInterleaved checks that macro two of the assembly file is macro
// one's instructions, each followed by the same instruction with every
// register named as second names it (second gets the register's letter, Z,
// Y or K, and number).
func checkInterleaved(t *testing.T, file, one, two string, second func(kind byte, n int) string) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	body := func(name string) []string {
		_, rest, ok := strings.Cut(string(src), "#define "+name+" \\\n")
		if !ok {
			t.Fatalf("%s: no macro %s", file, name)
		}
		var lines []string
		for _, l := range strings.Split(rest, "\n") {
			cont := strings.HasSuffix(l, "\\")
			l = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(l, "\\")), ";"))
			lines = append(lines, l)
			if !cont {
				break
			}
		}
		return lines
	}
	reg := regexp.MustCompile(`\b([ZYK])(\d+)\b`)
	rename := func(l string) string {
		return reg.ReplaceAllStringFunc(l, func(r string) string {
			n, _ := strconv.Atoi(r[1:])
			return second(r[0], n)
		})
	}
	a, b := body(one), body(two)
	if len(a) < 20 || len(b) != 2*len(a) {
		t.Fatalf("%s has %d instructions, %s %d: want twice as many", one, len(a), two, len(b))
	}
	for i, l := range a {
		if b[2*i] != l || b[2*i+1] != rename(l) {
			t.Fatalf("%s instructions %d-%d are %q, %q; want %q, %q", two, 2*i, 2*i+1, b[2*i], b[2*i+1], l, rename(l))
		}
	}
}
