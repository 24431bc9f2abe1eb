package nn

import "sync"

// Tape records, during a forward pass, the backward function of every
// operation whose output needs a gradient; Backward replays them in reverse.
// A nil *Tape (or one with Grad false) records nothing: inference.
type Tape struct {
	ops  []func()
	outs []*Tensor // the output of each recorded operation
	// Train selects training behaviour (dropout, drop-path, BatchNorm batch
	// statistics); false is evaluation.
	Train bool
	// noGrad disables recording.
	noGrad bool
	// pool, when set, provides output and gradient buffers; owned lists
	// the buffers handed out, returned by Release.
	pool  *Pool
	owned [][]float32
	// made lists, on a tape that records nothing, the tensors newOut
	// made, for ReleaseSince to invalidate.
	made []*Tensor
	mu   sync.Mutex
	// dev is the device of the tape's device tensors (nil on the host);
	// downed lists the device memory its tensors own and dgrads their
	// gradients not yet given back, all freed by Release.
	dev    Device
	downed []DeviceBuffer
	dgrads map[DeviceBuffer]bool
	// releaseInBackward: see ReleaseInBackward.
	releaseInBackward bool
}

// ReleaseInBackward makes Backward give each recorded operation's output
// back to the pool as soon as that operation's backward has run, the loss
// excepted. Its values were read by its own backward and by those of the
// operations that consumed it, recorded later and so run before; no
// operation recorded earlier can refer to it. PyTorch frees what a node
// saved once the node has run in the same way, and backward's gradients
// then reuse the forward's buffers. The outputs of the step (the loss
// excepted) are invalid from Backward on rather than from Release: read
// logits and metrics before Backward. It returns tp.
func (tp *Tape) ReleaseInBackward() *Tape {
	tp.releaseInBackward = true
	return tp
}

// NewTapePool returns a tape whose outputs and their gradients come from
// pool. After the step, Release gives them back: every tensor the tape
// produced is invalid from then on, so copy out what must outlive the step.
func NewTapePool(train bool, pool *Pool) *Tape { return &Tape{Train: train, pool: pool} }

// Release returns the buffers of the tape's tensors to its pool.
func (tp *Tape) Release() {
	if tp == nil {
		return
	}
	tp.releaseDevice()
	if tp.pool == nil {
		return
	}
	for _, b := range tp.owned {
		tp.pool.put(b)
	}
	tp.owned = tp.owned[:0]
	clear(tp.made)
	tp.made = tp.made[:0]
	tp.ops = tp.ops[:0]
	tp.outs = tp.outs[:0]
}

// gradBuf returns a gradient buffer for a tensor of the tape, zeroed when
// zero is set; it is not owned by the tape but given back by Backward once
// consumed.
func (tp *Tape) gradBuf(n int, zero bool) []float32 {
	if tp == nil || tp.pool == nil {
		return make([]float32, n)
	}
	if !zero {
		return tp.pool.getRaw(n)
	}
	return tp.pool.get(n)
}

// alloc returns a zeroed buffer, from the pool when the tape has one.
func (tp *Tape) alloc(n int) []float32 { return tp.allocFrom(n, true) }

// allocRaw is alloc for a buffer the caller writes in full before reading
// it: a buffer reused from the pool keeps its former values until then.
func (tp *Tape) allocRaw(n int) []float32 { return tp.allocFrom(n, false) }

func (tp *Tape) allocFrom(n int, zero bool) []float32 {
	if tp == nil || tp.pool == nil {
		return make([]float32, n)
	}
	var b []float32
	if zero {
		b = tp.pool.get(n)
	} else {
		b = tp.pool.getRaw(n)
	}
	tp.mu.Lock()
	tp.owned = append(tp.owned, b)
	tp.mu.Unlock()
	return b
}

// Discard gives the buffers of ts, outputs of operations on tp whose values
// no recorded backward function reads (an intermediate that only the next
// operations' forward consumes: a BatchNorm output that a ReLU has turned
// into its own, a convolution output reduced by MaxMiddle, the parts of a
// concatenation), back to the tape's pool at once, so that the step's later
// outputs and gradients reuse them instead of new memory. Each tensor's Data
// becomes nil (a view made by Reshape still points at the old buffer and
// must not be read either); its gradient is unaffected. Tensors that the
// tape did not allocate from its pool, and device tensors, are left alone,
// as is everything on a tape without a pool. The results of forward and
// backward do not change.
func (tp *Tape) Discard(ts ...*Tensor) {
	if tp == nil || tp.pool == nil {
		return
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, t := range ts {
		if t == nil || t.dev != nil || t.tape != tp || len(t.Data) == 0 {
			continue
		}
		for i := len(tp.owned) - 1; i >= 0; i-- {
			if b := tp.owned[i]; len(b) == len(t.Data) && &b[0] == &t.Data[0] {
				tp.owned = append(tp.owned[:i], tp.owned[i+1:]...)
				tp.pool.put(b)
				t.Data, t.discarded = nil, true
				break
			}
		}
	}
}

// Mark is a position in a tape's buffers, for ReleaseSince.
type Mark struct{ owned, made int }

// Mark returns the tape's current position for ReleaseSince.
func (tp *Tape) Mark() Mark {
	if tp == nil {
		return Mark{}
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return Mark{len(tp.owned), len(tp.made)}
}

// ReleaseSince frees a forward pass as it goes, block by block, on a tape
// that records nothing (inference, evaluation): it gives every buffer the
// tape handed out since m back to the pool, except those of keep (what the
// pass still needs: the block's output, a running sum), and invalidates
// the tensors made since m as Discard does (Data nil; a view of one must not
// be read either). A forward over blocks calls it after each block with a
// mark taken before the first, so that the pass holds about one block's
// activations. On a tape that records, or one without a pool, it does
// nothing: backward may read any of them.
func (tp *Tape) ReleaseSince(m Mark, keep ...*Tensor) {
	if tp == nil || tp.pool == nil || tp.Records() {
		return
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	kept := func(b []float32) bool {
		for _, k := range keep {
			if k != nil && len(k.Data) > 0 && len(b) > 0 && &k.Data[0] == &b[0] {
				return true
			}
		}
		return false
	}
	// Discard removes buffers from the list, so a buffer handed out after m
	// may now sit before m.owned (it is then freed at Release), but never
	// one handed out before m after it.
	m.owned, m.made = min(m.owned, len(tp.owned)), min(m.made, len(tp.made))
	w := m.made
	for _, t := range tp.made[m.made:] {
		if kept(t.Data) {
			tp.made[w] = t
			w++
		} else {
			t.Data, t.discarded = nil, true
		}
	}
	clear(tp.made[w:])
	tp.made = tp.made[:w]
	w = m.owned
	for _, b := range tp.owned[m.owned:] {
		if kept(b) {
			tp.owned[w] = b
			w++
		} else {
			tp.pool.put(b)
		}
	}
	clear(tp.owned[w:])
	tp.owned = tp.owned[:w]
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
	tp.outs = append(tp.outs, out)
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

// Records reports whether tp records backward functions: false for a nil
// tape, NoGrad's and a Scope's. On a tape that records nothing, no later
// backward reads an operation's inputs, so a forward pass may Discard each
// intermediate as soon as the next operation has consumed it (inference
// then holds about one layer's activations instead of the whole pass's).
func (tp *Tape) Records() bool { return tp != nil && !tp.noGrad }

// training reports whether the tape is in training mode.
func (tp *Tape) training() bool { return tp != nil && tp.Train }

// Backward seeds the gradient of a scalar loss with 1 and runs the recorded
// backward functions in reverse order. The tape is empty afterwards.
func (tp *Tape) Backward(loss *Tensor) {
	if loss.Len() != 1 {
		panic("nn: Backward needs a scalar loss")
	}
	if loss.dev != nil {
		loss.dev.Fill(loss.dg(), 1)
	} else {
		loss.grad()[0] = 1
	}
	// A profiled step (see Profile) gives each operation's time to the
	// phase of the forward that recorded it; pr is nil otherwise.
	pr := tp.profile()
	if pr != nil {
		pr.backwardStart(tp)
	}
	// first[t] is the first operation that recorded t as its output (an
	// operation may record its input as its output too).
	var first map[*Tensor]int
	if tp.pool != nil && tp.releaseInBackward {
		first = make(map[*Tensor]int, len(tp.outs))
		for i, out := range tp.outs {
			if _, ok := first[out]; !ok {
				first[out] = i
			}
		}
	}
	for i := len(tp.ops) - 1; i >= 0; i-- {
		if pr != nil {
			pr.backwardOp(tp, i)
		}
		// An output no gradient reached (a value computed but not part of
		// the loss) has nothing to pass back: on the host its backward
		// loops over a nil gradient, on a device it is skipped.
		if out := tp.outs[i]; out.dev == nil || out.dgrad != nil {
			tp.ops[i]()
		}
		tp.ops[i] = nil
		if out := tp.outs[i]; out.tape == tp && out.dgrad != nil && tp.dgrads[out.dgrad] {
			delete(tp.dgrads, out.dgrad)
			tp.dev.Free(out.dgrad)
			out.dgrad = nil
		}
		// The output's gradient has reached the op's inputs and is never
		// read again: give its buffer back at once, so that backward holds
		// only the gradients still in flight.
		if out := tp.outs[i]; out.tape == tp && out.Grad != nil && tp.pool != nil {
			tp.pool.put(out.Grad)
			out.Grad = nil
		}
		// With ReleaseInBackward, so have its values.
		if out := tp.outs[i]; first != nil && out != loss && first[out] == i {
			tp.Discard(out)
		}
		tp.outs[i] = nil
	}
	if pr != nil {
		pr.backwardEnd()
	}
	tp.ops = tp.ops[:0]
	tp.outs = tp.outs[:0]
}

// Len is the number of recorded operations.
func (tp *Tape) Len() int { return len(tp.ops) }

// newOut returns an output tensor that needs a gradient when any input does.
func (tp *Tape) newOut(shape []int, ins ...*Tensor) *Tensor {
	return tp.newOutFrom(tp.alloc(numel(shape)), shape, ins)
}

// newOutRaw is newOut for an operation that writes every value of its
// output (a matrix product with beta 0 or over a copied bias, an
// element-wise map): the buffer is not zeroed first.
func (tp *Tape) newOutRaw(shape []int, ins ...*Tensor) *Tensor {
	return tp.newOutFrom(tp.allocRaw(numel(shape)), shape, ins)
}

func (tp *Tape) newOutFrom(buf []float32, shape []int, ins []*Tensor) *Tensor {
	t := &Tensor{Shape: append([]int(nil), shape...), Data: buf}
	tp.traceShape(t.Data, t.Shape) // for a profile's list of the tensors alive at its peak
	t.needGrad = tp.needs(ins...)
	if tp != nil && tp.pool != nil {
		t.tape = tp
		if tp.noGrad {
			tp.mu.Lock()
			tp.made = append(tp.made, t)
			tp.mu.Unlock()
		}
	}
	return t
}

// Scope returns a tape for a sub-computation that needs no gradient (a
// frozen encoder run on data): same mode and pool, nothing recorded. Release
// it as soon as its result has been copied out (Copy), so that its
// intermediate buffers do not live until the end of the step.
func (tp *Tape) Scope() *Tape {
	if tp == nil {
		return &Tape{noGrad: true}
	}
	return &Tape{Train: tp.Train, noGrad: true, pool: tp.pool}
}

// Copy returns a copy of x's values owned by tp, without gradient.
func Copy(tp *Tape, x *Tensor) *Tensor {
	if x.dev != nil {
		out := &Tensor{Shape: append([]int(nil), x.Shape...), dev: x.dev, tape: tp}
		out.d = tp.dalloc(x.dev, x.Len())
		x.dev.Copy(out.d, x.d)
		return out
	}
	out := &Tensor{Shape: append([]int(nil), x.Shape...), Data: tp.alloc(x.Len())}
	if tp != nil && tp.pool != nil {
		out.tape = tp
	}
	copy(out.Data, x.Data)
	return out
}
