package cuda

import (
	"errors"
	"fmt"
)

// The operations of kernels/engine.cu: what package nn's operations need
// besides the kernels of ops.go, attention.go and points.go.

// one is a launch of a single block of 256 threads (deterministic
// reductions).
var one = dims{[3]uint32{1, 1, 1}, [3]uint32{256, 1, 1}}

// BiasRows sets every row of out (rows×c) to b (c values): Linear's bias,
// before the product is added with beta 1.
func (s *Stream) BiasRows(out, b *Buffer, rows, c int) error {
	const op = "BiasRows"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	return s.run("pcx_bias_rows", blocks1(n, 256), newArgs(op).buf("out", out, n).buf("b", b, c).int("rows", rows).int("c", c))
}

// ColSum adds the column sums of dy (rows×c) to db (c values): Linear's
// bias gradient.
func (s *Stream) ColSum(db, dy *Buffer, rows, c int) error {
	const op = "ColSum"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	return s.run("pcx_colsum", blocks1(c, 128), newArgs(op).buf("db", db, c).buf("dy", dy, n).int("rows", rows).int("c", c))
}

// extent is the number of elements a rows×cols block with row stride
// stride spans.
func extent(rows, cols, stride int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*stride + cols
}

// Copy2D copies a rows×cols block from src (row stride ss, starting at
// element srcOff) into dst (row stride ds, from dstOff), adding to dst
// when acc is set: token and channel concatenation and slicing, and their
// backward.
func (s *Stream) Copy2D(dst *Buffer, dstOff, ds int, src *Buffer, srcOff, ss, rows, cols int, acc bool) error {
	const op = "Copy2D"
	if _, err := shape(op, "rows×cols", rows, cols); err != nil {
		return err
	}
	if rows == 0 || cols == 0 {
		return nil
	}
	if ds < cols || ss < cols {
		return fmt.Errorf("cuda: Copy2D of %d columns with row strides %d and %d", cols, ds, ss)
	}
	de, se := extent(rows, cols, ds), extent(rows, cols, ss)
	dv, err := dst.Slice(dstOff, dstOff+de)
	if err != nil {
		return fmt.Errorf("cuda: Copy2D destination: %w", err)
	}
	sv, err := src.Slice(srcOff, srcOff+se)
	if err != nil {
		return fmt.Errorf("cuda: Copy2D source: %w", err)
	}
	a := newArgs(op).buf("dst", dv, de).buf("src", sv, se).int("rows", rows).int("cols", cols).int("ds", ds).int("ss", ss).flag(acc)
	return s.run("pcx_copy2d", blocks1(rows*cols, 256), a)
}

// RepeatRows writes each row of x (a×c) m times into out (a×m×c).
func (s *Stream) RepeatRows(out, x *Buffer, a, m, c int) error {
	const op = "RepeatRows"
	n, err := shape(op, "a×m×c", a, m, c)
	if err != nil {
		return err
	}
	return s.run("pcx_repeat_fwd", blocks1(n, 256), newArgs(op).buf("out", out, n).buf("x", x, a*c).int("a", a).int("m", m).int("c", c))
}

// RepeatRowsBackward adds to dx (a×c) the sum over the copies of dout
// (a×m×c).
func (s *Stream) RepeatRowsBackward(dx, dout *Buffer, a, m, c int) error {
	const op = "RepeatRowsBackward"
	n, err := shape(op, "a×m×c", a, m, c)
	if err != nil {
		return err
	}
	return s.run("pcx_repeat_bwd", blocks1(a*c, 256), newArgs(op).buf("dx", dx, a*c).buf("dout", dout, n).int("a", a).int("m", m).int("c", c))
}

// MeanTokens writes the mean over the t tokens of x (b×t×c) into out (b×c).
func (s *Stream) MeanTokens(out, x *Buffer, b, t, c int) error {
	const op = "MeanTokens"
	n, err := shape(op, "b×t×c", b, t, c)
	if err != nil {
		return err
	}
	if t == 0 {
		return errors.New("cuda: MeanTokens over no tokens")
	}
	a := newArgs(op).buf("out", out, b*c).buf("x", x, n).int("b", b).int("t", t).int("c", c).f32(1 / float32(t))
	return s.run("pcx_mean_tokens_fwd", blocks1(b*c, 256), a)
}

// MeanTokensBackward adds dout/t (b×c) to every token of dx (b×t×c).
func (s *Stream) MeanTokensBackward(dx, dout *Buffer, b, t, c int) error {
	const op = "MeanTokensBackward"
	n, err := shape(op, "b×t×c", b, t, c)
	if err != nil {
		return err
	}
	if t == 0 {
		return errors.New("cuda: MeanTokensBackward over no tokens")
	}
	a := newArgs(op).buf("dx", dx, n).buf("dout", dout, b*c).int("b", b).int("t", t).int("c", c).f32(1 / float32(t))
	return s.run("pcx_mean_tokens_bwd", blocks1(n, 256), a)
}

// RowScale computes out = x·s per row (x rows×c, s rows values).
func (s *Stream) RowScale(out, x, sc *Buffer, rows, c int) error {
	const op = "RowScale"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	return s.run("pcx_rowscale_fwd", blocks1(n, 256), newArgs(op).buf("out", out, n).buf("x", x, n).buf("s", sc, rows).int("rows", rows).int("c", c))
}

// RowScaleBackward adds dout·s to dx and Σ dout·x per row to ds (either
// may be nil).
func (s *Stream) RowScaleBackward(dx, ds, dout, x, sc *Buffer, rows, c int) error {
	const op = "RowScaleBackward"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	a := newArgs(op).opt("dx", dx, n).opt("ds", ds, rows).buf("dout", dout, n).buf("x", x, n).buf("s", sc, rows).int("rows", rows).int("c", c)
	return s.run("pcx_rowscale_bwd", warpRows(rows), a)
}

// Top1 keeps each row's largest entry of p (rows×c; the first on ties) in
// out, zeroing the rest, and its column in arg (rows int32).
func (s *Stream) Top1(out, arg, p *Buffer, rows, c int) error {
	const op = "Top1"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	if c == 0 {
		return errors.New("cuda: Top1 of rows without columns")
	}
	return s.run("pcx_top1_fwd", blocks1(rows, 256), newArgs(op).buf("out", out, n).buf("arg", arg, rows).buf("p", p, n).int("rows", rows).int("c", c))
}

// Top1Backward adds dout to dp at the entries Top1 kept.
func (s *Stream) Top1Backward(dp, dout, arg *Buffer, rows, c int) error {
	const op = "Top1Backward"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	return s.run("pcx_top1_bwd", blocks1(rows, 256), newArgs(op).buf("dp", dp, n).buf("dout", dout, n).buf("arg", arg, rows).int("rows", rows).int("c", c))
}

// Dot writes Σ x·w (summed in double) to out[0].
func (s *Stream) Dot(out, x, w *Buffer) error {
	n := x.Len()
	return s.run("pcx_dot", one, newArgs("Dot").buf("out", out, 1).buf("x", x, n).buf("w", w, n).int("n", n))
}

// AxpyDev computes y += alpha[0]·x with the scalar alpha on the device.
func (s *Stream) AxpyDev(y, x, alpha *Buffer) error {
	n := y.Len()
	return s.run("pcx_axpy_dev", blocks1(n, 256), newArgs("AxpyDev").buf("y", y, n).buf("x", x, n).buf("alpha", alpha, 1).int("n", n))
}

// MulAcc computes dx += dout·mask.
func (s *Stream) MulAcc(dx, dout, mask *Buffer) error {
	n := dx.Len()
	return s.run("pcx_mul_acc", blocks1(n, 256), newArgs("MulAcc").buf("dx", dx, n).buf("dout", dout, n).buf("mask", mask, n).int("n", n))
}

// Dropout zeroes each element of x with probability p and scales the rest
// by 1/(1-p) into out, keeping the factors in mask for backward. The
// random numbers are Philox4x32-10 under key (key0, key1) at counter i/4
// (see kernels/engine.cu and PhiloxUniform), so a key drawn from the
// host's random stream makes runs reproducible.
func (s *Stream) Dropout(out, mask, x *Buffer, p float32, key0, key1 uint32) error {
	n := x.Len()
	if !(p >= 0 && p < 1) {
		return fmt.Errorf("cuda: Dropout with p = %g", p)
	}
	a := newArgs("Dropout").buf("out", out, n).buf("mask", mask, n).buf("x", x, n).int("n", n).f32(p).f32(1 / (1 - p)).
		bits(key0).bits(key1)
	return s.run("pcx_dropout_fwd", blocks1(n, 256), a)
}

// bits adds a 32-bit pattern as an int parameter.
func (a *Args) bits(v uint32) *Args {
	a.kinds = append(a.kinds, 'i')
	a.vals = append(a.vals, uint64(v))
	return a
}

// PhiloxUniform is the uniform number in [0, 1) the Dropout kernel draws
// for element i under key (k0, k1): the reference for tests.
func PhiloxUniform(i int, k0, k1 uint32) float32 {
	c := [4]uint32{uint32(i >> 2), 0, 0, 0}
	for r := 0; r < 10; r++ {
		p0 := uint64(0xD2511F53) * uint64(c[0])
		p1 := uint64(0xCD9E8D57) * uint64(c[2])
		c = [4]uint32{uint32(p1>>32) ^ c[1] ^ k0, uint32(p1), uint32(p0>>32) ^ c[3] ^ k1, uint32(p0)}
		k0 += 0x9E3779B9
		k1 += 0xBB67AE85
	}
	return float32(c[i&3]>>8) * (1.0 / 16777216.0)
}

// AdamW applies optim.AdamW's update to one parameter p from its gradient
// g and moments m, v (equal lengths): decay = 1 - lr·wd (1 without
// decay), step = lr/(1-β1^t), sbc2 = √(1-β2^t). The moments are updated
// with float32(β) and float32(1-β), 1-β taken in float64 as torch does.
func (s *Stream) AdamW(p, g, m, v *Buffer, b1, b2, eps, step, decay, sbc2 float64) error {
	n := p.Len()
	a := newArgs("AdamW").buf("p", p, n).buf("g", g, n).buf("m", m, n).buf("v", v, n).int("n", n).
		f32(float32(b1)).f32(float32(b2)).f32(float32(1 - b1)).f32(float32(1 - b2)).
		f64(eps).f64(step).f64(decay).f64(sbc2)
	return s.run("pcx_adamw", blocks1(n, 256), a)
}

// SumSq adds Σ x² to the double acc (2 32-bit elements, 8-byte aligned).
func (s *Stream) SumSq(acc, x *Buffer) error {
	n := x.Len()
	return s.run("pcx_sumsq", one, newArgs("SumSq").buf64("acc", acc, 1).buf("x", x, n).int("n", n))
}
