package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// rowsTestMatrix returns rows×c values: normals at several scales, with
// signed zeros, infinities, NaN and subnormals sprinkled in.
func rowsTestMatrix(r *rand.Rand, rows, c int) []float32 {
	x := make([]float32, rows*c)
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), 1e-40, -1e-40, math.MaxFloat32}
	for i := range x {
		x[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(7)-3)))
		if r.IntN(50) == 0 {
			x[i] = special[r.IntN(len(special))]
		}
	}
	return x
}

// sameBits32 requires the same bits as want (the scalar or one-row result),
// except that any NaN matches any NaN: which of two NaN operands an
// instruction returns depends on the order the compiler gives them, which
// Go leaves open.
func sameBits32(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("%s[%d]: %v (%#x), scalar %v (%#x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

func sameBits64(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Fatalf("%s[%d]: %v, scalar %v", what, i, got[i], want[i])
		}
	}
}

// TestRowKernelsMatchScalar: the vector kernels of MaxRows, ColSums,
// ColSqDev and AffineRow give the scalar loops' values bit for bit, for
// widths around their block sizes, any channel range, and special values.
func TestRowKernelsMatchScalar(t *testing.T) {
	if !rowsVector {
		t.Skip("no vector row kernels on this CPU")
	}
	r := rand.New(rand.NewPCG(9, 10))
	for _, c := range []int{1, 4, 7, 8, 15, 16, 24, 33, 40, 64, 128, 130, 384} {
		for _, rows := range []int{1, 2, 5, 32} {
			x := rowsTestMatrix(r, rows, c)
			// MaxRows against the loop of MaxMiddle.
			got, want := make([]float32, c), make([]float32, c)
			MaxRows(got, x, rows, c)
			copy(want, x[:c])
			for j := 1; j < rows; j++ {
				for k, v := range x[j*c : (j+1)*c] {
					if v > want[k] {
						want[k] = v
					}
				}
			}
			sameBits32(t, "MaxRows", got, want)
			for _, lohi := range [][2]int{{0, c}, {c / 3, c}, {c / 2, c - c/4}} {
				lo, hi := lohi[0], lohi[1]
				sum, sumWant := make([]float64, hi-lo), make([]float64, hi-lo)
				ColSums(sum, x, rows, c, lo, hi)
				for j := 0; j < rows; j++ {
					for k := lo; k < hi; k++ {
						sumWant[k-lo] += float64(x[j*c+k])
					}
				}
				sameBits64(t, "ColSums", sum, sumWant)
				mean := make([]float64, hi-lo)
				for k := range mean {
					mean[k] = r.NormFloat64()
				}
				sq, sqWant := make([]float64, hi-lo), make([]float64, hi-lo)
				ColSqDev(sq, mean, x, rows, c, lo, hi)
				for j := 0; j < rows; j++ {
					for k := lo; k < hi; k++ {
						d := float64(x[j*c+k]) - mean[k-lo]
						sqWant[k-lo] += d * d
					}
				}
				sameBits64(t, "ColSqDev", sq, sqWant)
			}
			mean, rstd, w, b := make([]float64, c), make([]float64, c), make([]float64, c), make([]float64, c)
			for k := range c {
				mean[k], rstd[k] = r.NormFloat64(), 1/(0.1+r.Float64())
				w[k], b[k] = float64(float32(r.NormFloat64())), float64(float32(r.NormFloat64()))
			}
			row := x[(rows-1)*c:]
			out, outWant := make([]float32, c), make([]float32, c)
			AffineRow(out, row, mean, rstd, w, b)
			for k, v := range row {
				outWant[k] = float32((float64(v)-mean[k])*rstd[k]*w[k] + b[k])
			}
			sameBits32(t, "AffineRow", out, outWant)
		}
	}
}

// TestScaleShiftBackRowMatchesScalar: SSF's backward row kernel gives the
// scalar loop's values bit for bit, with and without dx.
func TestScaleShiftBackRowMatchesScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, c := range []int{1, 3, 4, 9, 16, 384, 385} {
		d, x, g := rowsTestMatrix(r, 1, c), rowsTestMatrix(r, 1, c), rowsTestMatrix(r, 1, c)
		for _, withDx := range []bool{true, false} {
			dx0 := rowsTestMatrix(r, 1, c)
			dx, dxWant := append([]float32(nil), dx0...), append([]float32(nil), dx0...)
			sdx, sdg := make([]float64, c), make([]float64, c)
			for k := range sdx {
				sdx[k], sdg[k] = r.NormFloat64(), r.NormFloat64()
			}
			sdxWant, sdgWant := append([]float64(nil), sdx...), append([]float64(nil), sdg...)
			if withDx {
				ScaleShiftBackRow(dx, d, x, g, sdx, sdg)
			} else {
				ScaleShiftBackRow(nil, d, x, g, sdx, sdg)
			}
			for k, v := range d {
				if withDx {
					dxWant[k] += v * g[k]
				}
				sdxWant[k] += float64(v) * float64(x[k])
				sdgWant[k] += float64(v)
			}
			sameBits32(t, "dx", dx, dxWant)
			sameBits64(t, "sdx", sdx, sdxWant)
			sameBits64(t, "sdg", sdg, sdgWant)
		}
	}
}

// layerNormForwardScalar is LayerNormForward's loop one row at a time, as
// it was before the vector kernels: the reference they must equal.
func layerNormForwardScalar(out, mean, rstd, x, w, b []float32, rows, c int, eps float32) {
	for r := 0; r < rows; r++ {
		xr := x[r*c : (r+1)*c]
		var s float64
		for _, v := range xr {
			s += float64(v)
		}
		m := s / float64(c)
		var v2 float64
		for _, v := range xr {
			d := float64(v) - m
			v2 += d * d
		}
		rs := 1 / math.Sqrt(v2/float64(c)+float64(eps))
		mean[r], rstd[r] = float32(m), float32(rs)
		or := out[r*c : (r+1)*c]
		fm, fr := float32(m), float32(rs)
		for i, v := range xr {
			n := (v - fm) * fr
			if w != nil {
				n *= w[i]
			}
			if b != nil {
				n += b[i]
			}
			or[i] = n
		}
	}
}

// TestLayerNormForwardMatchesScalar: LayerNorm's forward with its eight-row
// and eight-lane kernels gives the row-by-row loop's outputs, means and
// reciprocal deviations bit for bit, for any row count and width, with and
// without the affine parameters, special values included. Rows of zeros
// but for 2⁵³, 1 and −2⁵³ at columns m, m+1 and m+2 check the order of the
// sums: in order the 1 is lost and the mean is 0.
func TestLayerNormForwardMatchesScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, c := range []int{3, 4, 8, 12, 20, 384} {
		for _, rows := range []int{1, 3, 4, 5, 9, 16, 130, -16} {
			var x []float32
			if rows > 0 {
				x = rowsTestMatrix(r, rows, c)
			} else {
				rows = -rows
				x = make([]float32, rows*c)
				for row := range rows {
					m := (row + r.IntN(c)) % (c - 2)
					x[row*c+m], x[row*c+m+1], x[row*c+m+2] = 1<<53, 1, -(1 << 53)
				}
			}
			w, b := rowsTestMatrix(r, 1, c), rowsTestMatrix(r, 1, c)
			for _, affine := range []bool{true, false} {
				ww, bb := w, b
				if !affine {
					ww, bb = nil, nil
				}
				out, mean, rstd := make([]float32, rows*c), make([]float32, rows), make([]float32, rows)
				o2, m2, s2 := make([]float32, rows*c), make([]float32, rows), make([]float32, rows)
				LayerNormForward(out, mean, rstd, x, ww, bb, rows, c, 1e-6)
				layerNormForwardScalar(o2, m2, s2, x, ww, bb, rows, c, 1e-6)
				sameBits32(t, "out", out, o2)
				sameBits32(t, "mean", mean, m2)
				sameBits32(t, "rstd", rstd, s2)
			}
		}
	}
}

// layerNormBackwardScalar is LayerNormBackward's loop one row at a time,
// as it was before the four-row kernels.
func layerNormBackwardScalar(dx, dw, db, dout, x, w, mean, rstd []float32, rows, c int) {
	s := ReduceRows(rows, c, 2, func(lo, hi int, acc [][]float64) {
		pdw, pdb := acc[0], acc[1]
		for r := lo; r < hi; r++ {
			xr, dr := x[r*c:(r+1)*c], dout[r*c:(r+1)*c]
			m, rs := mean[r], rstd[r]
			var sumD, sumDN float64
			for i, g := range dr {
				n := (xr[i] - m) * rs
				dn := g
				if w != nil {
					dn *= w[i]
				}
				sumD += float64(dn)
				sumDN += float64(dn * n)
				pdw[i] += float64(g * n)
				pdb[i] += float64(g)
			}
			if dx == nil {
				continue
			}
			mD, mDN := float32(sumD/float64(c)), float32(sumDN/float64(c))
			dxr := dx[r*c : (r+1)*c]
			for i, g := range dr {
				n := (xr[i] - m) * rs
				dn := g
				if w != nil {
					dn *= w[i]
				}
				dxr[i] += rs * (dn - mD - n*mDN)
			}
		}
	})
	if dw != nil {
		AddRounded(dw, s[0])
	}
	if db != nil {
		AddRounded(db, s[1])
	}
}

// TestLayerNormBackwardMatchesScalar: LayerNorm's backward with its
// four-row and eight-lane kernels gives the row-by-row loop's input, weight
// and bias gradients bit for bit, for any row count and width, with and
// without a weight and an input gradient, and without weight and bias
// gradients (a frozen LayerNorm).
func TestLayerNormBackwardMatchesScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, c := range []int{3, 4, 8, 12, 20, 384} {
		for _, rows := range []int{1, 3, 4, 5, 9, 130, 2000} {
			x, dout := rowsTestMatrix(r, rows, c), rowsTestMatrix(r, rows, c)
			w := rowsTestMatrix(r, 1, c)
			mean, rstd := rowsTestMatrix(r, 1, rows), rowsTestMatrix(r, 1, rows)
			for _, weighted := range []bool{true, false} {
				ww := w
				if !weighted {
					ww = nil
				}
				for _, withDx := range []bool{true, false} {
					var dx, dx2 []float32
					if withDx {
						dx = rowsTestMatrix(r, rows, c)
						dx2 = append([]float32(nil), dx...)
					}
					dw, db := make([]float32, c), make([]float32, c)
					dw2, db2 := make([]float32, c), make([]float32, c)
					LayerNormBackward(dx, dw, db, dout, x, ww, mean, rstd, rows, c)
					layerNormBackwardScalar(dx2, dw2, db2, dout, x, ww, mean, rstd, rows, c)
					sameBits32(t, "dx", dx, dx2)
					sameBits32(t, "dw", dw, dw2)
					sameBits32(t, "db", db, db2)
					if withDx { // a frozen LayerNorm: no weight or bias gradient
						dx3 := rowsTestMatrix(r, rows, c)
						dx4 := append([]float32(nil), dx3...)
						LayerNormBackward(dx3, nil, nil, dout, x, ww, mean, rstd, rows, c)
						layerNormBackwardScalar(dx4, make([]float32, c), make([]float32, c), dout, x, ww, mean, rstd, rows, c)
						sameBits32(t, "dx without dw and db", dx3, dx4)
					}
				}
			}
		}
	}
}

// TestAdd: the vector kernel's sums, and its a + 0, are the scalar
// additions' bit for bit, for every length around its width, in place and
// not, with ±0, infinities, NaN and subnormals among the values.
func TestAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-40, -1e-40}
	for n := range 140 {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
			if r.IntN(4) == 0 {
				a[i] = specials[r.IntN(len(specials))]
			}
			if r.IntN(4) == 0 {
				b[i] = specials[r.IntN(len(specials))]
			}
		}
		sum, plusZero := make([]float32, n), make([]float32, n)
		for i := range a {
			sum[i] = a[i] + b[i]
			plusZero[i] = a[i] + 0
		}
		got := make([]float32, n)
		Add(got, a, b)
		sameBits32(t, fmt.Sprintf("a+b, n=%d", n), got, sum)
		for i := range got {
			got[i] = float32(math.NaN()) // Add(·, ·, nil) must not read out
		}
		Add(got, a, nil)
		sameBits32(t, fmt.Sprintf("a+0, n=%d", n), got, plusZero)
		for i := range a {
			if a[i] == 0 && math.Signbit(float64(a[i])) && math.Signbit(float64(got[i])) {
				t.Fatalf("a+0, n=%d: -0 stays -0 at %d", n, i)
			}
		}
		inPlace := append([]float32(nil), a...)
		Add(inPlace, inPlace, b)
		sameBits32(t, fmt.Sprintf("in place, n=%d", n), inPlace, sum)
	}
}

// TestColSumMatchesScalar: a bias gradient is each column's float64 sum over
// the rows of a chunk in order, the chunks added in order (ReduceRows),
// rounded once and added, whatever the width and row count.
func TestColSumMatchesScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	for _, c := range []int{1, 15, 16, 17, 40, 384} {
		for _, rows := range []int{1, 7, 300, 5000} {
			dy := rowsTestMatrix(r, rows, c)
			db := rowsTestMatrix(r, 1, c)
			want := append([]float32(nil), db...)
			chunk := reduceChunk(rows, c)
			total := make([]float64, c)
			for lo := 0; lo < rows; lo += chunk {
				part := make([]float64, c)
				for row := lo; row < min(lo+chunk, rows); row++ {
					for j := range c {
						part[j] += float64(dy[row*c+j])
					}
				}
				for j := range c {
					if lo == 0 {
						total[j] = part[j]
					} else {
						total[j] += part[j]
					}
				}
			}
			for j := range c {
				want[j] += float32(total[j])
			}
			ColSum(db, dy, rows, c)
			sameBits32(t, fmt.Sprintf("ColSum c=%d rows=%d", c, rows), db, want)
		}
	}
}

// TestSoftmaxGradMatchesScalar: SoftmaxGradRowsSerial, whose rows' dot
// products (four rows at a time) and updates run on the vector kernels,
// gives the scalar definition's values bit for bit: each dot product the
// float64 sum of exact products in the row's order, rounded once, each
// value float32(y·(d − dot))·scale. Row lengths cover the kernels' blocks
// of 4 and 8 and their remainders; the values include zeros, infinities,
// NaN and subnormals; the rows start at the first and the second row.
// Rows whose products are 2⁶⁰, 1 and −2⁶⁰ at columns m, m+1 and m+2 (zero
// elsewhere) check the order of the additions: in order the 1 is lost and
// the dot product is 0, while adding it after −2⁶⁰ would give 1.
func TestSoftmaxGradMatchesScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	ordered := func(rows, c, shift int) (y, d []float32) {
		y, d = make([]float32, rows*c), make([]float32, rows*c)
		for row := range rows {
			m := (row + shift) % (c - 2)
			for j, p := range [][2]float32{{1 << 30, 1 << 30}, {1, 1}, {-(1 << 30), 1 << 30}} {
				y[row*c+m+j], d[row*c+m+j] = p[0], p[1]
			}
		}
		return y, d
	}
	type testCase struct {
		rows, c int
		y, d    []float32
	}
	var cases []testCase
	for c := 1; c <= 70; c++ {
		for _, rows := range []int{4, 5, 9} {
			cases = append(cases, testCase{rows, c, rowsTestMatrix(r, rows, c), rowsTestMatrix(r, rows, c)})
		}
		if c >= 3 {
			for shift := range c - 2 {
				y, d := ordered(4, c, shift)
				cases = append(cases, testCase{4, c, y, d})
			}
		}
	}
	for _, tc := range cases {
		rows, c, y, d0 := tc.rows, tc.c, tc.y, tc.d
		for _, scale := range []float32{1, 0.125, 0.3} {
			want := append([]float32(nil), d0...)
			for row := range rows {
				yr, dr := y[row*c:(row+1)*c], want[row*c:(row+1)*c]
				var s float64
				for i := range yr {
					s += float64(yr[i]) * float64(dr[i])
				}
				dot := float32(s)
				for i, v := range yr {
					dr[i] = float32(v*(dr[i]-dot)) * scale
				}
			}
			for lo := range min(rows, 2) {
				got := append([]float32(nil), d0...)
				SoftmaxGradRowsSerial(got, y, lo, rows, c, scale)
				sameBits32(t, fmt.Sprintf("c=%d rows %d-%d scale %v", c, lo, rows, scale), got[lo*c:], want[lo*c:])
				sameBits32(t, fmt.Sprintf("c=%d rows before %d", c, lo), got[:lo*c], d0[:lo*c])
			}
		}
	}
}

// TestRowStats8MatchScalar checks LayerNorm's eight-row kernels directly,
// in float64: each row's sum, and its sum of squared deviations from a
// given mean, must be the scalar loop's bit for bit. Besides random rows,
// rows of zeros but for three values whose sums round differently in any
// other order: 2⁵³, 1, −2⁵³ for the sums, and deviations 2⁵³, 3·2²⁵, 3·2²⁵
// for the squares (2¹⁰⁶ + 9·2⁵⁰ rounds up a unit in the last place, twice;
// the two small squares added first would round up once).
func TestRowStats8MatchScalar(t *testing.T) {
	if !rowsVector {
		t.Skip("no vector row kernels on this CPU")
	}
	r := rand.New(rand.NewPCG(17, 18))
	for _, c := range []int{4, 8, 12, 64, 384} {
		for _, kind := range []string{"random", "sums", "squares"} {
			x := rowsTestMatrix(r, 8, c)
			if kind != "random" {
				clear(x)
				vals := [3]float32{1 << 53, 1, -(1 << 53)}
				if kind == "squares" {
					vals = [3]float32{1 << 53, 3 << 25, 3 << 25}
				}
				for row := range 8 {
					m := r.IntN(c - 2)
					copy(x[row*c+m:], vals[:])
				}
			}
			var sum, mean, sq [8]float64
			if !rowSums8Vec(x, c, c, &sum) {
				t.Fatal("rowSums8Vec declined")
			}
			for l := range mean {
				mean[l] = float64(r.IntN(3) - 1)
				if kind == "squares" {
					mean[l] = 0
				}
			}
			rowSqDev8Vec(x, c, c, &mean, &sq)
			for l := range 8 {
				var s, q float64
				for _, v := range x[l*c : (l+1)*c] {
					s += float64(v)
					d := float64(v) - mean[l]
					q += d * d
				}
				sameBits64(t, fmt.Sprintf("%s c=%d row %d sum", kind, c, l), sum[l:l+1], []float64{s})
				sameBits64(t, fmt.Sprintf("%s c=%d row %d squares", kind, c, l), sq[l:l+1], []float64{q})
			}
		}
	}
}
