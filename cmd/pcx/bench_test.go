package main

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/pcx-dev/pcx/nn/cuda"
	"github.com/pcx-dev/pcx/nn/cuda/emu"
)

// useEmulator points pcx's device discovery at the CPU emulator of the
// driver and cuBLAS (nn/cuda/emu); it skips without a C++ compiler or in
// -short mode.
func useEmulator(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the emulator")
	}
	dir := emu.Dir(t)
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
}
