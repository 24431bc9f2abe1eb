package nn

// Tape records, during a forward pass, the backward function of every
// operation whose output needs a gradient; Backward replays them in reverse.
// A nil *Tape (or one with Grad false) records nothing: inference.
type Tape struct {
	ops []func()
	// Train selects training behaviour (dropout, drop-path, BatchNorm batch
	// statistics); false is evaluation.
	Train bool
	// noGrad disables recording.
	noGrad bool
}

// NewTape returns a tape for a training (train true) or evaluation step.
func NewTape(train bool) *Tape { return &Tape{Train: train} }

// NoGrad returns a tape that records nothing, for inference.
func NoGrad() *Tape { return &Tape{noGrad: true} }

// record adds a backward function when out needs a gradient.
func (tp *Tape) record(out *Tensor, back func()) {
	if tp == nil || tp.noGrad || !out.needGrad {
		return
	}
	tp.ops = append(tp.ops, back)
}

// needs reports whether an output computed from ins needs a gradient.
func (tp *Tape) needs(ins ...*Tensor) bool {
	if tp == nil || tp.noGrad {
		return false
	}
	for _, t := range ins {
		if t != nil && t.needGrad {
			return true
		}
	}
	return false
}

// training reports whether the tape is in training mode.
func (tp *Tape) training() bool { return tp != nil && tp.Train }

// Backward seeds the gradient of a scalar loss with 1 and runs the recorded
// backward functions in reverse order. The tape is empty afterwards.
func (tp *Tape) Backward(loss *Tensor) {
	if len(loss.Data) != 1 {
		panic("nn: Backward needs a scalar loss")
	}
	loss.grad()[0] = 1
	for i := len(tp.ops) - 1; i >= 0; i-- {
		tp.ops[i]()
		tp.ops[i] = nil
	}
	tp.ops = tp.ops[:0]
}

// Len is the number of recorded operations.
func (tp *Tape) Len() int { return len(tp.ops) }

// newOut returns an output tensor that needs a gradient when any input does.
func (tp *Tape) newOut(shape []int, ins ...*Tensor) *Tensor {
	t := New(shape...)
	t.needGrad = tp.needs(ins...)
	return t
}
