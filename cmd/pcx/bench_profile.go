package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/pcx-dev/pcx/nn"
)

// stepProfileReport is pcx bench step --profile's output: the phases of
// the timed step whose total is the median, and its memory (the same every
// step).
type stepProfileReport struct {
	Phases []phaseReport `json:"phases"`
	// TotalMS is that step from before grouping to after the optimiser;
	// OtherMS what no phase covers of it.
	TotalMS float64 `json:"total_ms"`
	OtherMS float64 `json:"other_ms"`
	// PeakLiveMB is the most memory the step's pooled tensors (activations
	// and their gradients) held at once, in PeakPhase.
	PeakLiveMB float64 `json:"peak_live_mb"`
	PeakPhase  string  `json:"peak_phase"`
	// AtPeak are the ten largest groups of tensors alive at the peak by
	// operation, kind and shape; AtPeakByOp by operation and kind (the
	// shape is the largest tensor's).
	AtPeak     []liveReport `json:"at_peak"`
	AtPeakByOp []liveReport `json:"at_peak_by_op"`
	// Held outside the pool the whole time: every parameter and buffer,
	// the trainable parameters' gradients and AdamW's two moments.
	ParamsMB    float64 `json:"params_mb"`
	GradsMB     float64 `json:"grads_mb"`
	OptimiserMB float64 `json:"optimiser_mb"`
}

// phaseReport is one phase of the step.
type phaseReport struct {
	Phase      string  `json:"phase"`
	ForwardMS  float64 `json:"forward_ms"`
	BackwardMS float64 `json:"backward_ms"`
	// BackwardOps is the number of operations backward replayed for the
	// phase (0: no backward, nothing in it needs a gradient).
	BackwardOps int `json:"backward_ops"`
	// LiveStartMB is the pooled tensors' memory when the phase's forward
	// began, LiveAfterBackwardMB when its backward ended.
	LiveStartMB         float64 `json:"live_start_mb"`
	LiveAfterBackwardMB float64 `json:"live_after_backward_mb"`
}

// liveReport is a group of tensors alive at the peak.
type liveReport struct {
	Op       string  `json:"op"`
	Gradient bool    `json:"gradient"`
	Shape    []int   `json:"shape"`
	Count    int     `json:"count"`
	MB       float64 `json:"mb"`
}

// newStepProfileReport summarises the profiles of the timed steps by the
// one whose total time is the median; ps are the model's parameters and
// trainable those AdamW updates.
func newStepProfileReport(steps []nn.StepProfile, ps, trainable nn.Params) *stepProfileReport {
	order := make([]int, len(steps))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return steps[order[a]].Total < steps[order[b]].Total })
	st := steps[order[len(order)/2]]
	ms := func(d time.Duration) float64 { return round4(d.Seconds() * 1e3) }
	r := &stepProfileReport{TotalMS: ms(st.Total), PeakLiveMB: mib(st.PeakBytes), PeakPhase: st.PeakPhase}
	covered := time.Duration(0)
	for _, p := range st.Phases {
		covered += p.Forward + p.Backward
		r.Phases = append(r.Phases, phaseReport{Phase: p.Name, ForwardMS: ms(p.Forward), BackwardMS: ms(p.Backward),
			BackwardOps: p.BackwardOps, LiveStartMB: mib(p.LiveStart), LiveAfterBackwardMB: mib(p.LiveAfterBackward)})
	}
	r.OtherMS = ms(st.Total - covered)
	live := func(ts []nn.LiveTensor) []liveReport {
		out := []liveReport{}
		for _, t := range ts {
			shape := t.Shape
			if shape == nil {
				shape = []int{t.Elems}
			}
			out = append(out, liveReport{Op: t.Op, Gradient: t.Gradient, Shape: shape, Count: t.Count, MB: mib(t.Bytes)})
		}
		return out
	}
	r.AtPeak, r.AtPeakByOp = live(st.AtPeak), live(st.AtPeakByOp)
	var params, grads int64
	for _, p := range ps {
		params += 4 * int64(p.Len())
	}
	for _, p := range trainable {
		grads += 4 * int64(p.Len())
	}
	r.ParamsMB, r.GradsMB, r.OptimiserMB = mib(params), mib(grads), mib(2*grads)
	return r
}

// print writes the profile as a table; stepMS is the step's median time.
func (r *stepProfileReport) print(w io.Writer, stepMS float64) {
	fmt.Fprintf(w, "\nprofile (the timed step of median time; live: MiB of the step's pooled tensors, activations and their gradients)\n")
	fmt.Fprintf(w, "  %-12s %10s %11s %6s %12s %14s\n", "phase", "forward ms", "backward ms", "ops", "live before", "after backward")
	var fwd, bwd float64
	for _, p := range r.Phases {
		b, after := "-", "-"
		if p.BackwardOps > 0 {
			b, after = fmt.Sprintf("%.1f", p.BackwardMS), fmt.Sprintf("%.1f", p.LiveAfterBackwardMB)
		}
		name := p.Phase
		if name == "head" {
			name = "head+loss"
		}
		fmt.Fprintf(w, "  %-12s %10.1f %11s %6d %12.1f %14s\n", name, p.ForwardMS, b, p.BackwardOps, p.LiveStartMB, after)
		fwd += p.ForwardMS
		bwd += p.BackwardMS
	}
	fmt.Fprintf(w, "  %-12s %10.1f\n", "other", r.OtherMS)
	fmt.Fprintf(w, "  %-12s %10.1f %11.1f   (with other: %.1f ms from grouping to the optimiser's end; median step %.1f ms)\n",
		"sum", fwd, bwd, r.TotalMS, stepMS)
	fmt.Fprintf(w, "  peak: %.1f MiB of pooled tensors, in %s; beside them %.1f MiB of parameters, %.1f MiB of gradients, %.1f MiB of AdamW moments\n",
		r.PeakLiveMB, r.PeakPhase, r.ParamsMB, r.GradsMB, r.OptimiserMB)
	for _, v := range []struct {
		title string
		ts    []liveReport
	}{{"by operation and shape", r.AtPeak}, {"by operation (shape: the largest)", r.AtPeakByOp}} {
		fmt.Fprintf(w, "  alive at the peak, the largest %d groups %s:\n", len(v.ts), v.title)
		fmt.Fprintf(w, "  %9s %6s  %-9s %-22s %s\n", "MiB", "count", "kind", "shape", "allocated by")
		for _, t := range v.ts {
			kind := "output"
			if t.Gradient {
				kind = "gradient"
			}
			sh := make([]string, len(t.Shape))
			for i, d := range t.Shape {
				sh[i] = fmt.Sprint(d)
			}
			fmt.Fprintf(w, "  %9.1f %6d  %-9s %-22s %s\n", t.MB, t.Count, kind, strings.Join(sh, "×"), t.Op)
		}
	}
}
