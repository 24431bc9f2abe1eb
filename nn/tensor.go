// Package nn is pcx's training engine: float32 tensors, a tape that records
// the operations needing a gradient, and coarse fused operations (Linear,
// LayerNorm, attention, ...) each with its hand-written backward beside its
// forward. Matrix products go through package blas (OpenBLAS when present,
// pure Go otherwise); everything else runs on goroutines.
//
// Activations are row-major with the channel axis last: a batch of token
// sequences is B×T×C, a batch of point groups B×G×M×C. Weights keep
// PyTorch's layout (Linear: out×in), so state dicts map one to one.
//
// Gradients: a parameter gets a weight gradient only when Trainable; a frozen
// parameter still passes the data gradient through to its input. Gradients
// accumulate into Grad until ZeroGrad clears them, never by surprise: every
// step calls ZeroGrad (or the optimiser's) explicitly.
//
// # Reductions and repeatability
//
// A run repeats bit for bit on one machine whatever its number of cores.
// Every sum the CPU engine computes itself (bias, LayerNorm, BatchNorm and
// ScaleShift gradients over the rows of a batch, means and broadcast
// gradients over tokens, softmax and norm sums within a row, losses, the
// global gradient norm) accumulates in float64 and is rounded to float32
// once. A sum over rows that runs in parallel is cut into chunks fixed by
// the tensor's shape alone (nn/cpu.ReduceRows), never by GOMAXPROCS: each
// chunk is summed in row order and the chunk sums are added in chunk order.
// Matrix products (package blas) accumulate in float32, as PyTorch's do;
// the Go backend splits them across threads by rows or columns of the
// result only, and its order over the shared dimension is fixed by its
// blocking, so they too give the same bits on any number of threads. (A
// system OpenBLAS makes no such promise across thread counts.) The device
// kernels (nn/cuda) use no atomics and launch shapes fixed by the sizes.
//
// # Profiles
//
// A Profile attached to a Pool times a step phase by phase (model code marks
// its phases with Tape.Phase; Backward gives each operation's time to the
// phase that recorded it) and follows the pool's buffers (the bytes alive at
// each phase boundary and at the peak, and which tensors those are). Without
// one, the marks cost a nil check and nothing is timed or recorded.
package nn

import (
	"fmt"
	"path"
	"strings"
)

// Tensor is a float32 array with a shape. Data is row-major.
type Tensor struct {
	Shape []int
	Data  []float32
	// Grad is the gradient of the loss with respect to Data, allocated
	// when first needed.
	Grad []float32
	// needGrad marks a tensor whose gradient backward must compute.
	needGrad bool
	// tape, when set, owns the tensor's buffers (see NewTapePool).
	tape *Tape
	// discarded marks a tensor whose values Tape.Discard gave back (Data
	// is nil; Len is still that of Shape).
	discarded bool
	// dev, when set, holds the tensor on a device (see Device): d is its
	// memory and dgrad its gradient; Data and Grad are nil, except for a
	// parameter, whose Data is its host copy (Params.SyncHost).
	dev      Device
	d, dgrad DeviceBuffer
}

// New returns a zeroed tensor of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, numel(shape))}
}

// FromData wraps data (not copied) as a tensor of the given shape.
func FromData(data []float32, shape ...int) *Tensor {
	if numel(shape) != len(data) {
		panic(fmt.Sprintf("nn: %d values for shape %v", len(data), shape))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// Len is the number of elements.
func (t *Tensor) Len() int {
	if t.dev != nil {
		return t.d.Len()
	}
	if t.Data == nil && t.discarded {
		return numel(t.Shape)
	}
	return len(t.Data)
}

// Dim returns the size of axis i (negative counts from the end).
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// NeedsGrad reports whether backward computes this tensor's gradient.
func (t *Tensor) NeedsGrad() bool { return t.needGrad }

// SetRequiresGrad asks backward for the gradient of an input tensor.
func (t *Tensor) SetRequiresGrad(v bool) { t.needGrad = v }

// grad returns the gradient buffer, allocating it zeroed on first use.
func (t *Tensor) grad() []float32 {
	if t.Grad == nil {
		t.Grad = t.tape.gradBuf(t.Len(), true)
		t.tape.traceShape(t.Grad, t.Shape) // for a profile (see Profile)
	}
	return t.Grad
}

// gradFresh is grad for a backward that writes every element of the
// gradient: when fresh, the buffer has just been allocated and holds
// whatever its last use left, and the caller must set each element to the
// value that adding its contribution to zero gives (0 + v, which turns -0
// into +0; a product written with beta 0 is that value except where a
// sum of products underflows to -0). Otherwise it adds to the gradient as
// with grad. This spares zeroing a buffer only to add to it once.
func (t *Tensor) gradFresh() (g []float32, fresh bool) {
	if t.Grad != nil {
		return t.Grad, false
	}
	t.Grad = t.tape.gradBuf(t.Len(), false)
	t.tape.traceShape(t.Grad, t.Shape)
	return t.Grad, true
}

// ZeroGrad clears the gradient, keeping its buffer.
func (t *Tensor) ZeroGrad() {
	if t.dev != nil {
		if t.dgrad != nil {
			t.dev.Zero(t.dgrad)
		}
		return
	}
	clear(t.Grad)
}

// Reshape returns a view sharing Data (and Grad) with a new shape.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	if numel(shape) != t.Len() {
		panic(fmt.Sprintf("nn: cannot reshape %v to %v", t.Shape, shape))
	}
	if t.dev != nil {
		if t.needGrad {
			t.dg()
		}
		return &Tensor{Shape: append([]int(nil), shape...), dev: t.dev, d: t.d, dgrad: t.dgrad, needGrad: t.needGrad, tape: t.tape}
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: t.Data, Grad: t.grad0(), needGrad: t.needGrad, tape: t.tape}
}

func (t *Tensor) grad0() []float32 {
	if t.needGrad {
		return t.grad()
	}
	return t.Grad
}

// String describes the shape.
func (t *Tensor) String() string { return fmt.Sprintf("Tensor%v", t.Shape) }

// Param is a named model parameter or buffer.
type Param struct {
	*Tensor
	// Name is the PyTorch state-dict key, e.g. "blocks.blocks.0.attn.qkv.weight".
	Name string
	// Trainable parameters get a weight gradient and are optimised.
	Trainable bool
	// Buffer marks state that is saved but never trained (BatchNorm running
	// statistics).
	Buffer bool
	// Host keeps the parameter on the host when the others move to a
	// device (Params.ToDevice): state the host updates, such as
	// BatchNorm's batch counter.
	Host bool
	// StateShape, when set, is the shape of the parameter in PyTorch's
	// state dict where it differs from Shape (same elements, same order):
	// a point-wise Conv1d weight, kept as out×in, is out×in×1 there.
	// Checkpoints are written in this shape.
	StateShape []int
}

// NewParam returns a zeroed trainable parameter.
func NewParam(name string, shape ...int) *Param {
	return &Param{Tensor: New(shape...), Name: name, Trainable: true}
}

// T returns the parameter's tensor, marked for a gradient when trainable.
func (p *Param) T() *Tensor {
	p.needGrad = p.Trainable
	return p.Tensor
}

// Params is an ordered set of parameters.
type Params []*Param

// Match reports whether name matches a shell pattern (path.Match syntax,
// where "*" also crosses dots).
func Match(pattern, name string) bool {
	ok, err := path.Match(pattern, name)
	if err == nil && ok {
		return true
	}
	// "*" in path.Match stops at "/" only, so names with dots match
	// naturally; also accept a plain substring pattern without wildcards.
	return !strings.ContainsAny(pattern, "*?[") && strings.Contains(name, pattern)
}

// Freeze marks every parameter matching any pattern (all when none is
// given) as not trainable.
func (ps Params) Freeze(patterns ...string) int { return ps.set(false, patterns) }

// Unfreeze marks every parameter matching any pattern as trainable.
func (ps Params) Unfreeze(patterns ...string) int { return ps.set(true, patterns) }

func (ps Params) set(v bool, patterns []string) int {
	n := 0
	for _, p := range ps {
		if p.Buffer {
			continue
		}
		hit := len(patterns) == 0
		for _, pat := range patterns {
			hit = hit || Match(pat, p.Name)
		}
		if hit {
			p.Trainable = v
			p.needGrad = v
			n++
		}
	}
	return n
}

// ZeroGrad clears every parameter's gradient.
func (ps Params) ZeroGrad() {
	for _, p := range ps {
		p.ZeroGrad()
	}
}

// Trainable returns the trainable parameters.
func (ps Params) Trainable() Params {
	var out Params
	for _, p := range ps {
		if p.Trainable && !p.Buffer {
			out = append(out, p)
		}
	}
	return out
}

// Count returns the number of elements in the parameters (buffers excluded).
func (ps Params) Count() int {
	n := 0
	for _, p := range ps {
		if !p.Buffer {
			n += p.Len()
		}
	}
	return n
}
