package nn

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Profile measures where a training step's time and memory go, phase by
// phase. Model code marks the start of each phase of its forward on the
// tape (Tape.Phase, Tape.PhaseN: "encoder", "block 3", "head"); Backward
// replays the recorded operations in reverse and gives the time spent on the
// operations recorded during a phase's forward to that phase's backward.
// Memory is what the tape's Pool has handed out and not yet been given back
// (the step's activations and their gradients), sampled at each phase
// boundary; its peak is located, and the buffers alive at the peak are
// listed by the operation that allocated them and their shape.
//
// A Profile attaches to a Pool: every tape on that pool is profiled between
// Start and Stop. Without a Profile nothing is timed or recorded: Phase is a
// nil check, and the pool's and Backward's hooks are a nil check each.
// Profiling changes no value a step computes.
//
// A Profile is used by one goroutine (the step's); the pool's buffers may
// come and go from parallel operations, which it serialises.
type Profile struct {
	// Sync, when set, is called before every time stamp: a device's
	// synchronisation, so that each phase's time includes the work it
	// queued.
	Sync func()

	pool    *Pool
	running bool
	t0      time.Time
	last    time.Time // start of the interval being timed
	phases  []phaseRec
	cur     int  // the phase whose forward is open, -1 for none
	back    bool // in a Backward
	bw      int  // the phase of the operation Backward runs, -1 for none
	unOps   int  // operations recorded before any phase of their tape
	unBack  time.Duration

	mu        sync.Mutex // the memory log below
	live      map[*float32]int
	events    []memEvent
	liveBytes int64
	peakBytes int64
	peakAt    int  // events applied at the peak
	peakPhase int  // the phase open at the peak (-1: none)
	peakBack  bool // whether it was in that phase's backward
}

// phaseRec is one phase of the step being profiled.
type phaseRec struct {
	name      string
	index     int   // -1: none
	tape      *Tape // the tape it was marked on
	op        int   // the tape's first operation recorded in it
	fwd, bwd  time.Duration
	bwdOps    int
	liveStart int64 // pooled bytes live when its forward began
	liveBack  int64 // ... when its backward ended
}

func (r *phaseRec) label() string {
	if r.index < 0 {
		return r.name
	}
	return fmt.Sprintf("%s %d", r.name, r.index)
}

// profDepth is how many callers an allocation keeps: enough to get from
// Pool.get past the tape's helpers to the operation.
const profDepth = 8

// memEvent is a pooled buffer handed out (bytes > 0) or given back.
type memEvent struct {
	key   *float32
	bytes int64
	pcs   [profDepth]uintptr
	shape []int
}

// NewProfile returns a profile of the tapes that take their buffers from
// pool, attached to it until Close; attach it before the step, not while
// operations run. With a nil pool only Profile.Phase reaches it.
func NewProfile(pool *Pool) *Profile {
	p := &Profile{pool: pool, cur: -1, bw: -1, peakPhase: -1, live: map[*float32]int{}}
	if pool != nil {
		pool.trace = p
	}
	return p
}

// Close detaches the profile from its pool.
func (p *Profile) Close() {
	if p.pool != nil && p.pool.trace == p {
		p.pool.trace = nil
	}
	p.running = false
}

// Start begins a step: the phases, times and memory log start empty; the
// pool's buffers live now are not counted.
func (p *Profile) Start() {
	p.mu.Lock()
	clear(p.live)
	p.events = p.events[:0]
	p.liveBytes, p.peakBytes, p.peakAt, p.peakPhase, p.peakBack = 0, 0, 0, -1, false
	p.mu.Unlock()
	p.phases = p.phases[:0]
	p.cur, p.bw, p.back, p.unOps, p.unBack = -1, -1, false, 0, 0
	p.t0 = p.now()
	p.last = p.t0
	p.running = true
}

func (p *Profile) now() time.Time {
	if p.Sync != nil {
		p.Sync()
	}
	return time.Now()
}

// Phase begins a phase that runs outside any tape (the optimiser's step):
// the open phase ends here.
func (p *Profile) Phase(name string) { p.mark(nil, name, -1) }

// Phase marks the start of a phase of the forward pass named name (the
// model's parts: "encoder", "head"), when tp's pool is profiled (see
// Profile); the previous phase ends here. Operations recorded on tp from
// now until the next phase are this phase's backward. On a tape without a
// profiled pool (NoGrad, NewTape, nil) it does nothing; on a tape that
// records nothing (a Scope) it times the forward only.
func (tp *Tape) Phase(name string) {
	if tp != nil && tp.pool != nil && tp.pool.trace != nil {
		tp.pool.trace.mark(tp, name, -1)
	}
}

// PhaseN is Phase for the i-th of a repeated part ("block", i: "block 3").
// The name is formatted only when the profile is read.
func (tp *Tape) PhaseN(name string, i int) {
	if tp == nil || tp.pool == nil || tp.pool.trace == nil {
		return
	}
	tp.pool.trace.mark(tp, name, i)
}

func (p *Profile) mark(tp *Tape, name string, i int) {
	if !p.running {
		return
	}
	t := p.now()
	p.closeForward(t)
	op := 0
	if tp != nil {
		op = len(tp.ops)
	}
	p.mu.Lock()
	live := p.liveBytes
	p.cur = len(p.phases)
	p.phases = append(p.phases, phaseRec{name: name, index: i, tape: tp, op: op, liveStart: live})
	p.mu.Unlock()
	p.last = t
}

// closeForward gives the time since the last stamp to the open phase's
// forward.
func (p *Profile) closeForward(t time.Time) {
	if p.cur >= 0 && !p.back {
		p.phases[p.cur].fwd += t.Sub(p.last)
	}
	p.cur = -1
}

// profile is tp's pool's profile while it runs, else nil.
func (tp *Tape) profile() *Profile {
	if tp.pool == nil || tp.pool.trace == nil || !tp.pool.trace.running {
		return nil
	}
	return tp.pool.trace
}

// backwardStart: Backward of tp begins; the open forward phase ends.
func (p *Profile) backwardStart(tp *Tape) {
	t := p.now()
	p.closeForward(t)
	p.last = t
	p.back = true
	p.bw = p.find(tp, len(tp.ops)-1, len(p.phases)-1)
}

// backwardOp: Backward of tp is about to run its operation i.
func (p *Profile) backwardOp(tp *Tape, i int) {
	if p.bw < 0 || p.phases[p.bw].op > i {
		if p.bw >= 0 || p.unOps == 0 {
			p.endBack(p.now())
		}
		p.bw = p.find(tp, i, p.bw-1)
	}
	if p.bw >= 0 {
		p.phases[p.bw].bwdOps++
	} else {
		p.unOps++
	}
}

// find returns the phase of tp, at or before phase j, that recorded its
// operation i (-1: none).
func (p *Profile) find(tp *Tape, i, j int) int {
	for j >= 0 && (p.phases[j].tape != tp || p.phases[j].op > i) {
		j--
	}
	return j
}

// endBack gives the time since the last stamp to the backward of the phase
// being replayed (or of the unmarked operations).
func (p *Profile) endBack(t time.Time) {
	d := t.Sub(p.last)
	p.last = t
	if p.bw < 0 {
		p.unBack += d
		return
	}
	p.mu.Lock()
	live := p.liveBytes
	p.mu.Unlock()
	p.phases[p.bw].bwd += d
	p.phases[p.bw].liveBack = live
}

// backwardEnd: Backward is done.
func (p *Profile) backwardEnd() {
	p.endBack(p.now())
	p.back, p.bw = false, -1
}

// got records a buffer handed out by the pool.
func (p *Profile) got(b []float32) {
	if !p.running || cap(b) == 0 {
		return
	}
	e := memEvent{key: &b[:cap(b)][0], bytes: 4 * int64(cap(b))}
	runtime.Callers(3, e.pcs[:])
	p.mu.Lock()
	p.live[e.key] = len(p.events)
	p.events = append(p.events, e)
	p.liveBytes += e.bytes
	if p.liveBytes > p.peakBytes {
		p.peakBytes, p.peakAt = p.liveBytes, len(p.events)
		p.peakPhase, p.peakBack = p.cur, p.back
		if p.back {
			p.peakPhase = p.bw
		}
	}
	p.mu.Unlock()
}

// gave records a buffer given back to the pool.
func (p *Profile) gave(b []float32) {
	if !p.running || cap(b) == 0 {
		return
	}
	k := &b[:cap(b)][0]
	p.mu.Lock()
	if i, ok := p.live[k]; ok {
		delete(p.live, k)
		p.events = append(p.events, memEvent{key: k, bytes: -p.events[i].bytes})
		p.liveBytes -= p.events[i].bytes
	}
	p.mu.Unlock()
}

// traceShape notes the shape of a tensor whose buffer b the pool has just
// handed out, for the list of tensors alive at the peak; small enough to
// be inlined, so that it costs a nil check without a profile.
func (tp *Tape) traceShape(b []float32, shape []int) {
	if tp != nil && tp.pool != nil && tp.pool.trace != nil {
		tp.pool.trace.shape(b, shape)
	}
}

func (p *Profile) shape(b []float32, shape []int) {
	if !p.running || cap(b) == 0 {
		return
	}
	p.mu.Lock()
	if i, ok := p.live[&b[:cap(b)][0]]; ok {
		p.events[i].shape = shape
	}
	p.mu.Unlock()
}

// PhaseStat is one phase of a profiled step.
type PhaseStat struct {
	// Name is the phase's ("block 3"); "(unmarked)" holds the
	// operations recorded before the first phase of their tape.
	Name string
	// Forward is the time from the phase's mark to the next mark (or to
	// Backward, or to Stop); Backward the time Backward spent replaying
	// the operations recorded during the phase.
	Forward, Backward time.Duration
	// BackwardOps is the number of those operations (0: the phase has no
	// backward: nothing in it needs a gradient).
	BackwardOps int
	// LiveStart is the bytes of pooled buffers alive (handed out since
	// Start and not given back) when the phase's forward began;
	// LiveAfterBackward when its backward ended (0 without backward).
	LiveStart, LiveAfterBackward int64
}

// LiveTensor is a group of pooled buffers alive at the peak: allocated by
// the same operation, with the same shape.
type LiveTensor struct {
	// Op is the function that asked for the buffers: an operation
	// ("nn.GELU") for its output, or, for a gradient (Gradient true), the
	// backward of the operation that consumed the tensor.
	Op       string
	Gradient bool
	// Shape is the tensor's shape (nil when the buffer was not made for a
	// tensor's output or gradient: then Elems is its size class, which
	// may exceed what was asked for by up to 25%).
	Shape []int
	Elems int
	Count int
	// Bytes is the memory the buffers hold together (their size
	// classes').
	Bytes int64
}

// StepProfile is one profiled step.
type StepProfile struct {
	Phases []PhaseStat
	// Total is the time from Start to Stop; what the phases do not cover
	// (before the first mark, between Backward's end and the next mark) is
	// the difference.
	Total time.Duration
	// PeakBytes is the most pooled bytes alive at once, in the phase
	// PeakPhase ("block 11 backward"; "" outside any).
	PeakBytes int64
	PeakPhase string
	// AtPeak lists the largest groups of buffers alive at the peak, the
	// largest first (at most 10); AtPeakByOp the same buffers grouped by
	// operation and kind only (Shape is then the largest buffer's).
	AtPeak, AtPeakByOp []LiveTensor
	// LiveEnd is the pooled bytes still alive at Stop.
	LiveEnd int64
}

// Stop ends the step (the open phase ends here) and returns its profile.
func (p *Profile) Stop() StepProfile {
	if !p.running {
		return StepProfile{}
	}
	t := p.now()
	p.closeForward(t)
	p.running = false
	var sp StepProfile
	sp.Total = t.Sub(p.t0)
	if p.unOps > 0 {
		sp.Phases = append(sp.Phases, PhaseStat{Name: "(unmarked)", Backward: p.unBack, BackwardOps: p.unOps})
	}
	for i := range p.phases {
		r := &p.phases[i]
		sp.Phases = append(sp.Phases, PhaseStat{Name: r.label(), Forward: r.fwd, Backward: r.bwd, BackwardOps: r.bwdOps,
			LiveStart: r.liveStart, LiveAfterBackward: r.liveBack})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	sp.PeakBytes, sp.LiveEnd = p.peakBytes, p.liveBytes
	if p.peakPhase >= 0 {
		sp.PeakPhase = p.phases[p.peakPhase].label() + " forward"
		if p.peakBack {
			sp.PeakPhase = p.phases[p.peakPhase].label() + " backward"
		}
	}
	sp.AtPeak, sp.AtPeakByOp = p.atPeak()
	clear(p.live)
	p.events = p.events[:0]
	return sp
}

// atPeak replays the memory log up to the peak and groups the buffers
// alive then by allocating function, kind and shape, and by function and
// kind: the ten largest groups of each.
func (p *Profile) atPeak() (byShape, byOp []LiveTensor) {
	alive := map[*float32]int{}
	for i, e := range p.events[:p.peakAt] {
		if e.bytes > 0 {
			alive[e.key] = i
		} else {
			delete(alive, e.key)
		}
	}
	type key struct {
		op    string
		grad  bool
		shape string
	}
	shapes, ops := map[key]*LiveTensor{}, map[key]*LiveTensor{}
	add := func(m map[key]*LiveTensor, k key, op string, grad bool, e *memEvent) {
		elems := int(e.bytes / 4)
		if e.shape != nil {
			elems = numel(e.shape)
		}
		g := m[k]
		if g == nil {
			g = &LiveTensor{Op: op, Gradient: grad}
			m[k] = g
		}
		if elems > g.Elems || g.Count == 0 {
			g.Shape, g.Elems = e.shape, elems
		}
		g.Count++
		g.Bytes += e.bytes
	}
	for _, i := range alive {
		e := &p.events[i]
		op, grad := allocSite(e.pcs[:])
		add(shapes, key{op, grad, fmt.Sprint(e.shape, e.bytes)}, op, grad, e)
		add(ops, key{op: op, grad: grad}, op, grad, e)
	}
	return largest(shapes), largest(ops)
}

// largest returns the ten largest groups, the largest first.
func largest[K comparable](m map[K]*LiveTensor) []LiveTensor {
	out := make([]LiveTensor, 0, len(m))
	for _, g := range m {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b LiveTensor) int {
		if a.Bytes != b.Bytes {
			if a.Bytes > b.Bytes {
				return -1
			}
			return 1
		}
		return strings.Compare(fmt.Sprint(a.Op, a.Gradient, a.Shape), fmt.Sprint(b.Op, b.Gradient, b.Shape))
	})
	if len(out) > 10 {
		out = out[:10]
	}
	return out
}

// allocHelpers are the functions between Pool.get and the operation that
// wants a buffer.
var allocHelpers = []string{"nn.(*Pool).get", "nn.(*Pool).getRaw", "nn.(*Pool).take", "nn.(*Tape).alloc",
	"nn.(*Tape).allocRaw", "nn.(*Tape).allocFrom", "nn.(*Tape).newOut", "nn.(*Tape).newOutRaw", "nn.(*Tape).gradBuf",
	"nn.(*Tensor).grad", "nn.(*Tensor).grad0", "nn.(*Tensor).Reshape"}

// allocSite names the operation in an allocation's callers (pcs from
// runtime.Callers) and whether the buffer is a gradient.
func allocSite(pcs []uintptr) (string, bool) {
	fr := runtime.CallersFrames(pcs)
	grad := false
	for {
		f, more := fr.Next()
		name := f.Function
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:]
		}
		helper := false
		for _, h := range allocHelpers {
			if name == h {
				helper = true
			}
		}
		if name == "nn.(*Tape).gradBuf" {
			grad = true
		}
		if !helper && name != "" {
			// A backward function is a closure of its operation
			// (nn.GELU.func1): name the operation.
			if i := strings.Index(name, ".func"); i >= 0 {
				name = name[:i]
			}
			return name, grad
		}
		if !more {
			return "?", grad
		}
	}
}
