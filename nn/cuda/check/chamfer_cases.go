package check

import (
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/cpu"
)

// chamferShape is the case's sets: Point-MAE's pretraining loss compares
// the 32 reconstructed and 32 true points of each masked group (about 38
// of 64 groups masked per cloud, 128 clouds a batch).
func (e *env) chamferShape() (batch, n, m, dim int) {
	return e.pick(6, 128*38), e.pick(40, 32), e.pick(33, 32), 3
}

// caseChamferL2 runs Stream.ChamferL2 and its backward against nn's CPU
// ChamferL2 (loss, both gradients) and nn/cpu's nearest indices (exact).
func caseChamferL2(e *env) {
	batch, n, m, dim := e.chamferShape()
	na, nb := batch*n*dim, batch*m*dim
	a, b := e.normal(na, 1), e.normal(nb, 1)
	tp := nn.NewTape(true)
	ta, tb := input(a, batch, n, dim), input(b, batch, m, dim)
	loss := nn.ChamferL2(tp, ta, tb)
	const g = 0.7
	backward(tp, loss, []float32{g})
	idx1, idx2 := make([]int32, batch*n), make([]int32, batch*m)
	cpu.ChamferNearest(make([]float64, batch*n), idx1, a, b, batch, n, m, dim)
	cpu.ChamferNearest(make([]float64, batch*m), idx2, b, a, batch, m, n, dim)
	var gl, gda, gdb []float32
	var gi1, gi2 []int32
	e.timed(func() error {
		da, db, out, dout := e.up(a), e.up(b), e.alloc(1), e.up([]float32{g})
		d1, d2, i1, i2 := e.alloc(2*batch*n), e.alloc(2*batch*m), e.alloc(batch*n), e.alloc(batch*m)
		dda, ddb := e.zeros(na), e.zeros(nb)
		e.fail(e.s.ChamferL2(out, d1, d2, i1, i2, da, db, batch, n, m, dim))
		e.fail(e.s.ChamferL2Backward(dda, ddb, dout, da, db, i1, i2, batch, n, m, dim))
		gl, gda, gdb, gi1, gi2 = e.down(out), e.down(dda), e.down(ddb), e.downI(i1), e.downI(i2)
		return nil
	})
	e.cmp("loss", gl, loss.Data)
	e.cmp("da", gda, ta.Grad)
	e.cmp("db", gdb, tb.Grad)
	e.cmpI("idx1", gi1, idx1)
	e.cmpI("idx2", gi2, idx2)
}

// caseNNChamferL2 runs nn.ChamferL2 through the Engine, with a of another
// point dimension (5) than Point-MAE's, both inputs needing gradients.
func caseNNChamferL2(e *env) {
	batch, n, m, _ := e.chamferShape()
	const dim = 5
	e.nnOp(true, []nnIn{
		{"a", e.normal(batch*n*dim, 1), []int{batch, n, dim}, true, false},
		{"b", e.normal(batch*m*dim, 1), []int{batch, m, dim}, true, false},
	}, func(tp *nn.Tape, xs []*nn.Tensor) *nn.Tensor { return nn.ChamferL2(tp, xs[0], xs[1]) })
}
