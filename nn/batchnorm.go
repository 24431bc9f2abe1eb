package nn

import (
	"fmt"
	"math"

	"github.com/pcx-dev/pcx/nn/cpu"
)

// BatchNorm is PyTorch's BatchNorm1d over the channel (last) axis of a
// rows×C input: B×C for a head, (B·N)×C for a point-wise Conv1d's output.
type BatchNorm struct {
	Weight, Bias            *Param // affine; may be frozen
	RunningMean, RunningVar *Param // buffers
	NumBatchesTracked       *Param // buffer, one element
	Eps, Momentum           float32
}

// NewBatchNorm returns a BatchNorm over c channels with PyTorch's defaults
// (weight 1, bias 0, running mean 0, running variance 1, eps 1e-5,
// momentum 0.1), its parameters named prefix+".weight" and so on.
func NewBatchNorm(prefix string, c int) *BatchNorm {
	bn := &BatchNorm{
		Weight: NewParam(prefix+".weight", c), Bias: NewParam(prefix+".bias", c),
		RunningMean:       &Param{Tensor: New(c), Name: prefix + ".running_mean", Buffer: true},
		RunningVar:        &Param{Tensor: New(c), Name: prefix + ".running_var", Buffer: true},
		NumBatchesTracked: &Param{Tensor: New(1), Name: prefix + ".num_batches_tracked", Buffer: true, Host: true},
		Eps:               1e-5, Momentum: 0.1,
	}
	for i := 0; i < c; i++ {
		bn.Weight.Data[i] = 1
		bn.RunningVar.Data[i] = 1
	}
	return bn
}

// Params lists the parameters and buffers in state-dict order.
func (bn *BatchNorm) Params() Params {
	return Params{bn.Weight, bn.Bias, bn.RunningMean, bn.RunningVar, bn.NumBatchesTracked}
}

// Forward normalises x. In training it uses the batch statistics (biased
// variance) and updates the running statistics with the unbiased variance,
// whether or not the affine parameters are trainable (DAPT relies on this);
// in evaluation it uses the running statistics.
func (bn *BatchNorm) Forward(tp *Tape, x *Tensor) *Tensor { return bn.forward(tp, x, false) }

// ForwardReLU is ReLU(tp, bn.Forward(tp, x)) with the same values and
// gradients, without keeping the normalised values: the output is the
// ReLU's, and backward takes the gradient through the ReLU on the fly.
func (bn *BatchNorm) ForwardReLU(tp *Tape, x *Tensor) *Tensor { return bn.forward(tp, x, true) }

func (bn *BatchNorm) forward(tp *Tape, x *Tensor, relu bool) *Tensor {
	c := x.Dim(-1)
	rows := x.Len() / c
	if c != bn.Weight.Tensor.Len() {
		panic(fmt.Sprintf("nn: BatchNorm of %d channels on %v", bn.Weight.Len(), x.Shape))
	}
	w, b := bn.Weight.T(), bn.Bias.T()
	if d := deviceOf(x, w, b); d != nil {
		if relu {
			return ReLU(tp, bn.forwardDev(tp, d, x, w, b, rows, c))
		}
		return bn.forwardDev(tp, d, x, w, b, rows, c)
	}
	out := tp.newOutRaw(x.Shape, x, w, b) // the normalisation writes every value
	mean, rstd, w64, b64 := bn.statistics(tp, x, rows, c)
	train := tp.training()
	normaliseRows(out.Data, x.Data, rows, c, mean, rstd, w64, b64, relu)
	tp.record(out, func() {
		dw, db := gradIf(w), gradIf(b)
		sumD, sumDX := make([]float64, c), make([]float64, c)
		parallelFor(c, channelGrain(rows), func(lo, hi int) {
			for r := 0; r < rows; r++ {
				for k := lo; k < hi; k++ {
					d := out.Grad[r*c+k]
					if relu && !(out.Data[r*c+k] > 0) { // the ReLU passed no gradient
						d = 0
					}
					xh := (float64(x.Data[r*c+k]) - mean[k]) * rstd[k]
					sumD[k] += float64(d)
					sumDX[k] += float64(d) * xh
				}
			}
		})
		for k := 0; k < c; k++ {
			if dw != nil {
				dw[k] += float32(sumDX[k])
			}
			if db != nil {
				db[k] += float32(sumD[k])
			}
		}
		// x's gradient is written over the output's, element by element,
		// when nothing has reached x yet: one buffer fewer in flight.
		inPlace := x.needGrad && x.Grad == nil && x.dev == nil && out.Grad != nil
		dx := out.Grad
		if !inPlace {
			dx = gradIf(x)
		}
		if dx == nil {
			return
		}
		n := float64(rows)
		parallelFor(rows, max(1, 16384/c), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				for k := 0; k < c; k++ {
					d := float64(out.Grad[r*c+k])
					if relu && !(out.Data[r*c+k] > 0) {
						d = 0
					}
					g := float64(w.Data[k]) * rstd[k]
					var v float32
					if !train {
						v = float32(d * g)
					} else {
						xh := (float64(x.Data[r*c+k]) - mean[k]) * rstd[k]
						v = float32(g * (d - sumD[k]/n - xh*sumDX[k]/n))
					}
					if !inPlace {
						dx[r*c+k] += v
						continue
					}
					if v == 0 {
						v = 0 // 0 + v, as into a zeroed buffer: −0 becomes +0
					}
					dx[r*c+k] = v
				}
			}
		})
		if inPlace {
			x.Grad, out.Grad = dx, nil
		}
	})
	return out
}

// channelGrain is the fewest channels per goroutine for per-channel sums
// over rows rows: about 16k values each.
func channelGrain(rows int) int { return max(1, 16384/max(rows, 1)) }

// statistics returns what BatchNorm normalises x (rows×c) with: in
// training the batch mean and 1/√(biased variance + eps), updating the
// running statistics; in evaluation the running ones; and the affine
// weight and bias, all in float64. Statistics and the per-element
// arithmetic are float64: a small batch (the head's B rows) makes
// BatchNorm's backward a difference of nearly equal terms, and float32
// there loses digits PyTorch's float64 reference keeps.
func (bn *BatchNorm) statistics(tp *Tape, x *Tensor, rows, c int) (mean, rstd, w64, b64 []float64) {
	mean, rstd = make([]float64, c), make([]float64, c)
	if tp.training() {
		if rows < 2 {
			panic("nn: BatchNorm in training needs more than one value per channel")
		}
		sum, sq := make([]float64, c), make([]float64, c)
		// Each channel's sums run over the rows in order, whichever
		// goroutine takes the channel: the same values on any core count.
		parallelFor(c, channelGrain(rows), func(lo, hi int) {
			cpu.ColSums(sum[lo:hi], x.Data, rows, c, lo, hi)
			for k := lo; k < hi; k++ {
				sum[k] /= float64(rows)
			}
			cpu.ColSqDev(sq[lo:hi], sum[lo:hi], x.Data, rows, c, lo, hi)
		})
		m := float64(bn.Momentum)
		for k := 0; k < c; k++ {
			v := sq[k] / float64(rows)
			mean[k], rstd[k] = sum[k], 1/math.Sqrt(v+float64(bn.Eps))
			unbiased := sq[k] / float64(rows-1)
			bn.RunningMean.Data[k] = float32((1-m)*float64(bn.RunningMean.Data[k]) + m*sum[k])
			bn.RunningVar.Data[k] = float32((1-m)*float64(bn.RunningVar.Data[k]) + m*unbiased)
		}
		bn.NumBatchesTracked.Data[0]++
	} else {
		for k := 0; k < c; k++ {
			mean[k] = float64(bn.RunningMean.Data[k])
			rstd[k] = 1 / math.Sqrt(float64(bn.RunningVar.Data[k])+float64(bn.Eps))
		}
	}
	w64, b64 = make([]float64, c), make([]float64, c)
	for k := range c {
		w64[k], b64[k] = float64(bn.Weight.Data[k]), float64(bn.Bias.Data[k])
	}
	return mean, rstd, w64, b64
}

// normaliseRows writes BatchNorm's output for rows rows of x into dst
// (each row (x - mean)·rstd·w + b in float64, then the ReLU when relu),
// across cores.
func normaliseRows(dst, x []float32, rows, c int, mean, rstd, w64, b64 []float64, relu bool) {
	parallelFor(rows, max(1, 16384/c), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			or := dst[r*c : (r+1)*c]
			cpu.AffineRow(or, x[r*c:(r+1)*c], mean, rstd, w64, b64)
			if relu {
				cpu.ReLUForward(or, or)
			}
		}
	})
}

// ReLULinear is Linear(tp, ReLU(tp, bn.Forward(tp, x)), w, b) on a tape
// that records nothing (a frozen encoder, inference), with the same values
// and running statistics, computed over chunks of at most chunk rows so
// that the normalised input is never whole: each chunk is normalised into
// one buffer and multiplied (a product's rows depend on their own input rows
// only). reduce, when not nil, is given each chunk's product with its first
// row and may consume it (a group maximum); the result is then nil. A
// recording tape, or a device, gets the operations as they are.
func (bn *BatchNorm) ReLULinear(tp *Tape, x *Tensor, w, b *Param, chunk int, reduce func(y *Tensor, row0 int)) *Tensor {
	c := x.Dim(-1)
	rows := x.Len() / c
	if tp.Records() || deviceOf(x, w.T(), paramT(b)) != nil || chunk <= 0 {
		h := bn.ForwardReLU(tp, x)
		y := Linear(tp, h, w, b)
		if !tp.Records() {
			tp.Discard(h)
		}
		if reduce == nil {
			return y
		}
		reduce(y, 0)
		tp.Discard(y)
		return nil
	}
	if c != bn.Weight.Tensor.Len() {
		panic(fmt.Sprintf("nn: BatchNorm of %d channels on %v", bn.Weight.Len(), x.Shape))
	}
	mean, rstd, w64, b64 := bn.statistics(tp, x, rows, c)
	var out *Tensor
	if reduce == nil {
		out = tp.newOutRaw(append(append([]int(nil), x.Shape[:len(x.Shape)-1]...), w.Dim(0)))
	}
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(r0+chunk, rows)
		h := tp.newOutRaw([]int{r1 - r0, c})
		normaliseRows(h.Data, x.Data[r0*c:r1*c], r1-r0, c, mean, rstd, w64, b64, true)
		y := Linear(tp, h, w, b)
		tp.Discard(h)
		if reduce != nil {
			reduce(y, r0)
		} else {
			copy(out.Data[r0*y.Dim(-1):], y.Data)
		}
		tp.Discard(y)
	}
	return out
}
