package nn

import (
	"fmt"
	"math"

	"github.com/pcx-dev/pcx/nn/cpu"
)

// LayerNorm normalises over the last axis with PyTorch's LayerNorm
// semantics (biased variance, eps inside the square root). w and b may be
// nil.
func LayerNorm(tp *Tape, x *Tensor, w, b *Param, eps float32) *Tensor {
	c := x.Dim(-1)
	rows := x.Len() / c
	wt, bt := paramT(w), paramT(b)
	if d := deviceOf(x, wt, bt); d != nil {
		return layerNormDev(tp, d, x, wt, bt, eps)
	}
	out := tp.newOutRaw(x.Shape, x, wt, bt)
	mean, rstd := tp.allocRaw(rows), tp.allocRaw(rows)
	cpu.LayerNormForward(out.Data, mean, rstd, x.Data, data(wt), data(bt), rows, c, eps)
	tp.record(out, func() {
		cpu.LayerNormBackward(gradIf(x), gradIf(wt), gradIf(bt), out.Grad, x.Data, data(wt), mean, rstd, rows, c)
	})
	return out
}

// GELUKind selects a variant of GELU (see GELUExact, GELUTanh, GELUQuick);
// it is what the Device's GELU and GELUBackward take.
type GELUKind = cpu.GELUKind

// The variants of GELU.
const (
	// GELUExact is x·Φ(x), Φ the normal CDF (PyTorch's nn.GELU()).
	GELUExact = cpu.GELUExact
	// GELUTanh is GELU's tanh approximation (nn.GELU(approximate="tanh")).
	GELUTanh = cpu.GELUTanh
	// GELUQuick is QuickGELU, x·σ(1.702·x) (CLIP's, and NOAH's ViT
	// adapters').
	GELUQuick = cpu.GELUQuick
)

// GELU applies the exact (erf) GELU, or its tanh approximation.
func GELU(tp *Tape, x *Tensor, tanh bool) *Tensor {
	if tanh {
		return geluKind(tp, x, GELUTanh)
	}
	return geluKind(tp, x, GELUExact)
}

// QuickGELU applies x·σ(1.702·x), the sigmoid approximation of GELU.
func QuickGELU(tp *Tape, x *Tensor) *Tensor { return geluKind(tp, x, GELUQuick) }

// geluKind applies the GELU variant kind, on x's device if it has one.
func geluKind(tp *Tape, x *Tensor, kind GELUKind) *Tensor {
	if d := x.dev; d != nil {
		return unaryDev(tp, d, x, func(o, i DeviceBuffer) { d.GELU(o, i, kind) },
			func(dx, do DeviceBuffer, _ *Tensor) { d.GELUBackward(dx, do, x.d, kind) })
	}
	out := tp.newOutRaw(x.Shape, x)
	cpu.GELUForward(out.Data, x.Data, kind)
	tp.record(out, func() {
		g, fresh := x.gradFresh()
		cpu.GELUBackward(g, out.Grad, x.Data, kind, !fresh)
	})
	return out
}

// ReLU applies max(x, 0).
func ReLU(tp *Tape, x *Tensor) *Tensor {
	if d := x.dev; d != nil {
		return unaryDev(tp, d, x, d.ReLU, func(dx, do DeviceBuffer, out *Tensor) { d.ReLUBackward(dx, do, out.d) })
	}
	out := tp.newOutRaw(x.Shape, x)
	cpu.ReLUForward(out.Data, x.Data)
	tp.record(out, func() { cpu.ReLUBackward(x.grad(), out.Grad, out.Data) })
	return out
}

// Softmax takes the softmax over the last axis.
func Softmax(tp *Tape, x *Tensor) *Tensor {
	c := x.Dim(-1)
	if d := x.dev; d != nil {
		rows := x.Len() / c
		return unaryDev(tp, d, x, func(o, i DeviceBuffer) { d.Softmax(o, i, rows, c) },
			func(dx, do DeviceBuffer, out *Tensor) { d.SoftmaxBackward(dx, do, out.d, rows, c) })
	}
	out := tp.newOutRaw(x.Shape, x)
	cpu.SoftmaxRows(out.Data, x.Data, x.Len()/c, c)
	tp.record(out, func() { cpu.SoftmaxRowsBackward(x.grad(), out.Grad, out.Data, x.Len()/c, c) })
	return out
}

// Add returns a + b for tensors of one shape.
func Add(tp *Tape, a, b *Tensor) *Tensor {
	mustSameShape("Add", a, b)
	if d := deviceOf(a, b); d != nil {
		return addDev(tp, d, a, b)
	}
	out := tp.newOutRaw(a.Shape, a, b)
	cpu.ParallelRows(len(a.Data), 16384, func(lo, hi int) {
		cpu.Add(out.Data[lo:hi], a.Data[lo:hi], b.Data[lo:hi])
	})
	tp.record(out, func() {
		// Both inputs' gradients in one pass over out.Grad, a's then b's
		// in each range (a then b, as two passes would: the same values
		// when a is b).
		var ga, gb []float32
		var freshA, freshB bool
		if a.needGrad {
			ga, freshA = a.gradFresh()
		}
		if b.needGrad {
			gb, freshB = b.gradFresh()
		}
		cpu.ParallelRows(len(out.Grad), 16384, func(lo, hi int) {
			d := out.Grad[lo:hi]
			if ga != nil {
				addGrad(ga[lo:hi], d, freshA)
			}
			if gb != nil {
				addGrad(gb[lo:hi], d, freshB)
			}
		})
	})
	return out
}

// addGrad adds d to the gradient g, or, fresh, sets g to the values of
// adding d to zeros (see Tensor.gradFresh).
func addGrad(g, d []float32, fresh bool) {
	if fresh {
		cpu.Add(g, d, nil)
		return
	}
	cpu.Add(g, g, d)
}

// CrossEntropy is the mean over rows of -log softmax(logits)[label], with
// optional label smoothing s (the target puts 1-s on the label and s/C on
// every class, as PyTorch's label_smoothing). logits is N×C.
func CrossEntropy(tp *Tape, logits *Tensor, labels []int, smoothing float32) *Tensor {
	c := logits.Dim(-1)
	n := logits.Len() / c
	if len(labels) != n {
		panic(fmt.Sprintf("nn: CrossEntropy has %d labels for %d rows", len(labels), n))
	}
	for _, l := range labels {
		if l < 0 || l >= c {
			panic(fmt.Sprintf("nn: label %d outside %d classes", l, c))
		}
	}
	if d := logits.dev; d != nil {
		return crossEntropyDev(tp, d, logits, labels, n, c, smoothing)
	}
	prob := tp.alloc(logits.Len())
	cpu.SoftmaxRows(prob, logits.Data, n, c)
	out := tp.newOut([]int{1}, logits)
	var loss float64
	for r := 0; r < n; r++ {
		l := labels[r]
		if l < 0 || l >= c {
			panic(fmt.Sprintf("nn: label %d outside %d classes", l, c))
		}
		// log p computed stably from the logits.
		lr := logits.Data[r*c : (r+1)*c]
		m := float64(lr[0])
		for _, v := range lr {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range lr {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		var row float64
		for i, v := range lr {
			t := float64(smoothing) / float64(c)
			if i == l {
				t += 1 - float64(smoothing)
			}
			if t != 0 {
				row -= t * (float64(v) - lse)
			}
		}
		loss += row
	}
	out.Data[0] = float32(loss / float64(n))
	tp.record(out, func() {
		g := logits.grad()
		scale := out.Grad[0] / float32(n)
		for r := 0; r < n; r++ {
			for i := 0; i < c; i++ {
				t := smoothing / float32(c)
				if i == labels[r] {
					t += 1 - smoothing
				}
				g[r*c+i] += scale * (prob[r*c+i] - t)
			}
		}
	})
	return out
}

// MeanTokens averages B×T×C over T, giving B×C.
func MeanTokens(tp *Tape, x *Tensor) *Tensor {
	b, t, c := x.Dim(0), x.Dim(1), x.Dim(2)
	if d := x.dev; d != nil {
		return meanTokensDev(tp, d, x, b, t, c)
	}
	out := tp.newOutRaw([]int{b, c}, x)
	inv := 1 / float32(t)
	// Per sample: each channel's float64 sum over the tokens in order.
	parallelFor(b, 1, func(lo, hi int) {
		acc := make([]float64, c)
		for i := lo; i < hi; i++ {
			clear(acc)
			cpu.ColSums(acc, x.Data[i*t*c:(i+1)*t*c], t, c, 0, c)
			o := out.Data[i*c : (i+1)*c]
			for k, v := range acc {
				o[k] = float32(v / float64(t))
			}
		}
	})
	tp.record(out, func() {
		g, fresh := x.gradFresh()
		parallelFor(b, 1, func(lo, hi int) {
			d := make([]float32, c)
			for i := lo; i < hi; i++ {
				for k, v := range out.Grad[i*c : (i+1)*c] {
					d[k] = v * inv
				}
				for j := 0; j < t; j++ {
					addGrad(g[(i*t+j)*c:(i*t+j+1)*c], d, fresh)
				}
			}
		})
	})
	return out
}

func paramT(p *Param) *Tensor {
	if p == nil {
		return nil
	}
	return p.T()
}

func data(t *Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Data
}

// gradIf returns t's gradient buffer when t needs one, else nil.
func gradIf(t *Tensor) []float32 {
	if t == nil || !t.needGrad {
		return nil
	}
	return t.grad()
}

func mustSameShape(op string, a, b *Tensor) {
	if a.Len() != b.Len() {
		panic(fmt.Sprintf("nn: %s of %v and %v", op, a.Shape, b.Shape))
	}
}
