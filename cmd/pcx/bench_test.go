package main

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/pcx-dev/pcx/adapters"
	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/cuda"
	"github.com/pcx-dev/pcx/nn/cuda/emu"
	"github.com/pcx-dev/pcx/nn/cuda/emu/emudev"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/points"
	pcuda "github.com/pcx-dev/pcx/points/cuda"
	"github.com/pcx-dev/pcx/train"
)

// deviceTol and deviceGradTol bound the difference between values computed
// on the device (the emulator: float32 kernels with their own summation
// orders) and on the CPU: logits and loss relative to their largest
// magnitude, gradients relative to the largest of the tensor's or a
// thousandth of the largest gradient of the model (the head's BatchNorm
// over a batch of 3 amplifies rounding differences in the gradients
// behind it, and makes those of the biases before it nearly zero).
const (
	deviceTol     = 5e-5
	deviceGradTol = 1e-3
)

// useEmulator points pcx's device discovery at the CPU emulator of the
// driver and cuBLAS (nn/cuda/emu), removed when the test ends (no other
// test of this package uses it); it skips without a C++ compiler or in
// -short mode.
func useEmulator(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the emulator")
	}
	dir := emu.Dir(t)
	t.Cleanup(emu.Cleanup)
	t.Setenv(cuda.EnvLibs, dir)
	t.Setenv(cuda.EnvLibsOnly, "1")
}

// TestBenchDeviceEmulator: pcx bench fps, knn and step with --device cuda
// on the emulator, at small shapes: the GPU's FPS and kNN indices equal the
// CPU's, and the step reports a finite loss and the allocator's peak.
func TestBenchDeviceEmulator(t *testing.T) {
	useEmulator(t)
	for _, args := range [][]string{
		{"bench", "fps", "--device", "cuda", "--json", "--points", "1100", "--centres", "40", "--batch", "3", "--repeat", "1"},
		{"bench", "knn", "--device", "cuda", "--json", "--points", "700", "--centres", "20", "--k", "12", "--batch", "2", "--repeat", "1"},
	} {
		out, err := run(t, args...)
		var r benchReport
		if err != nil || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if r.Device != "cuda" || r.GPU != "pcx CPU emulator" || r.MatchesCPU == nil || !*r.MatchesCPU || r.GPUPeakMB <= 0 || r.MsPerBatch <= 0 {
			t.Errorf("%v: report %+v", args[1], r)
		}
		t.Logf("%s: %.2f ms per batch on the emulator, peak %.1f MiB", args[1], r.MsPerBatch, r.GPUPeakMB)
	}
	step := []string{"bench", "step", "--json", "--batch", "2", "--points", "128", "--groups", "8", "--group-size", "8", "--depth", "1", "--repeat", "1"}
	var reps [2]stepReport
	for i, dev := range []string{"cpu", "cuda"} {
		out, err := run(t, append(step, "--device", dev)...)
		if err != nil || json.Unmarshal([]byte(out), &reps[i]) != nil {
			t.Fatalf("step --device %s: %v\n%s", dev, err, out)
		}
	}
	cpu, gpu := reps[0], reps[1]
	if gpu.Device != "cuda" || gpu.BLAS != "cublas" || gpu.GPUPeakMB <= 0 || gpu.GPUPeakInUseMB <= 0 || gpu.GPUPeakInUseMB > gpu.GPUPeakMB ||
		gpu.Tunable != cpu.Tunable || math.IsNaN(float64(gpu.Loss)) || gpu.Loss <= 0 {
		t.Errorf("step reports: cpu %+v, cuda %+v", cpu, gpu)
	}
	// The head's dropout masks differ by design (Philox on the GPU), so
	// the losses agree only roughly.
	t.Logf("step: loss %g on the emulator, %g on the CPU; peak GPU memory %.1f MiB (%.1f in use)", gpu.Loss, cpu.Loss, gpu.GPUPeakMB, gpu.GPUPeakInUseMB)
	stepMatchesCPU(t)
}

// stepMatchesCPU runs the step pcx bench step times (DAPT-X on the
// scan_hardest preset, at a small size) with its dropouts off, once on the
// CPU and once on the emulator, and compares the logits, the loss and the
// gradient of every trainable parameter within deviceTol.
func stepMatchesCPU(t *testing.T) {
	cfg, err := adapters.DAPTXPreset("scan_hardest")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NPoints, cfg.NumGroup, cfg.GroupSize, cfg.Depth = 128, 8, 8, 1
	cfg.HeadDropout, cfg.DropPath = 0, 0
	const b = 3
	xyz := sphereClouds(b, cfg.NPoints, 2)
	labels := []int{0, 1, 2}
	type result struct {
		logits, loss []float32
		grads        map[string][]float32
	}
	step := func(eng nn.Device) result {
		d, err := adapters.NewDAPTX(cfg, pointcloud.NewRand(1))
		if err != nil {
			t.Fatal(err)
		}
		tp := nn.NewTape(true)
		var g *backbone.Groups
		if eng != nil {
			d.Params().ToDevice(eng)
			defer d.Params().ToHost()
			g = points.GroupOn(tp, eng.(points.Grouper), xyz, b, cfg.NPoints, cfg.NumGroup, cfg.GroupSize)
		} else if g, err = d.Group(xyz, b, cfg.NPoints); err != nil {
			t.Fatal(err)
		}
		logits, bal := d.ForwardAux(tp, g, nil)
		loss := train.Output{Loss: nn.CrossEntropy(tp, logits, labels, 0),
			Aux: []train.Aux{{Name: "balance", Value: bal, Weight: d.Cfg.Alpha}}}.Objective(tp)
		tp.Backward(loss)
		res := result{logits: logits.Host(), loss: loss.Host(), grads: map[string][]float32{}}
		for _, p := range d.Params().Trainable() {
			res.grads[p.Name] = p.HostGrad()
		}
		tp.Release()
		return res
	}
	cpu, gpu := step(nil), step(pcuda.Grouper(emudev.Engine(t)))
	largest := func(v []float32) float64 {
		var m float64
		for _, x := range v {
			m = math.Max(m, math.Abs(float64(x)))
		}
		return m
	}
	var worst float64
	var worstName string
	compare := func(what string, c, g []float32, tol, floor float64) {
		if len(c) != len(g) || len(c) == 0 {
			t.Errorf("%s: %d values on the CPU, %d on the device", what, len(c), len(g))
			return
		}
		var diff float64
		for i, v := range c {
			diff = math.Max(diff, math.Abs(float64(g[i])-float64(v)))
		}
		scale := math.Max(largest(c), floor)
		if diff > tol*scale {
			t.Errorf("%s: device and CPU differ by %.3g (largest %.3g, tolerance %g relative)", what, diff, scale, tol)
		}
		if r := diff / scale / tol; r > worst {
			worst, worstName = r, what
		}
	}
	compare("logits", cpu.logits, gpu.logits, deviceTol, 0)
	compare("loss", cpu.loss, gpu.loss, deviceTol, 0)
	var gmax float64
	for _, g := range cpu.grads {
		gmax = math.Max(gmax, largest(g))
	}
	for name, g := range cpu.grads {
		compare("gradient of "+name, g, gpu.grads[name], deviceGradTol, gmax/100)
	}
	t.Logf("step: logits, loss %g and %d gradients agree, at worst (%s) at %.2f of the tolerance", cpu.loss[0], len(cpu.grads), worstName, worst)
}
