package main

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestBenchStepMethodsProfile: pcx bench step times each Point-MAE method,
// with the tunable parameters pcx train gives it; --profile reports every
// phase of the step (a forward and a backward for each block of the
// methods that train inside the blocks) and the memory at its peak, and
// changes no number the step computes.
func TestBenchStepMethodsProfile(t *testing.T) {
	tiny := []string{"bench", "step", "--json", "--preset", "synth", "--batch", "2", "--points", "128", "--groups", "8",
		"--group-size", "8", "--depth", "2", "--repeat", "1"}
	tunable := map[string]int{}
	for _, method := range []string{"full", "linear", "dapt", "dapt-x"} {
		var reps [2]stepReport
		for k, extra := range [][]string{nil, {"--profile"}} {
			out, err := run(t, append(append(slices.Clone(tiny), "--method", method), extra...)...)
			if err != nil {
				t.Fatalf("%s %v: %v\n%s", method, extra, err, out)
			}
			if err := json.Unmarshal([]byte(out), &reps[k]); err != nil {
				t.Fatalf("%s: %v\n%s", method, err, out)
			}
		}
		plain, prof := reps[0], reps[1]
		if plain.Method != method || plain.Profile != nil || prof.Profile == nil {
			t.Fatalf("%s: method %q, profiles %v and %v", method, plain.Method, plain.Profile, prof.Profile)
		}
		// Two steps (the warm-up and the timed one): the loss of the second
		// depends on the first's gradients.
		if math.Float32bits(plain.Loss) != math.Float32bits(prof.Loss) || math.IsNaN(float64(plain.Loss)) {
			t.Errorf("%s: loss %v with --profile, %v without", method, prof.Loss, plain.Loss)
		}
		tunable[method] = plain.Tunable
		p := prof.Profile
		var names []string
		ops := map[string]int{}
		for _, ph := range p.Phases {
			names = append(names, ph.Phase)
			ops[ph.Phase] = ph.BackwardOps
		}
		if want := []string{"grouping", "encoder", "embed", "block 0", "block 1", "head", "optimiser"}; !slices.Equal(names, want) {
			t.Errorf("%s: phases %q, want %q", method, names, want)
		}
		// What has a backward: the head always; the blocks but with linear
		// probing; the encoder only in full fine-tuning.
		for name, want := range map[string]bool{"grouping": false, "encoder": method == "full", "block 0": method != "linear",
			"block 1": method != "linear", "head": true, "optimiser": false} {
			if got := ops[name] > 0; got != want {
				t.Errorf("%s: %s has %d backward operations", method, name, ops[name])
			}
		}
		if p.PeakLiveMB <= 0 || p.PeakPhase == "" || len(p.AtPeak) == 0 || len(p.AtPeakByOp) == 0 || p.ParamsMB <= 0 || p.GradsMB <= 0 {
			t.Errorf("%s: memory %+v", method, p)
		}
		for _, g := range p.AtPeak {
			if g.MB <= 0 || g.Count <= 0 || !strings.Contains(g.Op, ".") {
				t.Errorf("%s: alive at the peak: %+v", method, g)
			}
		}
	}
	if !(tunable["linear"] < tunable["dapt-x"] && tunable["dapt-x"] < tunable["dapt"] && tunable["dapt"] < tunable["full"]) {
		t.Errorf("tunable parameters %v", tunable)
	}
	// The table.
	args := append([]string{"bench", "step"}, tiny[3:]...) // without --json
	out, err := run(t, append(args, "--method", "dapt", "--profile")...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"synth dapt step", "block 1", "head+loss", "optimiser", "alive at the peak"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table has no %q:\n%s", want, out)
		}
	}
	if _, err := run(t, append(args, "--method", "lora")...); err == nil || !strings.Contains(err.Error(), "lora") {
		t.Errorf("an unknown method: %v", err)
	}
	if _, err := run(t, "bench", "step", "--model", "vit-mini", "--profile", "--batch", "1", "--repeat", "1"); err == nil {
		t.Error("--profile with a ViT preset accepted")
	}
}
