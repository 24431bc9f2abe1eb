package cuda

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn"
)

// recorder stands in for the GPU: it records launches and products.
type recorder struct {
	launches []string
	gemms    []GemmArgs
}

func (r *recorder) launch(name string, grid, block [3]uint32, s *Stream, kinds string, args []uint64) error {
	if len(args) != len(kinds) {
		return fmt.Errorf("%s: %d args for %q", name, len(args), kinds)
	}
	r.launches = append(r.launches, name)
	return nil
}

func (r *recorder) gemm(s *Stream, g *GemmArgs) error {
	r.gemms = append(r.gemms, *g)
	return nil
}

// fakeDevice is a Device without a GPU: launches go to a recorder and
// memory to a fakeMem, so that argument checking runs for real.
func fakeDevice(t *testing.T) (*Device, *recorder) {
	t.Helper()
	rec := &recorder{}
	d := &Device{funcs: map[string]uintptr{}, streams: map[*Stream]bool{}, fake: rec}
	d.alloc = newAllocator(newFakeMem(1 << 40))
	s, err := d.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	d.stream = s
	return d, rec
}

// TestArgumentChecking calls every operation with good arguments (one or
// more launches, every argument list matching its kernel's PTX signature)
// and with bad ones (an error naming the problem, no launch, no panic).
func TestArgumentChecking(t *testing.T) {
	d, rec := fakeDevice(t)
	s := d.Stream()
	buf := func(n int) *Buffer {
		b, err := s.Alloc(n)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	freed := buf(6)
	freed.Free()
	const rows, c = 6, 5
	x, y, dx := buf(rows*c), buf(rows*c), buf(rows*c)
	w, b, r := buf(c), buf(c), buf(rows)
	r2 := buf(rows)
	w2, s2 := buf(2*c), buf(2*c)
	rm, rv := buf(c), buf(c)
	one := buf(1)
	big := 1 << 31
	type tc struct {
		name string
		call func() error
		err  string // "" for success
	}
	cases := []tc{
		{"Fill", func() error { return s.Fill(x, 1) }, ""},
		{"Fill nil", func() error { return s.Fill(nil, 1) }, "out is nil"},
		{"Add", func() error { return s.Add(y, x, dx) }, ""},
		{"Add short", func() error { return s.Add(y, x, w) }, "b has 5 elements, want 30"},
		{"Add freed", func() error { return s.Add(freed, freed, freed) }, "out was freed"},
		{"Scale", func() error { return s.Scale(y, y, 2) }, ""},
		{"Axpy", func() error { return s.Axpy(y, x, 2) }, ""},
		{"Axpy nil x", func() error { return s.Axpy(y, nil, 2) }, "x is nil"},
		{"ReLU", func() error { return s.ReLU(y, x) }, ""},
		{"ReLUBackward", func() error { return s.ReLUBackward(dx, y, x) }, ""},
		{"GELU", func() error { return s.GELU(y, x, nn.GELUExact) }, ""},
		{"GELU quick", func() error { return s.GELU(y, x, nn.GELUQuick) }, ""},
		{"GELU kind", func() error { return s.GELU(y, x, 3) }, "unknown GELU kind 3"},
		{"GELU negative kind", func() error { return s.GELU(y, x, -1) }, "unknown GELU kind -1"},
		{"GELUBackward", func() error { return s.GELUBackward(dx, y, x, nn.GELUTanh) }, ""},
		{"GELUBackward quick", func() error { return s.GELUBackward(dx, y, x, nn.GELUQuick) }, ""},
		{"GELUBackward short", func() error { return s.GELUBackward(dx, y, r, nn.GELUTanh) }, "x has 6 elements, want 30"},
		{"GELUBackward kind", func() error { return s.GELUBackward(dx, y, x, 9) }, "unknown GELU kind 9"},
		{"ReduceSum", func() error { return s.ReduceSum(one, x, 0.5) }, ""},
		{"ReduceSum out", func() error { return s.ReduceSum(w, x, 0.5) }, "out has 5 elements, want 1"},
		{"LayerNorm", func() error { return s.LayerNorm(y, r, r2, x, w, b, rows, c, 1e-5) }, ""},
		{"LayerNorm no affine", func() error { return s.LayerNorm(y, r, r2, x, nil, nil, rows, c, 1e-5) }, ""},
		{"LayerNorm w", func() error { return s.LayerNorm(y, r, r2, x, r, b, rows, c, 1e-5) }, "w has 6 elements, want 5"},
		{"LayerNorm shape", func() error { return s.LayerNorm(y, r, r2, x, w, b, rows, c+1, 1e-5) }, "out has 30 elements, want 36"},
		{"LayerNorm negative", func() error { return s.LayerNorm(y, r, r2, x, w, b, -rows, c, 1e-5) }, "negative"},
		{"LayerNorm huge", func() error { return s.LayerNorm(y, r, r2, x, w, b, big, c, 1e-5) }, "2³¹"},
		{"LayerNorm c=0", func() error { return s.LayerNorm(y, r, r2, x, w, b, rows, 0, 1e-5) }, "0 channels"},
		{"LayerNormBackward", func() error { return s.LayerNormBackward(dx, w, b, y, x, w, r, r2, rows, c) }, ""},
		{"LayerNormBackward dx only", func() error { return s.LayerNormBackward(dx, nil, nil, y, x, nil, r, r2, rows, c) }, ""},
		{"LayerNormBackward mean", func() error { return s.LayerNormBackward(dx, w, b, y, x, w, nil, r2, rows, c) }, "mean is nil"},
		{"Softmax", func() error { return s.Softmax(y, y, rows, c, 1) }, ""},
		{"SoftmaxBackward", func() error { return s.SoftmaxBackward(dx, y, x, rows, c, 1, true) }, ""},
		{"SoftmaxBackward y", func() error { return s.SoftmaxBackward(dx, y, nil, rows, c, 1, true) }, "y is nil"},
		{"BatchNorm train", func() error { return s.BatchNorm(y, w2, s2, rm, rv, x, w, b, rows, c, 1e-5, 0.1, true) }, ""},
		{"BatchNorm eval", func() error { return s.BatchNorm(y, w2, s2, rm, rv, x, w, b, rows, c, 1e-5, 0.1, false) }, ""},
		{"BatchNorm one row", func() error { return s.BatchNorm(w, w2, s2, rm, rv, w, w, b, 1, c, 1e-5, 0.1, true) }, "more than one row"},
		{"BatchNorm float64 stats", func() error { return s.BatchNorm(y, w, s2, rm, rv, x, w, b, rows, c, 1e-5, 0.1, true) }, "mean has 5 elements, want 10"},
		{"BatchNorm misaligned", func() error {
			v, _ := buf(2*c+1).Slice(1, 2*c+1)
			return s.BatchNorm(y, v, s2, rm, rv, x, w, b, rows, c, 1e-5, 0.1, true)
		}, "mean (float64) is not 8-byte aligned"},
		{"BatchNorm no weight", func() error { return s.BatchNorm(y, w2, s2, rm, rv, x, nil, b, rows, c, 1e-5, 0.1, false) }, "w is nil"},
		{"BatchNormBackward", func() error { return s.BatchNormBackward(dx, w, b, y, x, w, w2, s2, rows, c, true) }, ""},
		{"BatchNormBackward no w", func() error { return s.BatchNormBackward(dx, w, b, y, x, nil, w2, s2, rows, c, true) }, "w is nil"},
		{"ScaleShift", func() error { return s.ScaleShift(y, x, w, nil, rows, c) }, ""},
		{"ScaleShift gamma", func() error { return s.ScaleShift(y, x, nil, b, rows, c) }, "gamma is nil"},
		{"ScaleShiftBackward", func() error { return s.ScaleShiftBackward(dx, w, b, y, x, w, rows, c) }, ""},
		{"MaxMiddle", func() error { return s.MaxMiddle(w, b, x, 1, rows, c) }, ""},
		{"MaxMiddle m=0", func() error { return s.MaxMiddle(w, b, x, 1, 0, c) }, "empty middle axis"},
		{"MaxMiddle x", func() error { return s.MaxMiddle(w, b, x, 1, rows-1, c) }, "x has 30 elements, want 25"},
		{"MaxMiddleBackward", func() error { return s.MaxMiddleBackward(dx, w, b, 1, rows, c) }, ""},
		{"CrossEntropy", func() error { return s.CrossEntropy(one, y, x, r, rows, c, 0.1) }, ""},
		{"CrossEntropy labels", func() error { return s.CrossEntropy(one, y, x, w, rows, c, 0.1) }, "labels has 5 elements, want 6"},
		{"CrossEntropy empty", func() error { return s.CrossEntropy(one, y, x, r, 0, c, 0.1) }, "0 rows"},
		{"CrossEntropyBackward", func() error { return s.CrossEntropyBackward(dx, y, r, one, rows, c, 0.1) }, ""},
		{"CrossEntropyBackward dloss", func() error { return s.CrossEntropyBackward(dx, y, r, w, rows, c, 0.1) }, "dloss has 5 elements, want 1"},
		{"L2Normalize", func() error { return s.L2Normalize(y, r, x, rows, c, 1e-12) }, ""},
		{"L2NormalizeBackward", func() error { return s.L2NormalizeBackward(dx, y, x, r, rows, c, 1e-12) }, ""},
		// Router: n=6 sub-tokens of rank 5, 6 experts (emb 6×5 = x's 30).
		{"Router", func() error { return s.Router(buf(36), x, r, y, dx, rows, rows, c) }, ""},
		{"Router no experts", func() error { return s.Router(buf(0), buf(0), buf(0), y, buf(0), rows, 0, c) }, "no experts"},
		{"RouterBackward", func() error { return s.RouterBackward(dx, y, buf(36), buf(36), x, y, r, rows, rows, c) }, ""},
		{"RouterBackward dz", func() error { return s.RouterBackward(nil, y, buf(36), buf(36), x, y, r, rows, rows, c) }, "dz is nil"},
		{"Attention", func() error { return s.Attention(buf(2*3*6), buf(2*3*3*3), buf(2*3*18), 2, 3, 6, 3, 0) }, ""},
		{"Attention heads", func() error { return s.Attention(buf(36), buf(54), buf(108), 2, 3, 6, 4, 0) }, "4 heads over 6 channels"},
		{"Attention probs", func() error { return s.Attention(buf(36), buf(53), buf(108), 2, 3, 6, 3, 0) }, "probs has 53 elements, want 54"},
		{"AttentionBackward", func() error { return s.AttentionBackward(buf(108), buf(36), buf(108), buf(54), 2, 3, 6, 3, 0) }, ""},
		{"AttentionBackward nil", func() error { return s.AttentionBackward(nil, buf(36), buf(108), buf(54), 2, 3, 6, 3, 0) }, "dqkv has 0 elements, want 108"},
		{"BiasRows", func() error { return s.BiasRows(x, w, rows, c) }, ""},
		{"BiasRows short", func() error { return s.BiasRows(x, r, rows, c) }, "b has 6 elements, want 5"},
		{"ColSum", func() error { return s.ColSum(w, x, rows, c) }, ""},
		{"Copy2D", func() error { return s.Copy2D(x, 2, c, y, 0, c, rows-1, 3, true) }, ""},
		{"Copy2D overrun", func() error { return s.Copy2D(x, 3, c, y, 0, c, rows, 3, false) }, "Copy2D destination"},
		{"Copy2D stride", func() error { return s.Copy2D(x, 0, 2, y, 0, c, rows, 3, false) }, "row strides"},
		{"RepeatRows", func() error { return s.RepeatRows(x, r2, 2, 3, c) }, "x has 6 elements, want 10"},
		{"RepeatRows ok", func() error { return s.RepeatRows(x, w2, 2, 3, c) }, ""},
		{"RepeatRowsBackward", func() error { return s.RepeatRowsBackward(w2, x, 2, 3, c) }, ""},
		{"MeanTokens", func() error { return s.MeanTokens(w2, x, 2, 3, c) }, ""},
		{"MeanTokens none", func() error { return s.MeanTokens(w2, x, 2, 0, c) }, "no tokens"},
		{"MeanTokensBackward", func() error { return s.MeanTokensBackward(x, w2, 2, 3, c) }, ""},
		{"RowScale", func() error { return s.RowScale(y, x, r, rows, c) }, ""},
		{"RowScaleBackward", func() error { return s.RowScaleBackward(dx, nil, y, x, r, rows, c) }, ""},
		{"RowScaleBackward short", func() error { return s.RowScaleBackward(dx, w, y, x, r, rows, c) }, "ds has 5 elements"},
		{"Top1", func() error { return s.Top1(y, r, x, rows, c) }, ""},
		{"Top1Backward", func() error { return s.Top1Backward(dx, y, r, rows, c) }, ""},
		{"Dot", func() error { return s.Dot(one, x, y) }, ""},
		{"Dot short", func() error { return s.Dot(one, x, w) }, "w has 5 elements"},
		{"AxpyDev", func() error { return s.AxpyDev(y, x, one) }, ""},
		{"MulAcc", func() error { return s.MulAcc(dx, y, x) }, ""},
		{"Dropout", func() error { return s.Dropout(y, dx, x, 0.5, 1, 2) }, ""},
		{"Dropout p", func() error { return s.Dropout(y, dx, x, 1, 1, 2) }, "p = 1"},
		{"AdamW", func() error { return s.AdamW(x, y, dx, buf(rows*c), 0.9, 0.999, 1e-8, 1, 1, 1) }, ""},
		{"AdamW short", func() error { return s.AdamW(x, y, w, dx, 0.9, 0.999, 1e-8, 1, 1, 1) }, "m has 5 elements"},
		{"SumSq", func() error { return s.SumSq(buf(2), x) }, ""},
		// ChamferL2 of a = x (2 sets of 5 points of 3) and cb (2 sets of 3).
		{"ChamferL2", func() error { return s.ChamferL2(one, buf(20), buf(12), buf(10), buf(6), x, buf(18), 2, 5, 3, 3) }, ""},
		{"ChamferL2 dist1", func() error { return s.ChamferL2(one, buf(10), buf(12), buf(10), buf(6), x, buf(18), 2, 5, 3, 3) }, "dist1 has 10 elements, want 20"},
		{"ChamferL2 b", func() error { return s.ChamferL2(one, buf(20), buf(12), buf(10), buf(6), x, buf(17), 2, 5, 3, 3) }, "b has 17 elements, want 18"},
		{"ChamferL2 empty", func() error { return s.ChamferL2(one, buf(20), buf(12), buf(10), buf(6), x, buf(18), 2, 5, 0, 3) }, "empty sets"},
		{"ChamferL2Backward", func() error { return s.ChamferL2Backward(dx, buf(18), one, x, buf(18), buf(10), buf(6), 2, 5, 3, 3) }, ""},
		{"ChamferL2Backward a only", func() error { return s.ChamferL2Backward(dx, nil, one, x, buf(18), buf(10), buf(6), 2, 5, 3, 3) }, ""},
		{"ChamferL2Backward idx2", func() error { return s.ChamferL2Backward(nil, buf(18), one, x, buf(18), buf(10), buf(5), 2, 5, 3, 3) }, "idx2 has 5 elements, want 6"},
		{"ChamferL2Backward dout", func() error { return s.ChamferL2Backward(dx, nil, w, x, buf(18), buf(10), buf(6), 2, 5, 3, 3) }, "dout has 5 elements, want 1"},
		{"Gemm", func() error {
			return s.Gemm(GemmArgs{M: 2, N: 3, K: 5, A: buf(10), Lda: 5, B: buf(15), Ldb: 3, C: buf(6), Ldc: 3})
		}, ""},
		{"Gemm transposed", func() error {
			return s.Gemm(GemmArgs{TransA: true, TransB: true, M: 2, N: 3, K: 5, A: buf(10), Lda: 2, B: buf(15), Ldb: 5, C: buf(6), Ldc: 3})
		}, ""},
		{"Gemm lda", func() error {
			return s.Gemm(GemmArgs{M: 2, N: 3, K: 5, A: buf(10), Lda: 4, B: buf(15), Ldb: 3, C: buf(6), Ldc: 3})
		}, "A is 2×5 with row stride 4"},
		{"Gemm short C", func() error {
			return s.Gemm(GemmArgs{M: 2, N: 3, K: 5, A: buf(10), Lda: 5, B: buf(15), Ldb: 3, C: buf(5), Ldc: 3})
		}, "C (2×3, row stride 3, offset 0, 1 batches of stride 0) needs 6 elements, its buffer has 5"},
		{"Gemm batch overrun", func() error {
			return s.Gemm(GemmArgs{M: 2, N: 2, K: 2, A: buf(8), Lda: 2, StrideA: 4, B: buf(8), Ldb: 2, StrideB: 4, C: buf(8), Ldc: 2, StrideC: 4, OffC: 1, Batch: 2})
		}, "C (2×2, row stride 2, offset 1, 2 batches of stride 4) needs 9 elements"},
		{"Gemm nil", func() error { return s.Gemm(GemmArgs{M: 1, N: 1, K: 1, Lda: 1, Ldb: 1, Ldc: 1}) }, "nil buffer"},
		{"Gemm negative", func() error {
			return s.Gemm(GemmArgs{M: -1, N: 1, K: 1, A: buf(1), B: buf(1), C: buf(1), Lda: 1, Ldb: 1, Ldc: 1})
		}, "negative size"},
		{"Gemm too large", func() error {
			return s.Gemm(GemmArgs{M: 1, N: 1, K: 1 << 31, A: buf(1), B: buf(1), C: buf(1), Lda: 1 << 31, Ldb: 1, Ldc: 1})
		}, "32-bit"},
	}
	for _, c := range cases {
		before, beforeG := len(rec.launches), len(rec.gemms)
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			err = c.call()
		}()
		launched := len(rec.launches) > before || len(rec.gemms) > beforeG
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err == "" && !launched:
			t.Errorf("%s: launched nothing", c.name)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.err)
		case c.err != "" && strings.HasPrefix(err.Error(), "panic"):
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && launched:
			t.Errorf("%s: launched despite the error", c.name)
		}
	}
	// Every kernel was launched by some operation above.
	seen := map[string]bool{}
	for _, l := range rec.launches {
		seen[l] = true
	}
	for _, k := range Kernels() {
		if !seen[k] {
			t.Errorf("no operation launched %s", k)
		}
	}
}

// TestRunChecksSignature: a launch whose arguments do not match the
// kernel's parameters is refused before reaching the GPU.
func TestRunChecksSignature(t *testing.T) {
	d, rec := fakeDevice(t)
	s := d.Stream()
	x, _ := s.Alloc(4)
	err := s.run("pcx_add", blocks1(4, 256), newArgs("t").buf("out", x, 4).buf("a", x, 4).int("n", 4))
	if err == nil || !strings.Contains(err.Error(), `arguments "ppi" do not match kernel pcx_add(pppi)`) {
		t.Errorf("err = %v", err)
	}
	if err := s.run("pcx_nothing", blocks1(4, 256), newArgs("t")); err == nil {
		t.Error("unknown kernel launched")
	}
	if err := s.run("pcx_fill", dims{block: [3]uint32{2048, 1, 1}, grid: [3]uint32{1, 1, 1}}, newArgs("t").buf("out", x, 4).f32(1).int("n", 4)); err == nil {
		t.Error("2048-thread block launched")
	}
	if len(rec.launches) != 0 {
		t.Errorf("launched %v", rec.launches)
	}
	if err := s.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := s.Fill(x, 0); err == nil || !strings.Contains(err.Error(), "destroyed stream") {
		t.Errorf("launch on a destroyed stream: %v", err)
	}
}

// TestGemmColMajor: the row-major product maps onto cuBLAS's column-major
// call with the operands swapped.
func TestGemmColMajor(t *testing.T) {
	a := &Buffer{ptr: 0x1000, n: 100}
	b := &Buffer{ptr: 0x2000, n: 100}
	c := &Buffer{ptr: 0x3000, n: 100}
	g := GemmArgs{TransA: true, M: 2, N: 3, K: 4, A: a, OffA: 1, Lda: 2, B: b, OffB: 2, Ldb: 3, C: c, OffC: 3, Ldc: 3}
	ta, tb, m, n, k, pa, pb, pc, lda, ldb, ldc := g.colMajor()
	if ta != cublasOpN || tb != cublasOpT || m != 3 || n != 2 || k != 4 || pa != 0x2008 || pb != 0x1004 || pc != 0x300c || lda != 3 || ldb != 2 || ldc != 3 {
		t.Errorf("got %d %d %d %d %d %#x %#x %#x %d %d %d", ta, tb, m, n, k, pa, pb, pc, lda, ldb, ldc)
	}
}

func TestFakeDeviceClose(t *testing.T) {
	d, _ := fakeDevice(t)
	b, _ := d.Stream().Alloc(10)
	b.Free()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}
