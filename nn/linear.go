package nn

import (
	"fmt"

	"github.com/pcx-dev/pcx/nn/blas"
	"github.com/pcx-dev/pcx/nn/cpu"
)

// Linear computes x·Wᵀ + b over the last axis of x: W is out×in (PyTorch's
// layout), b has out elements or is nil. A point-wise Conv1d (kernel 1) on
// channel-last points is the same operation with W reshaped from out×in×1.
func Linear(tp *Tape, x *Tensor, w, b *Param) *Tensor {
	in := x.Dim(-1)
	out := w.Dim(0)
	if w.Tensor.Len() != out*in {
		panic(fmt.Sprintf("nn: Linear weight %v on input %v", w.Shape, x.Shape))
	}
	rows := x.Len() / in
	shape := append(append([]int(nil), x.Shape[:len(x.Shape)-1]...), out)
	wt, bt := w.T(), paramT(b)
	if d := deviceOf(x, wt, bt); d != nil {
		return linearDev(tp, d, x, wt, bt, rows, in, out, shape)
	}
	y := tp.newOutRaw(shape, x, wt, bt) // the product writes every value
	if bt != nil {
		blas.SgemmBias(false, true, rows, out, in, 1, x.Data, in, wt.Data, in, bt.Data, y.Data, out)
	} else {
		blas.Sgemm(false, true, rows, out, in, 1, x.Data, in, wt.Data, in, 0, y.Data, out)
	}
	tp.record(y, func() {
		if x.needGrad { // dx += dy·W
			g, fresh := x.gradFresh()
			blas.Sgemm(false, false, rows, in, out, 1, y.Grad, out, wt.Data, in, betaFor(fresh), g, in)
		}
		if wt.needGrad { // dW += dyᵀ·x
			blas.Sgemm(true, false, out, in, rows, 1, y.Grad, out, x.Data, in, 1, wt.grad(), in)
		}
		if bt != nil && bt.needGrad {
			cpu.ColSum(bt.grad(), y.Grad, rows, out)
		}
	})
	return y
}

// betaFor is the beta of a product that adds to a gradient: 0 for a fresh
// one (see Tensor.gradFresh), which it then need not read.
func betaFor(fresh bool) float32 {
	if fresh {
		return 0
	}
	return 1
}

// Conv1d is PyTorch's Conv1d with kernel size 1 (the point-wise convolution
// of PointNet encoders) on channel-last input: each point's in channels map
// to out channels. The weight may keep PyTorch's out×in×1 shape.
func Conv1d(tp *Tape, x *Tensor, w, b *Param) *Tensor { return Linear(tp, x, w, b) }
