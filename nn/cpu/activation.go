package cpu

import (
	"fmt"
	"math"
)

// GELUKind selects the variant of GELU that GELUForward and GELUBackward
// compute.
type GELUKind int

const (
	// GELUExact is x·Φ(x), Φ the normal CDF through erf (PyTorch's
	// F.gelu).
	GELUExact GELUKind = iota
	// GELUTanh is the tanh approximation 0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³)))
	// (F.gelu(x, approximate="tanh")).
	GELUTanh
	// GELUQuick is QuickGELU, x·σ(1.702·x) (CLIP's and NOAH's ViT
	// adapters' activation).
	GELUQuick
)

// quickGELUAlpha is QuickGELU's 1.702, rounded to float32 as PyTorch's
// float32 tensors hold it.
const quickGELUAlpha float32 = 1.702

// String returns the kind's name.
func (k GELUKind) String() string {
	switch k {
	case GELUExact:
		return "exact"
	case GELUTanh:
		return "tanh"
	case GELUQuick:
		return "quick"
	}
	return fmt.Sprintf("GELUKind(%d)", int(k))
}

// GELUForward applies GELU of the given kind: exact (x·Φ(x), Φ the normal
// CDF through erf), the tanh approximation, or QuickGELU (x·σ(1.702·x)).
// The exact form evaluates Φ in float32 with an absolute error ≤ 3e-7
// (measured on [-9, 9], see normCDF and TestNormCDFAccuracy), the size of
// float32 rounding. QuickGELU forms z = 1.702·x in float32, as PyTorch's
// float32 does, then σ(z) and the product in float64, rounded once. Any
// other kind panics (a programming error).
func GELUForward(out, x []float32, kind GELUKind) {
	mustGELUKind(kind)
	ParallelRows(len(x), 16384, func(lo, hi int) {
		switch kind {
		case GELUQuick:
			for i := lo; i < hi; i++ {
				v := x[i]
				out[i] = float32(float64(v) * sigmoid64(quickGELUAlpha*v))
			}
		case GELUTanh:
			for i := lo; i < hi; i++ {
				w := float64(x[i])
				out[i] = float32(0.5 * w * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(w+0.044715*w*w*w))))
			}
		default:
			for i := lo + geluExactVec(out[lo:hi], x[lo:hi]); i < hi; i++ {
				v := x[i]
				cdf, _ := normCDF(v)
				out[i] = v * cdf
			}
		}
	})
}

// GELUBackward accumulates dx += dout·GELU'(x) for the given kind, or, when
// acc is false, sets dx = 0 + dout·GELU'(x) without reading dx (the values
// of accumulating into zeros). For QuickGELU, GELU'(x) = σ(z) +
// 1.702·x·σ(z)·(1−σ(z)), z = 1.702·x, in float64 and rounded once. Any
// other kind panics (a programming error).
func GELUBackward(dx, dout, x []float32, kind GELUKind, acc bool) {
	mustGELUKind(kind)
	put := func(i int, v float32) {
		if acc {
			dx[i] += v
		} else {
			dx[i] = 0 + v
		}
	}
	ParallelRows(len(x), 16384, func(lo, hi int) {
		switch kind {
		case GELUQuick:
			for i := lo; i < hi; i++ {
				v := x[i]
				s := sigmoid64(quickGELUAlpha * v)
				d := float32(s + float64(quickGELUAlpha)*float64(v)*s*(1-s))
				put(i, d*dout[i])
			}
		case GELUTanh:
			for i := lo; i < hi; i++ {
				w := float64(x[i])
				const k = 0.7978845608028654 // sqrt(2/π)
				u := k * (w + 0.044715*w*w*w)
				t := math.Tanh(u)
				d := float32(0.5*(1+t) + 0.5*w*(1-t*t)*k*(1+3*0.044715*w*w))
				put(i, d*dout[i])
			}
		default:
			for i := lo + geluExactBackVec(dx[lo:hi], dout[lo:hi], x[lo:hi], acc); i < hi; i++ {
				v := x[i]
				cdf, pdf := normCDF(v)
				d := cdf + float32(v*pdf)
				put(i, float32(d*dout[i])) // unfused, as the kernel (see normCDF)
			}
		}
	})
}

// mustGELUKind panics on a kind that is none of the three.
func mustGELUKind(k GELUKind) {
	if k < GELUExact || k > GELUQuick {
		panic(fmt.Sprintf("cpu: unknown GELU kind %d", int(k)))
	}
}

// sigmoid64 returns 1/(1+e^(−z)) in float64 for a float32 z: 0 where e^(−z)
// overflows, 1 where it underflows, never a NaN for a z that is not one.
func sigmoid64(z float32) float64 {
	return 1 / (1 + math.Exp(-float64(z)))
}

// The constants of normCDF and expf, as float32. The AVX2 kernels read the
// same values from geluTab.
const (
	erfP    float32 = 0.3275911 // Abramowitz and Stegun 7.1.26
	erfA1   float32 = 0.254829592
	erfA2   float32 = -0.284496736
	erfA3   float32 = 1.421413741
	erfA4   float32 = -1.453152027
	erfA5   float32 = 1.061405429
	rsqrt2  float32 = 0.70710678 // 1/√2
	rsqrt2π float32 = 0.39894228 // 1/√(2π)

	expMin   float32 = -87 // expf returns 0 below
	invLn2   float32 = 1.44269504
	ln2Hi    float32 = 0.693359375
	ln2Lo    float32 = -2.12194440e-4
	expC720  float32 = 1.0 / 720
	expC120  float32 = 1.0 / 120
	expC24   float32 = 1.0 / 24
	expC6    float32 = 1.0 / 6
	expBias          = 127 // float32's exponent bias
	expShift         = 23  // float32's mantissa bits
)

// normCDF returns Φ(x) and the normal density φ(x) in float32. erf(x/√2)
// uses Abramowitz and Stegun 7.1.26 (absolute error ≤ 1.5e-7 in exact arithmetic), whose
// exp(-x²/2) factor is the density's too, so one exponential serves both.
//
// Every product that an addition follows is converted to float32 explicitly:
// the Go compiler may otherwise fuse the two into one multiply-add (it does
// with GOAMD64=v3), and the AVX2 kernels, which round each operation, would
// then disagree with this code in the last bit.
func normCDF(x float32) (cdf, pdf float32) {
	z := x * rsqrt2
	az := z
	if az < 0 {
		az = -az
	}
	e := expf(-z * z)
	t := 1 / (float32(erfP*az) + 1)
	q := float32(erfA5*t) + erfA4
	q = float32(q*t) + erfA3
	q = float32(q*t) + erfA2
	q = float32(q*t) + erfA1
	erf := 1 - float32(float32(q*t)*e)
	if z < 0 {
		erf = -erf
	}
	return 0.5 * (1 + erf), e * rsqrt2π
}

// expf is exp for float32 arguments ≤ 0 (as normCDF needs): range reduction
// by ln 2 and a degree-6 polynomial, relative error about 2e-7.
func expf(x float32) float32 {
	if x < expMin {
		return 0
	}
	n := float32(math.Floor(float64(float32(x*invLn2) + 0.5)))
	r := x - float32(n*ln2Hi)
	r -= float32(n * ln2Lo)
	p := float32(expC720*r) + expC120
	p = float32(p*r) + expC24
	p = float32(p*r) + expC6
	p = float32(p*r) + 0.5
	p = float32(p*r) + 1
	p = float32(p*r) + 1
	return math.Float32frombits(uint32(int32(n)+expBias)<<expShift) * p
}

// geluTab holds, eight times each, the constants the AVX2 kernels of
// gelu_amd64.s use, in the order of the geluTab* indices (the assembly
// addresses row i at byte 32·i).
var geluTab = func() (t [geluTabLen][8]float32) {
	for i, v := range [geluTabLen]float32{
		tabRsqrt2: rsqrt2, tabAbs: math.Float32frombits(0x7fffffff), tabSign: math.Float32frombits(0x80000000),
		tabExpMin: expMin, tabInvLn2: invLn2, tabHalf: 0.5, tabLn2Hi: ln2Hi, tabLn2Lo: ln2Lo,
		tabC720: expC720, tabC120: expC120, tabC24: expC24, tabC6: expC6, tabOne: 1,
		tabP: erfP, tabA5: erfA5, tabA4: erfA4, tabA3: erfA3, tabA2: erfA2, tabA1: erfA1,
		tabRsqrt2π: rsqrt2π, tabBias: math.Float32frombits(expBias), tabZero: 0,
	} {
		for l := range t[i] {
			t[i][l] = v
		}
	}
	return t
}()

// Rows of geluTab.
const (
	tabRsqrt2 = iota
	tabAbs
	tabSign
	tabExpMin
	tabInvLn2
	tabHalf
	tabLn2Hi
	tabLn2Lo
	tabC720
	tabC120
	tabC24
	tabC6
	tabOne
	tabP
	tabA5
	tabA4
	tabA3
	tabA2
	tabA1
	tabRsqrt2π
	tabBias
	tabZero
	geluTabLen
)

// ReLUForward applies max(x, 0).
func ReLUForward(out, x []float32) {
	for i, v := range x {
		out[i] = max(v, 0)
	}
}

// ReLUBackward accumulates dx += dout where the output was positive.
func ReLUBackward(dx, dout, out []float32) {
	for i, v := range out {
		if v > 0 {
			dx[i] += dout[i]
		}
	}
}

// SoftmaxRows writes the softmax of each row of c values.
func SoftmaxRows(out, x []float32, rows, c int) {
	ParallelRows(rows, grainFor(c), func(lo, hi int) { SoftmaxRowsSerial(out, x, lo, hi, c) })
}

// SoftmaxRowsSerial is SoftmaxRows over rows [lo, hi) on the calling
// goroutine, for callers already running in parallel. Each row's maximum
// and float64 sum run in the row's order, four rows at a time: the four
// chains of dependent additions then overlap, and each row's values stay
// those of one row alone.
func SoftmaxRowsSerial(out, x []float32, lo, hi, c int) {
	r := lo
	for ; r+4 <= hi; r += 4 {
		if softmax4Vec(out[r*c:(r+4)*c], x[r*c:(r+4)*c], c) {
			continue
		}
		x0, x1, x2, x3 := x[r*c:(r+1)*c], x[(r+1)*c:(r+2)*c], x[(r+2)*c:(r+3)*c], x[(r+3)*c:(r+4)*c]
		o0, o1, o2, o3 := out[r*c:(r+1)*c], out[(r+1)*c:(r+2)*c], out[(r+2)*c:(r+3)*c], out[(r+3)*c:(r+4)*c]
		m0, m1, m2, m3 := float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1))
		for i := range x0 {
			m0, m1, m2, m3 = max(m0, x0[i]), max(m1, x1[i]), max(m2, x2[i]), max(m3, x3[i])
		}
		expShifted(o0, x0, m0)
		expShifted(o1, x1, m1)
		expShifted(o2, x2, m2)
		expShifted(o3, x3, m3)
		var s0, s1, s2, s3 float64
		for i := range o0 {
			s0 += float64(o0[i])
			s1 += float64(o1[i])
			s2 += float64(o2[i])
			s3 += float64(o3[i])
		}
		scaleBy(o0, float32(1/s0))
		scaleBy(o1, float32(1/s1))
		scaleBy(o2, float32(1/s2))
		scaleBy(o3, float32(1/s3))
	}
	for ; r < hi; r++ {
		xr, or := x[r*c:(r+1)*c], out[r*c:(r+1)*c]
		m := float32(math.Inf(-1))
		for _, v := range xr {
			m = max(m, v)
		}
		expShifted(or, xr, m)
		var s float64
		for _, e := range or {
			s += float64(e)
		}
		scaleBy(or, float32(1/s))
	}
}

// scaleBy multiplies every value of x by s.
func scaleBy(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// expShifted writes out[i] = float32(math.Exp(float64(x[i] - m))), four at a
// time where the CPU allows (the same values: see expShiftedVec).
func expShifted(out, x []float32, m float32) {
	for i := 0; i < len(x); {
		i += expShiftedVec(out[i:], x[i:], m)
		for end := min(i+4, len(x)); i < end; i++ {
			out[i] = float32(math.Exp(float64(x[i] - m)))
		}
	}
}

// SoftmaxRowsBackward accumulates dx += y·(dy - Σ dy·y) per row.
func SoftmaxRowsBackward(dx, dy, y []float32, rows, c int) {
	ParallelRows(rows, grainFor(c), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr, dr, xr := y[r*c:(r+1)*c], dy[r*c:(r+1)*c], dx[r*c:(r+1)*c]
			dot := Dot(yr, dr)
			for i, v := range yr {
				xr[i] += v * (dr[i] - dot)
			}
		}
	})
}

// SoftmaxGradRowsSerial sets, over rows [lo, hi) of c values on the calling
// goroutine, d = y⊙(d - Σ d⊙y)·scale per row: the gradient of a softmax's
// input from that of its output y, in place, times scale (each value
// rounded before it is scaled, as a product's alpha scales it; scale 1
// changes nothing). The dot products run as Dot's, four rows at a time
// (see SoftmaxRowsSerial).
func SoftmaxGradRowsSerial(d, y []float32, lo, hi, c int, scale float32) {
	r := lo
	for ; r+4 <= hi; r += 4 {
		y0, y1, y2, y3 := y[r*c:(r+1)*c], y[(r+1)*c:(r+2)*c], y[(r+2)*c:(r+3)*c], y[(r+3)*c:(r+4)*c]
		d0, d1, d2, d3 := d[r*c:(r+1)*c], d[(r+1)*c:(r+2)*c], d[(r+2)*c:(r+3)*c], d[(r+3)*c:(r+4)*c]
		var s [4]float64
		for i := rowDots4Vec(y[r*c:], d[r*c:], c, c, &s); i < c; i++ {
			s[0] += float64(y0[i]) * float64(d0[i])
			s[1] += float64(y1[i]) * float64(d1[i])
			s[2] += float64(y2[i]) * float64(d2[i])
			s[3] += float64(y3[i]) * float64(d3[i])
		}
		softmaxGradRow(d0, y0, float32(s[0]), scale)
		softmaxGradRow(d1, y1, float32(s[1]), scale)
		softmaxGradRow(d2, y2, float32(s[2]), scale)
		softmaxGradRow(d3, y3, float32(s[3]), scale)
	}
	for ; r < hi; r++ {
		yr, dr := y[r*c:(r+1)*c], d[r*c:(r+1)*c]
		softmaxGradRow(dr, yr, Dot(yr, dr), scale)
	}
}

func softmaxGradRow(d, y []float32, dot, scale float32) {
	for i := softmaxGradRowVec(d, y, dot, scale); i < len(y); i++ {
		d[i] = float32(y[i]*(d[i]-dot)) * scale
	}
}

// Dot returns Σ a[i]·b[i], accumulated in float64 and rounded once.
func Dot(a, b []float32) float32 {
	var s float64
	for i, v := range a {
		s += float64(v) * float64(b[i])
	}
	return float32(s)
}
