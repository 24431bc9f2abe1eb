package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// profNet is a small network with phases: an input layer, three blocks
// (Linear, GELU, Linear, residual) and a head with a loss.
type profNet struct {
	in             *Param
	w1, w2, b1, b2 []*Param
	head           *Param
}

func newProfNet(seed uint64) *profNet {
	r := rand.New(rand.NewPCG(seed, 1))
	p := func(name string, shape ...int) *Param {
		w := NewParam(name, shape...)
		for i := range w.Data {
			w.Data[i] = float32(r.NormFloat64() * 0.3)
		}
		return w
	}
	n := &profNet{in: p("in", 6, 8), head: p("head", 4, 6)}
	for i := 0; i < 3; i++ {
		n.w1 = append(n.w1, p(fmt.Sprint("w1.", i), 12, 6))
		n.b1 = append(n.b1, p(fmt.Sprint("b1.", i), 12))
		n.w2 = append(n.w2, p(fmt.Sprint("w2.", i), 6, 12))
		n.b2 = append(n.b2, p(fmt.Sprint("b2.", i), 6))
	}
	return n
}

func (n *profNet) params() Params {
	ps := Params{n.in, n.head}
	for i := range n.w1 {
		ps = append(ps, n.w1[i], n.b1[i], n.w2[i], n.b2[i])
	}
	return ps
}

// step runs forward (marking phases) and backward on tp.
func (n *profNet) step(tp *Tape) float32 {
	x := FromData([]float32{0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9, 1.0, -1.1, 1.2, 1.3, -1.4, 1.5, 1.6,
		0.2, 0.1, -0.3, 0.5, 0.8, -0.9, 0.4, 0.2, -0.6, 0.7, 0.3, -0.1, 0.0, 0.5, 0.9, -0.4}, 4, 8)
	tp.Phase("input")
	h := Linear(tp, x, n.in, nil)
	for i := range n.w1 {
		tp.PhaseN("block", i)
		u := GELU(tp, Linear(tp, h, n.w1[i], n.b1[i]), false)
		h = Add(tp, h, Linear(tp, u, n.w2[i], n.b2[i]))
	}
	tp.Phase("head")
	loss := CrossEntropy(tp, Linear(tp, h, n.head, nil), []int{0, 1, 2, 3}, 0)
	tp.Backward(loss)
	return loss.Data[0]
}

// TestProfileStructure: every phase marked is reported in order, each
// block with a forward and a backward, the memory with a peak and the
// tensors alive at it.
func TestProfileStructure(t *testing.T) {
	n := newProfNet(1)
	pool := NewPool()
	prof := NewProfile(pool)
	defer prof.Close()
	var sp StepProfile
	for range 2 { // the second step reuses the pool's buffers
		n.params().ZeroGrad()
		prof.Start()
		tp := NewTapePool(true, pool)
		n.step(tp)
		prof.Phase("optimiser")
		tp.Release()
		sp = prof.Stop()
	}
	var names []string
	for _, p := range sp.Phases {
		names = append(names, p.Name)
	}
	if want := []string{"input", "block 0", "block 1", "block 2", "head", "optimiser"}; !slices.Equal(names, want) {
		t.Fatalf("phases %q, want %q", names, want)
	}
	for _, p := range sp.Phases[:5] {
		if p.BackwardOps == 0 {
			t.Errorf("%s: no backward operations", p.Name)
		}
		if p.LiveAfterBackward <= 0 {
			t.Errorf("%s: %d bytes live after backward", p.Name, p.LiveAfterBackward)
		}
	}
	if op := sp.Phases[5]; op.BackwardOps != 0 || op.Backward != 0 {
		t.Errorf("optimiser: %+v, want no backward", op)
	}
	// block i's forward adds its outputs: more is alive at each block's start.
	for i := 2; i < 5; i++ {
		if sp.Phases[i].LiveStart <= sp.Phases[i-1].LiveStart {
			t.Errorf("%s starts with %d bytes live, %s with %d", sp.Phases[i].Name, sp.Phases[i].LiveStart,
				sp.Phases[i-1].Name, sp.Phases[i-1].LiveStart)
		}
	}
	var sum int64
	for _, p := range sp.Phases {
		sum += int64(p.Forward + p.Backward)
	}
	if sp.PeakBytes <= 0 || sp.PeakPhase == "" || sp.Total <= 0 || sum > int64(sp.Total) {
		t.Errorf("peak %d bytes in %q, total %v, phases %v", sp.PeakBytes, sp.PeakPhase, sp.Total, sum)
	}
	if sp.LiveEnd != 0 {
		t.Errorf("%d bytes live after Release", sp.LiveEnd)
	}
	if len(sp.AtPeak) == 0 || len(sp.AtPeak) > 10 {
		t.Fatalf("%d groups alive at the peak", len(sp.AtPeak))
	}
	var atPeak int64
	ops, grads := map[string]bool{}, 0
	for i, g := range sp.AtPeak {
		if g.Bytes <= 0 || g.Count <= 0 || g.Op == "" || g.Op == "?" || (i > 0 && g.Bytes > sp.AtPeak[i-1].Bytes) {
			t.Errorf("alive at the peak: %+v", g)
		}
		atPeak += g.Bytes
		ops[g.Op] = true
		if g.Gradient {
			grads++
		}
	}
	var byOp int64
	for _, g := range sp.AtPeakByOp {
		byOp += g.Bytes
	}
	if len(sp.AtPeakByOp) == 0 || sp.AtPeakByOp[0].Bytes < sp.AtPeak[0].Bytes || byOp > sp.PeakBytes {
		t.Errorf("alive at the peak by operation: %+v", sp.AtPeakByOp)
	}
	if atPeak > sp.PeakBytes || !ops["nn.Linear"] {
		t.Errorf("alive at the peak: %d bytes of %d, ops %v", atPeak, sp.PeakBytes, ops)
	}
	t.Logf("peak %d bytes in %s; %d groups, %d of gradients: %+v", sp.PeakBytes, sp.PeakPhase, len(sp.AtPeak), grads, sp.AtPeak)
}

// TestProfileBitIdentical: the gradients and the loss of a profiled step
// are those of the same step without a profile, bit for bit.
func TestProfileBitIdentical(t *testing.T) {
	run := func(profile bool) (float32, [][]float32) {
		n := newProfNet(7)
		pool := NewPool()
		if profile {
			prof := NewProfile(pool)
			defer prof.Close()
			prof.Start()
			defer prof.Stop()
		}
		tp := NewTapePool(true, pool)
		loss := n.step(tp)
		tp.Release()
		var gs [][]float32
		for _, p := range n.params() {
			gs = append(gs, slices.Clone(p.Grad))
		}
		return loss, gs
	}
	l0, g0 := run(false)
	l1, g1 := run(true)
	if math.Float32bits(l0) != math.Float32bits(l1) {
		t.Errorf("loss %v with the profile, %v without", l1, l0)
	}
	for i := range g0 {
		if len(g0[i]) == 0 || len(g0[i]) != len(g1[i]) {
			t.Fatalf("gradient %d: %d and %d values", i, len(g0[i]), len(g1[i]))
		}
		for j := range g0[i] {
			if math.Float32bits(g0[i][j]) != math.Float32bits(g1[i][j]) {
				t.Fatalf("gradient %d[%d]: %v with the profile, %v without", i, j, g1[i][j], g0[i][j])
			}
		}
	}
}

// TestProfilePhaseHarmless: a phase mark on a tape that records nothing,
// on a tape without a pool, on a nil tape, outside Start and Stop, or on a
// pool without a profile changes nothing and records nothing.
func TestProfilePhaseHarmless(t *testing.T) {
	var nilTape *Tape
	nilTape.Phase("x")
	nilTape.PhaseN("x", 1)
	NoGrad().Phase("x")
	NewTape(true).PhaseN("block", 0)
	pool := NewPool()
	plain := NewTapePool(true, pool)
	if n := testing.AllocsPerRun(10, func() { plain.Phase("no profile"); plain.PhaseN("block", 3) }); n != 0 {
		t.Errorf("marks without a profile allocate %v times", n)
	}

	prof := NewProfile(pool)
	defer prof.Close()
	NewTapePool(true, pool).Phase("before Start")
	if sp := prof.Stop(); len(sp.Phases) != 0 || sp.Total != 0 {
		t.Errorf("Stop before Start: %+v", sp)
	}
	prof.Start()
	ng := NoGrad()
	ng.Phase("nograd")
	x := Scale(ng, FromData([]float32{1, 2}, 2), 2)
	if x.Data[1] != 4 || ng.Len() != 0 {
		t.Errorf("NoGrad after a mark: %v, %d operations", x.Data, ng.Len())
	}
	sp := prof.Stop()
	if len(sp.Phases) != 0 {
		t.Errorf("phases marked on tapes without the profiled pool: %+v", sp.Phases)
	}
	// A tape of the pool that records nothing (a Scope) times its forward.
	prof.Start()
	sc := NewTapePool(true, pool).Scope()
	sc.Phase("scope")
	Scale(sc, FromData([]float32{1, 2}, 2), 2)
	sc.Release()
	sp = prof.Stop()
	if len(sp.Phases) != 1 || sp.Phases[0].Name != "scope" || sp.Phases[0].BackwardOps != 0 {
		t.Errorf("a Scope's phase: %+v", sp.Phases)
	}
	prof.Close()
	if pool.trace != nil {
		t.Error("Close left the profile on the pool")
	}
}
