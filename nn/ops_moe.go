package nn

import "fmt"

// Column returns column j of a rows×C tensor as rows×1: one expert's gate
// probabilities.
func Column(tp *Tape, x *Tensor, j int) *Tensor {
	c := x.Dim(-1)
	rows := x.Len() / c
	if j < 0 || j >= c {
		panic(fmt.Sprintf("nn: Column %d of %v", j, x.Shape))
	}
	if d := x.dev; d != nil {
		return columnDev(tp, d, x, rows, c, j)
	}
	out := tp.newOut([]int{rows, 1}, x)
	for r := 0; r < rows; r++ {
		out.Data[r] = x.Data[r*c+j]
	}
	tp.record(out, func() {
		g := x.grad()
		for r := 0; r < rows; r++ {
			g[r*c+j] += out.Grad[r]
		}
	})
	return out
}

// Top1 keeps, in each row of a rows×C tensor of probabilities, only the
// largest (the first on ties) and zeroes the rest: top-1 gating with the
// gate value kept, as Switch Transformer and X-MoE do. The gradient reaches
// the kept entries only.
func Top1(tp *Tape, p *Tensor) *Tensor {
	c := p.Dim(-1)
	rows := p.Len() / c
	if d := p.dev; d != nil {
		return top1Dev(tp, d, p, rows, c)
	}
	out := tp.newOut(p.Shape, p)
	arg := ArgmaxRows(p.Data, rows, c)
	for r, j := range arg {
		out.Data[r*c+j] = p.Data[r*c+j]
	}
	tp.record(out, func() {
		g := p.grad()
		for r, j := range arg {
			g[r*c+j] += out.Grad[r*c+j]
		}
	})
	return out
}

// ArgmaxRows returns the index of the largest value of each row (the first
// on ties).
func ArgmaxRows(v []float32, rows, c int) []int {
	out := make([]int, rows)
	for r := 0; r < rows; r++ {
		row := v[r*c : (r+1)*c]
		best := 0
		for j, x := range row {
			if x > row[best] {
				best = j
			}
		}
		out[r] = best
	}
	return out
}

// DotConst returns the scalar Σ x⊙w for a constant w of x's size (no
// gradient to w): a loss weighted by statistics computed outside the graph,
// such as the load-balancing loss Σ_p f_p·P_p.
func DotConst(tp *Tape, x *Tensor, w []float32) *Tensor {
	if len(w) != x.Len() {
		panic(fmt.Sprintf("nn: DotConst of %v with %d weights", x.Shape, len(w)))
	}
	if d := x.dev; d != nil {
		return dotConstDev(tp, d, x, w)
	}
	out := tp.newOut([]int{1}, x)
	var s float64
	for i, v := range x.Data {
		s += float64(v) * float64(w[i])
	}
	out.Data[0] = float32(s)
	tp.record(out, func() {
		g := x.grad()
		d := out.Grad[0]
		for i, wi := range w {
			g[i] += d * wi
		}
	})
	return out
}

// Scale multiplies a tensor by a constant.
func Scale(tp *Tape, x *Tensor, a float32) *Tensor {
	if d := x.dev; d != nil {
		return scaleDev(tp, d, x, a)
	}
	out := tp.newOut(x.Shape, x)
	for i, v := range x.Data {
		out.Data[i] = a * v
	}
	tp.record(out, func() {
		g := x.grad()
		for i, d := range out.Grad {
			g[i] += a * d
		}
	})
	return out
}

// MatMulT returns x·wᵀ for tensors x (rows×k) and w (n×k), both of which
// may need gradients: a Linear whose weight is computed (the L2-normalised
// expert embeddings of a router).
func MatMulT(tp *Tape, x, w *Tensor) *Tensor {
	p := &Param{Tensor: w, Trainable: w.needGrad}
	return Linear(tp, x, p, nil)
}
