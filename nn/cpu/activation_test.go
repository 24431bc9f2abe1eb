package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestNormCDFAccuracy(t *testing.T) {
	var worstCDF, worstPDF, worstExp float64
	for i := -100000; i <= 100000; i++ {
		x := float32(i) * 9e-5 // [-9, 9]
		cdf, pdf := normCDF(x)
		w := float64(x)
		worstCDF = math.Max(worstCDF, math.Abs(float64(cdf)-0.5*(1+math.Erf(w/math.Sqrt2))))
		wantPDF := math.Exp(-w*w/2) / math.Sqrt(2*math.Pi)
		worstPDF = math.Max(worstPDF, math.Abs(float64(pdf)-wantPDF))
		if x <= 0 {
			e := math.Exp(w)
			worstExp = math.Max(worstExp, math.Abs(float64(expf(x))-e)/e)
		}
	}
	if worstCDF > 3e-7 || worstPDF > 2e-7 || worstExp > 5e-7 {
		t.Errorf("worst errors: Φ %.2g, φ %.2g, exp (relative) %.2g", worstCDF, worstPDF, worstExp)
	}
}

// TestQuickGELU: QuickGELU against x·σ(z) in float64, z = 1.702·x rounded
// to float32 as PyTorch's float32 forms it, per element within 1e-6
// relative; its derivative, of magnitude ≤ 1.1, within 1e-6 absolute (it
// crosses zero near x = -1.6). Over [-12, 12] and at the extremes.
func TestQuickGELU(t *testing.T) {
	var x []float32
	for i := -60000; i <= 60000; i++ {
		x = append(x, float32(i)*2e-4)
	}
	x = append(x, -3e38, 3e38, -1e-30, 1e-30, 0, -200, 200)
	out := make([]float32, len(x))
	dx := make([]float32, len(x))
	ones := make([]float32, len(x))
	for i := range ones {
		ones[i] = 1
	}
	GELUForward(out, x, GELUQuick)
	GELUBackward(dx, ones, x, GELUQuick, true)
	var worstF, worstB float64
	for i, v := range x {
		w := float64(v)
		s := 1 / (1 + math.Exp(-float64(float32(1.702)*v)))
		f, d := w*s, s+1.702*w*s*(1-s)
		if math.IsNaN(float64(out[i])) || math.IsNaN(float64(dx[i])) {
			t.Fatalf("x = %g: NaN (out %g, dx %g)", v, out[i], dx[i])
		}
		worstF = math.Max(worstF, math.Abs(float64(out[i])-f)/math.Max(math.Abs(f), 1e-30))
		worstB = math.Max(worstB, math.Abs(float64(dx[i])-d))
	}
	if worstF > 1e-6 || worstB > 1e-6 {
		t.Errorf("worst errors: forward %.2g (relative), backward %.2g (absolute)", worstF, worstB)
	}
}

// TestGELUKindString names the kinds, and an unknown one by its number.
func TestGELUKindString(t *testing.T) {
	for k, want := range map[GELUKind]string{GELUExact: "exact", GELUTanh: "tanh", GELUQuick: "quick", 7: "GELUKind(7)"} {
		if got := k.String(); got != want {
			t.Errorf("GELUKind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

// TestSoftmaxRowsFourAtATime: the softmax and its gradient, four rows at a
// time, give each row's one-row values bit for bit, for every row count
// around four and rows of several lengths, in place and not.
func TestSoftmaxRowsFourAtATime(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, c := range []int{1, 7, 65, 130} {
		for rows := range 10 {
			x := make([]float32, rows*c)
			d := make([]float32, rows*c)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 8)
				d[i] = float32(r.NormFloat64())
			}
			want := make([]float32, len(x))
			for row := range rows {
				SoftmaxRowsSerial(want[row*c:(row+1)*c], x[row*c:(row+1)*c], 0, 1, c)
			}
			got := make([]float32, len(x))
			SoftmaxRowsSerial(got, x, 0, rows, c)
			sameBits32(t, fmt.Sprintf("softmax c=%d rows=%d", c, rows), got, want)
			inPlace := append([]float32(nil), x...)
			SoftmaxRows(inPlace, inPlace, rows, c)
			sameBits32(t, fmt.Sprintf("softmax in place c=%d rows=%d", c, rows), inPlace, want)

			wantD := append([]float32(nil), d...)
			for row := range rows {
				SoftmaxGradRowsSerial(wantD[row*c:(row+1)*c], want[row*c:(row+1)*c], 0, 1, c, 1)
			}
			gotD := append([]float32(nil), d...)
			SoftmaxGradRowsSerial(gotD, want, 0, rows, c, 1)
			sameBits32(t, fmt.Sprintf("gradient c=%d rows=%d", c, rows), gotD, wantD)
			// With a scale, each value is the unscaled one times it.
			for _, sc := range []float32{0.125, 0.3} {
				gotS := append([]float32(nil), d...)
				SoftmaxGradRowsSerial(gotS, want, 0, rows, c, sc)
				wantS := make([]float32, len(wantD))
				for i, v := range wantD {
					wantS[i] = v * sc
				}
				sameBits32(t, fmt.Sprintf("gradient c=%d rows=%d scale %v", c, rows, sc), gotS, wantS)
			}
			for row := range rows { // the one-row path is d = y⊙(d - Dot(y, d))
				yr, dr := want[row*c:(row+1)*c], d[row*c:(row+1)*c]
				dot := Dot(yr, dr)
				for i, v := range yr {
					if g := wantD[row*c+i]; math.Float32bits(g) != math.Float32bits(v*(dr[i]-dot)) {
						t.Fatalf("gradient c=%d row %d [%d]: %v, want %v", c, row, i, g, v*(dr[i]-dot))
					}
				}
			}
		}
	}
}
