package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// tinyPretrainBench is pcx bench pretrain at a size the tests afford: the
// synth preset's widths with 128-point clouds, 8 groups of 8, one encoder
// and one decoder block, batch 2.
var tinyPretrainBench = []string{"bench", "pretrain", "--json", "--preset", "synth", "--batch", "2", "--points", "128",
	"--groups", "8", "--group-size", "8", "--depth", "1", "--decoder-depth", "1", "--repeat", "1"}

// TestBenchPretrainJSON: pcx bench pretrain --json reports the sizes it
// ran, the preset's masked count (int(0.6·8) = 4), every parameter of the
// model, a positive finite loss, time and peak memory.
func TestBenchPretrainJSON(t *testing.T) {
	out, err := run(t, append(tinyPretrainBench, "--device", "cpu")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var r pretrainReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.Preset != "synth" || r.Batch != 2 || r.Points != 128 || r.Groups != 8 || r.GroupSize != 8 || r.Masked != 4 ||
		r.Device != "cpu" || r.Repeat != 1 || r.Workers < 1 || r.BLAS == "" {
		t.Errorf("report %+v", r)
	}
	// 192 wide: mask_token, the patch encoder, pos_embed, one block, norm,
	// decoder_pos_embed, one decoder block, its norm, increase_dim (192→3·8).
	const c = 192
	block := 2*c + 3*c*c + c*c + c + 2*c + 4*c*c + 4*c + 4*c*c + c
	want := c + (3*128 + 128 + 2*128 + 128*256 + 256 + 512*512 + 512 + 2*512 + 512*c + c) +
		(3*128 + 128 + 128*c + c) + block + 2*c + (3*128 + 128 + 128*c + c) + block + 2*c + (c*24 + 24)
	if r.Params != want {
		t.Errorf("%d parameters, want %d", r.Params, want)
	}
	if math.IsNaN(float64(r.Loss)) || r.Loss <= 0 || r.MS <= 0 || r.GroupMS <= 0 || r.GroupMS > r.MS || r.PeakMB <= 0 {
		t.Errorf("loss %v, %v ms (grouping %v ms), peak %d MB", r.Loss, r.MS, r.GroupMS, r.PeakMB)
	}
	text, err := run(t, "bench", "pretrain", "--preset", "synth", "--batch", "2", "--points", "128", "--groups", "8",
		"--group-size", "8", "--depth", "1", "--decoder-depth", "1", "--repeat", "1")
	if err != nil || !strings.Contains(text, "synth pretraining step, batch 2 × 128 points, 8 groups of 8, 4 masked") {
		t.Errorf("text output: %v\n%s", err, text)
	}
}

// TestBenchPretrainRefuses: bad presets and sizes are errors that say
// what is wrong.
func TestBenchPretrainRefuses(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "pretrain", "--preset", "nope"}, "nope"},
		{[]string{"bench", "pretrain", "--batch", "0"}, "--batch must be at least 1"},
		{[]string{"bench", "pretrain", "--points", "16", "--groups", "32"}, "cannot come from 16-point clouds"},
		{[]string{"bench", "pretrain", "--batch", "100000000"}, "would need"},
		{[]string{"bench", "pretrain", "--device", "tpu"}, "tpu"},
	} {
		out, err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q\n%s", c.args, err, c.want, out)
		}
	}
}

// TestBenchPretrainDeviceEmulator: pcx bench pretrain --device cuda on the
// emulator of the driver and cuBLAS: the model on the device, the groups
// made on the host, the same parameters and masked count as on the CPU, a
// finite loss close to the CPU's first steps' (drop-path draws are the
// host's on both, the kernels' sums in another order), and the caching
// allocator's peaks.
func TestBenchPretrainDeviceEmulator(t *testing.T) {
	useEmulator(t)
	var reps [2]pretrainReport
	for i, dev := range []string{"cpu", "cuda"} {
		out, err := run(t, append(tinyPretrainBench, "--device", dev)...)
		if err != nil || json.Unmarshal([]byte(out), &reps[i]) != nil {
			t.Fatalf("--device %s: %v\n%s", dev, err, out)
		}
	}
	cpu, gpu := reps[0], reps[1]
	if gpu.Device != "cuda" || gpu.GPU != "pcx CPU emulator" || gpu.BLAS != "cublas" || gpu.GPUPeakMB <= 0 ||
		gpu.GPUPeakInUseMB <= 0 || gpu.GPUPeakInUseMB > gpu.GPUPeakMB || gpu.Params != cpu.Params || gpu.Masked != cpu.Masked ||
		math.IsNaN(float64(gpu.Loss)) || gpu.Loss <= 0 {
		t.Errorf("reports: cpu %+v, cuda %+v", cpu, gpu)
	}
	if d := math.Abs(float64(gpu.Loss - cpu.Loss)); d > 1e-3*math.Abs(float64(cpu.Loss)) {
		t.Errorf("loss %v on the emulator, %v on the CPU", gpu.Loss, cpu.Loss)
	}
	t.Logf("loss %v on the emulator, %v on the CPU; peak GPU memory %.1f MiB (%.1f in use)", gpu.Loss, cpu.Loss, gpu.GPUPeakMB, gpu.GPUPeakInUseMB)
}
