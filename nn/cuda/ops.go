package cuda

import (
	"errors"
	"fmt"

	"github.com/pcx-dev/pcx/nn"
)

// The operations below queue pcx's kernels on a stream; they return at once
// and their results are ready when the stream reaches them. Each checks its
// arguments first (nil buffers, lengths against the shape, sizes that fit
// the kernels' 32-bit parameters) and returns an error rather than launch
// a kernel that would fault. Tensors are row-major float32 with the
// channel axis last, as in package nn; buffers named arg, idx and labels
// hold int32. Backward operations add into their gradient buffers (dx +=
// ...), as the engine's gradients accumulate, unless documented otherwise.

// checkN validates an element count.
func checkN(op string, n int) error {
	if n < 0 || n > 1<<31-1 {
		return fmt.Errorf("cuda: %s of %d elements is outside [0, 2³¹)", op, n)
	}
	return nil
}

// prod returns a·b·…, or -1 when a factor is negative or the product does
// not fit the kernels' 32-bit sizes.
func prod(v ...int) int {
	p := 1
	for _, x := range v {
		if x < 0 {
			return -1
		}
		if x != 0 && p > (1<<31-1)/x {
			return -1
		}
		p *= x
	}
	return p
}

// shape validates a shape and returns its element count.
func shape(op string, names string, v ...int) (int, error) {
	n := prod(v...)
	if n < 0 {
		return 0, fmt.Errorf("cuda: %s: shape %s = %v is negative or has more than 2³¹-1 elements", op, names, v)
	}
	return n, nil
}

// launch is one kernel launch of a multi-kernel operation.
type launch struct {
	name string
	dm   dims
	a    *Args
}

// runAll checks every launch's arguments before queueing any, so that an
// operation fails whole or runs whole.
func (s *Stream) runAll(ls ...launch) error {
	for _, l := range ls {
		if l.a.err != nil {
			return l.a.err
		}
	}
	for _, l := range ls {
		if err := s.run(l.name, l.dm, l.a); err != nil {
			return err
		}
	}
	return nil
}

// Fill sets every element of out to v.
func (s *Stream) Fill(out *Buffer, v float32) error {
	n := out.Len()
	return s.run("pcx_fill", blocks1(n, 256), newArgs("Fill").buf("out", out, n).f32(v).int("n", n))
}

// Add computes out = a + b (equal lengths).
func (s *Stream) Add(out, a, b *Buffer) error {
	n := out.Len()
	return s.run("pcx_add", blocks1(n, 256), newArgs("Add").buf("out", out, n).buf("a", a, n).buf("b", b, n).int("n", n))
}

// Scale computes out = alpha·x (out may be x).
func (s *Stream) Scale(out, x *Buffer, alpha float32) error {
	n := out.Len()
	return s.run("pcx_scale", blocks1(n, 256), newArgs("Scale").buf("out", out, n).buf("x", x, n).f32(alpha).int("n", n))
}

// Axpy computes y += alpha·x: the backward of Add (alpha 1) and Scale.
func (s *Stream) Axpy(y, x *Buffer, alpha float32) error {
	n := y.Len()
	return s.run("pcx_axpy", blocks1(n, 256), newArgs("Axpy").buf("y", y, n).buf("x", x, n).f32(alpha).int("n", n))
}

// ReLU computes out = max(x, 0).
func (s *Stream) ReLU(out, x *Buffer) error {
	n := out.Len()
	return s.run("pcx_relu_fwd", blocks1(n, 256), newArgs("ReLU").buf("out", out, n).buf("x", x, n).int("n", n))
}

// ReLUBackward adds dout to dx where the forward output out was positive.
func (s *Stream) ReLUBackward(dx, dout, out *Buffer) error {
	n := dx.Len()
	return s.run("pcx_relu_bwd", blocks1(n, 256), newArgs("ReLUBackward").buf("dx", dx, n).buf("dout", dout, n).buf("out", out, n).int("n", n))
}

// GELU computes out = GELU(x) of the given kind: exact (x·Φ(x), erf-based),
// the tanh approximation, or QuickGELU (x·σ(1.702·x)).
func (s *Stream) GELU(out, x *Buffer, kind nn.GELUKind) error {
	n := out.Len()
	a := newArgs("GELU").buf("out", out, n).buf("x", x, n).int("n", n)
	return s.run("pcx_gelu_fwd", blocks1(n, 256), geluKindArg(a, kind))
}

// GELUBackward adds dout·GELU'(x) to dx, GELU of the given kind.
func (s *Stream) GELUBackward(dx, dout, x *Buffer, kind nn.GELUKind) error {
	n := dx.Len()
	a := newArgs("GELUBackward").buf("dx", dx, n).buf("dout", dout, n).buf("x", x, n).int("n", n)
	return s.run("pcx_gelu_bwd", blocks1(n, 256), geluKindArg(a, kind))
}

// geluKindArg adds the kernels' kind parameter (0 exact, 1 tanh, 2 quick,
// as elementwise.cu's PCX_GELU_*), failing on any other kind.
func geluKindArg(a *Args, kind nn.GELUKind) *Args {
	switch kind {
	case nn.GELUExact, nn.GELUTanh, nn.GELUQuick:
	default:
		a.fail("unknown GELU kind %d", int(kind))
		kind = nn.GELUExact
	}
	return a.int("kind", int(kind))
}

// ReduceSum writes scale·Σx to out[0] (summed in double, deterministic).
func (s *Stream) ReduceSum(out, x *Buffer, scale float32) error {
	n := x.Len()
	dm := dims{[3]uint32{1, 1, 1}, [3]uint32{256, 1, 1}}
	return s.run("pcx_reduce_sum", dm, newArgs("ReduceSum").buf("out", out, 1).buf("x", x, n).int("n", n).f32(scale))
}

// LayerNorm normalises each of rows rows of c values (PyTorch semantics):
// out = (x-μ)/σ·w + b with w, b (c values) optional; mean and rstd (rows
// values) receive μ and 1/σ for backward.
func (s *Stream) LayerNorm(out, mean, rstd, x, w, b *Buffer, rows, c int, eps float32) error {
	const op = "LayerNorm"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	if c == 0 {
		return errors.New("cuda: LayerNorm over 0 channels")
	}
	a := newArgs(op).buf("out", out, n).buf("mean", mean, rows).buf("rstd", rstd, rows).buf("x", x, n).opt("w", w, c).opt("b", b, c).
		int("rows", rows).int("c", c).f32(eps)
	return s.run("pcx_layernorm_fwd", warpRows(rows), a)
}

// LayerNormBackward adds the gradients of LayerNorm to dx, dw and db, each
// of which may be nil (not needed); w is nil when the forward had none.
func (s *Stream) LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd *Buffer, rows, c int) error {
	const op = "LayerNormBackward"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	if c == 0 {
		return errors.New("cuda: LayerNormBackward over 0 channels")
	}
	var ls []launch
	if dx != nil {
		a := newArgs(op).buf("dx", dx, n).buf("dout", dout, n).buf("x", x, n).opt("w", w, c).buf("mean", mean, rows).buf("rstd", rstd, rows).
			int("rows", rows).int("c", c)
		ls = append(ls, launch{"pcx_layernorm_bwd_dx", warpRows(rows), a})
	}
	if dw != nil || db != nil {
		a := newArgs(op).opt("dw", dw, c).opt("db", db, c).buf("dout", dout, n).buf("x", x, n).buf("mean", mean, rows).buf("rstd", rstd, rows).
			int("rows", rows).int("c", c)
		ls = append(ls, launch{"pcx_layernorm_bwd_dwdb", columns(c), a})
	}
	return s.runAll(ls...)
}

// Softmax writes softmax(scale·x) over each row of c values (out may be x).
func (s *Stream) Softmax(out, x *Buffer, rows, c int, scale float32) error {
	const op = "Softmax"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	a := newArgs(op).buf("out", out, n).buf("x", x, n).int("rows", rows).int("c", c).f32(scale)
	return s.run("pcx_softmax_fwd", warpRows(rows), a)
}

// SoftmaxBackward computes scale·y⊙(dy - Σ dy⊙y) per row from the forward
// output y, added to dx when accumulate is set and written otherwise (then
// dx may be dy).
func (s *Stream) SoftmaxBackward(dx, dy, y *Buffer, rows, c int, scale float32, accumulate bool) error {
	const op = "SoftmaxBackward"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	a := newArgs(op).buf("dx", dx, n).buf("dy", dy, n).buf("y", y, n).int("rows", rows).int("c", c).f32(scale).flag(accumulate)
	return s.run("pcx_softmax_bwd", warpRows(rows), a)
}

// BatchNorm is BatchNorm1d over the channel axis of a rows×c input x, as
// nn.BatchNorm.Forward: in training (train) the batch statistics normalise
// and the running statistics runMean, runVar (c values) are updated with
// momentum and the unbiased variance; in evaluation the running statistics
// normalise. mean and rstd receive the statistics used, as float64 (2c
// 32-bit elements each), for BatchNormBackward. w and b are required.
// (nn's num_batches_tracked counter is the caller's.)
func (s *Stream) BatchNorm(out, mean, rstd, runMean, runVar, x, w, b *Buffer, rows, c int, eps, momentum float32, train bool) error {
	const op = "BatchNorm"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	if train && rows < 2 {
		return fmt.Errorf("cuda: BatchNorm in training needs more than one row, got %d", rows)
	}
	if _, err := shape(op, "2c", 2, c); err != nil {
		return err
	}
	var stats launch
	if train {
		stats = launch{"pcx_bn_stats", columns(c), newArgs(op).buf64("mean", mean, c).buf64("rstd", rstd, c).buf("runMean", runMean, c).
			buf("runVar", runVar, c).buf("x", x, n).int("rows", rows).int("c", c).f32(eps).f32(momentum)}
	} else {
		stats = launch{"pcx_bn_eval_stats", blocks1(c, 256), newArgs(op).buf64("mean", mean, c).buf64("rstd", rstd, c).
			buf("runMean", runMean, c).buf("runVar", runVar, c).int("c", c).f32(eps)}
	}
	a := newArgs(op).buf("out", out, n).buf("x", x, n).buf64("mean", mean, c).buf64("rstd", rstd, c).buf("w", w, c).buf("b", b, c).
		int("rows", rows).int("c", c)
	return s.runAll(stats, launch{"pcx_bn_fwd", blocks1(n, 256), a})
}

// BatchNormBackward adds BatchNorm's gradients to dx, dw and db (each may be
// nil), from the mean and rstd the forward wrote; train says which forward.
func (s *Stream) BatchNormBackward(dx, dw, db, dout, x, w, mean, rstd *Buffer, rows, c int, train bool) error {
	const op = "BatchNormBackward"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	if _, err := shape(op, "4c", 4, c); err != nil {
		return err
	}
	if w == nil {
		return errors.New("cuda: BatchNormBackward: w is nil")
	}
	sums, err := s.Alloc(4 * c) // Σdout and Σdout·x̂, float64
	if err != nil {
		return err
	}
	defer sums.Free()
	sumD, _ := sums.Slice(0, 2*c)
	sumDX, _ := sums.Slice(2*c, 4*c)
	ls := []launch{{"pcx_bn_bwd_sums", columns(c), newArgs(op).buf64("sumD", sumD, c).buf64("sumDX", sumDX, c).opt("dw", dw, c).
		opt("db", db, c).buf("dout", dout, n).buf("x", x, n).buf64("mean", mean, c).buf64("rstd", rstd, c).int("rows", rows).int("c", c)}}
	if dx != nil {
		ls = append(ls, launch{"pcx_bn_bwd_dx", blocks1(n, 256), newArgs(op).buf("dx", dx, n).buf("dout", dout, n).buf("x", x, n).
			buf("w", w, c).buf64("mean", mean, c).buf64("rstd", rstd, c).buf64("sumD", sumD, c).buf64("sumDX", sumDX, c).
			int("rows", rows).int("c", c).flag(train)})
	}
	return s.runAll(ls...)
}

// ScaleShift computes out = x·γ + β over the last axis (SSF); beta may be
// nil.
func (s *Stream) ScaleShift(out, x, gamma, beta *Buffer, rows, c int) error {
	const op = "ScaleShift"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	a := newArgs(op).buf("out", out, n).buf("x", x, n).buf("gamma", gamma, c).opt("beta", beta, c).int("rows", rows).int("c", c)
	return s.run("pcx_scaleshift_fwd", blocks1(n, 256), a)
}

// ScaleShiftBackward adds ScaleShift's gradients to dx, dgamma and dbeta
// (each may be nil).
func (s *Stream) ScaleShiftBackward(dx, dgamma, dbeta, dout, x, gamma *Buffer, rows, c int) error {
	const op = "ScaleShiftBackward"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	var ls []launch
	if dx != nil {
		ls = append(ls, launch{"pcx_scaleshift_bwd_dx", blocks1(n, 256),
			newArgs(op).buf("dx", dx, n).buf("dout", dout, n).buf("gamma", gamma, c).int("rows", rows).int("c", c)})
	}
	if dgamma != nil || dbeta != nil {
		ls = append(ls, launch{"pcx_scaleshift_bwd_dgdb", columns(c),
			newArgs(op).opt("dgamma", dgamma, c).opt("dbeta", dbeta, c).buf("dout", dout, n).buf("x", x, n).int("rows", rows).int("c", c)})
	}
	return s.runAll(ls...)
}

// MaxMiddle takes the maximum over the middle axis of an a×m×c tensor
// (the max over each group's points) into out (a×c) and the first index
// reaching it into arg (a×c int32).
func (s *Stream) MaxMiddle(out, arg, x *Buffer, a, m, c int) error {
	const op = "MaxMiddle"
	nx, err := shape(op, "a×m×c", a, m, c)
	if err != nil {
		return err
	}
	if m == 0 {
		return errors.New("cuda: MaxMiddle over an empty middle axis")
	}
	n := a * c
	k := newArgs(op).buf("out", out, n).buf("arg", arg, n).buf("x", x, nx).int("a", a).int("m", m).int("c", c)
	return s.run("pcx_max_middle_fwd", blocks1(n, 256), k)
}

// MaxMiddleBackward adds dout (a×c) to dx at the positions arg chose.
func (s *Stream) MaxMiddleBackward(dx, dout, arg *Buffer, a, m, c int) error {
	const op = "MaxMiddleBackward"
	nx, err := shape(op, "a×m×c", a, m, c)
	if err != nil {
		return err
	}
	n := a * c
	k := newArgs(op).buf("dx", dx, nx).buf("dout", dout, n).buf("arg", arg, n).int("a", a).int("m", m).int("c", c)
	return s.run("pcx_max_middle_bwd", blocks1(n, 256), k)
}

// CrossEntropy writes to loss[0] the mean over n rows of the cross-entropy
// of logits (n×c) against labels (n int32), with label smoothing s (the
// target puts 1-s on the label and s/c on every class), and keeps the
// softmax in prob (n×c) for backward. A label outside [0, c) makes the loss
// NaN (the labels are on the device, so this is not checked here).
func (s *Stream) CrossEntropy(loss, prob, logits, labels *Buffer, n, c int, smoothing float32) error {
	const op = "CrossEntropy"
	nc, err := shape(op, "n×c", n, c)
	if err != nil {
		return err
	}
	if n == 0 || c == 0 {
		return fmt.Errorf("cuda: CrossEntropy of %d rows of %d classes", n, c)
	}
	rowLoss, err := s.Alloc(n)
	if err != nil {
		return err
	}
	defer rowLoss.Free()
	a := newArgs(op).buf("rowLoss", rowLoss, n).buf("prob", prob, nc).buf("logits", logits, nc).buf("labels", labels, n).
		int("n", n).int("c", c).f32(smoothing)
	sum := newArgs(op).buf("loss", loss, 1).buf("rowLoss", rowLoss, n).int("n", n).f32(1 / float32(n))
	return s.runAll(launch{"pcx_xent_fwd", warpRows(n), a}, launch{"pcx_reduce_sum", dims{[3]uint32{1, 1, 1}, [3]uint32{256, 1, 1}}, sum})
}

// CrossEntropyBackward adds dloss[0]/n·(prob - target) to dlogits; dloss is
// the loss's gradient on the device (1 for a loss that is the end of the
// graph), so no host round trip is needed.
func (s *Stream) CrossEntropyBackward(dlogits, prob, labels, dloss *Buffer, n, c int, smoothing float32) error {
	const op = "CrossEntropyBackward"
	nc, err := shape(op, "n×c", n, c)
	if err != nil {
		return err
	}
	a := newArgs(op).buf("dlogits", dlogits, nc).buf("prob", prob, nc).buf("labels", labels, n).buf("dloss", dloss, 1).
		int("n", n).int("c", c).f32(smoothing)
	return s.run("pcx_xent_bwd", blocks1(nc, 256), a)
}

// L2Normalize divides each row of c values by max(‖row‖₂, eps) into out,
// keeping the norms (rows values) for backward.
func (s *Stream) L2Normalize(out, norm, x *Buffer, rows, c int, eps float32) error {
	const op = "L2Normalize"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	a := newArgs(op).buf("out", out, n).buf("norm", norm, rows).buf("x", x, n).int("rows", rows).int("c", c).f32(eps)
	return s.run("pcx_l2norm_fwd", warpRows(rows), a)
}

// L2NormalizeBackward adds the gradient of L2Normalize to dx, from its
// output y and norms.
func (s *Stream) L2NormalizeBackward(dx, dout, y, norm *Buffer, rows, c int, eps float32) error {
	const op = "L2NormalizeBackward"
	n, err := shape(op, "rows×c", rows, c)
	if err != nil {
		return err
	}
	a := newArgs(op).buf("dx", dx, n).buf("dout", dout, n).buf("y", y, n).buf("norm", norm, rows).int("rows", rows).int("c", c).f32(eps)
	return s.run("pcx_l2norm_bwd", warpRows(rows), a)
}

// RouterEps is the SMoA router's normalisation eps (adapters.SMoA).
const RouterEps = 1e-12

// Router is the gating of adapters.SMoA after its projection: the expert
// embeddings emb (e×r) are L2-normalised into en (norms in enNorm, e
// values), and probs (n×e) = softmax over the experts of z·enᵀ for the
// projected sub-tokens z (n×r).
func (s *Stream) Router(probs, en, enNorm, z, emb *Buffer, n, e, r int) error {
	const op = "Router"
	nr, ne, er, err := routerShapes(op, n, e, r)
	if err != nil {
		return err
	}
	if e == 0 {
		return errors.New("cuda: Router with no experts")
	}
	norm := newArgs(op).buf("en", en, er).buf("enNorm", enNorm, e).buf("emb", emb, er).int("e", e).int("r", r).f32(RouterEps)
	a := newArgs(op).buf("probs", probs, ne).buf("z", z, nr).buf("en", en, er).int("n", n).int("e", e).int("r", r)
	return s.runAll(launch{"pcx_l2norm_fwd", warpRows(e), norm}, launch{"pcx_router_fwd", blocks1(n, 256), a})
}

// routerShapes checks the router's sizes and returns its buffers' lengths
// (n×r sub-tokens, n×e gates, e×r embeddings).
func routerShapes(op string, n, e, r int) (nr, ne, er int, err error) {
	if nr, err = shape(op, "n×r", n, r); err != nil {
		return
	}
	if ne, err = shape(op, "n×e", n, e); err != nil {
		return
	}
	er, err = shape(op, "e×r", e, r)
	return
}

// RouterBackward adds to dz (n×r) and demb (e×r) the gradients of Router
// given dprobs, from the forward's probs, z, en and enNorm.
func (s *Stream) RouterBackward(dz, demb, dprobs, probs, z, en, enNorm *Buffer, n, e, r int) error {
	const op = "RouterBackward"
	nr, ne, er, err := routerShapes(op, n, e, r)
	if err != nil {
		return err
	}
	if dz == nil {
		return errors.New("cuda: RouterBackward: dz is nil")
	}
	dscores, err := s.Alloc(ne)
	if err != nil {
		return err
	}
	defer dscores.Free()
	den, err := s.Alloc(er)
	if err != nil {
		return err
	}
	defer den.Free()
	ls := []launch{{"pcx_router_bwd_dz", blocks1(n, 256), newArgs(op).buf("dz", dz, nr).buf("dscores", dscores, ne).
		buf("dprobs", dprobs, ne).buf("probs", probs, ne).buf("en", en, er).int("n", n).int("e", e).int("r", r)}}
	if demb != nil {
		ls = append(ls,
			launch{"pcx_router_bwd_den", dims{[3]uint32{uint32(max(1, er)), 1, 1}, [3]uint32{256, 1, 1}},
				newArgs(op).buf("den", den, er).buf("dscores", dscores, ne).buf("z", z, nr).int("n", n).int("e", e).int("r", r)},
			launch{"pcx_l2norm_bwd", warpRows(e), newArgs(op).buf("demb", demb, er).buf("den", den, er).buf("en", en, er).
				buf("enNorm", enNorm, e).int("e", e).int("r", r).f32(RouterEps)})
	}
	return s.runAll(ls...)
}

// Gemm queues the row-major product described by g through cuBLAS
// (cublasSgemm, or cublasSgemmStridedBatched when g.Batch > 1).
func (s *Stream) Gemm(g GemmArgs) error {
	if err := g.check(); err != nil {
		return err
	}
	if s == nil || s.dev == nil || s.gone {
		return errors.New("cuda: Gemm on a nil or destroyed stream")
	}
	d := s.dev
	if d.fake != nil {
		return d.fake.gemm(s, &g)
	}
	if g.M == 0 || g.N == 0 {
		return nil
	}
	ta, tb, m, n, k, a, b, c, lda, ldb, ldc := g.colMajor()
	alpha, beta := g.Alpha, g.Beta
	d.blasMu.Lock()
	defer d.blasMu.Unlock()
	return d.with(func() error {
		if st := d.blas.setStream(d.blasH, s.h); st != 0 {
			return checkBLAS("cublasSetStream", st)
		}
		if g.Batch > 1 {
			return checkBLAS(fmt.Sprintf("cublasSgemmStridedBatched %d×%d×%d ×%d", g.M, g.N, g.K, g.Batch),
				d.blas.sgemmSB(d.blasH, ta, tb, m, n, k, &alpha, a, lda, int64(g.StrideB), b, ldb, int64(g.StrideA), &beta, c, ldc, int64(g.StrideC), int32(g.Batch)))
		}
		return checkBLAS(fmt.Sprintf("cublasSgemm %d×%d×%d", g.M, g.N, g.K),
			d.blas.sgemm(d.blasH, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc))
	})
}
