package main

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestBenchEval: pcx bench eval runs each Point-MAE method's inference at
// a tiny size and reports, under the JSON names scripts/bench_step.py
// reads, the preset, method, batch, points, a positive time per batch,
// samples per second that agree with it, the peak RSS, the BLAS and the
// device; bad input is refused with an error.
func TestBenchEval(t *testing.T) {
	tiny := []string{"bench", "eval", "--json", "--preset", "synth", "--batch", "3", "--points", "128", "--groups", "8",
		"--group-size", "8", "--depth", "1", "--repeat", "1"}
	for _, method := range []string{"full", "linear", "dapt", "dapt-x"} {
		out, err := run(t, append(slices.Clone(tiny), "--method", method)...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", method, err, out)
		}
		var fields map[string]any
		if err := json.Unmarshal([]byte(out), &fields); err != nil {
			t.Fatalf("%s: %v\n%s", method, err, out)
		}
		for _, k := range []string{"preset", "method", "batch", "points", "ms", "samples_per_sec", "peak_mb", "blas", "device"} {
			if _, ok := fields[k]; !ok {
				t.Errorf("%s: no %q in %s", method, k, out)
			}
		}
		var r evalReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.Preset != "synth" || r.Method != method || r.Batch != 3 || r.Points != 128 || r.Device != "cpu" || r.BLAS == "" ||
			r.Repeat != 1 || r.PeakMB <= 0 || r.Correct < 0 || r.Correct > 3 {
			t.Errorf("%s: report %+v", method, r)
		}
		if !(r.MS > 0) || !(r.SamplesPerSec > 0) || math.Abs(r.SamplesPerSec*r.MS/1e3-3) > 0.01 {
			t.Errorf("%s: %v ms per batch of 3 but %v samples/s", method, r.MS, r.SamplesPerSec)
		}
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--batch", "0"}, "--batch must be at least 1"},
		{[]string{"--method", "lora"}, `bench eval: unknown method "lora"`},
		{[]string{"--preset", "vit-mini"}, "bench eval: vit-mini is an image model"},
		{[]string{"--depth", "-1"}, "--depth must be at least 0"},
	} {
		out, err := run(t, append(slices.Clone(tiny), bad.args...)...)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: error %v, want one containing %q\n%s", bad.args, err, bad.want, out)
		}
	}
}

// TestBenchEvalDeviceEmulator: pcx bench eval --device cuda on the
// emulator of the driver and cuBLAS reports the device, the allocator's
// peaks and samples per second.
func TestBenchEvalDeviceEmulator(t *testing.T) {
	useEmulator(t)
	out, err := run(t, "bench", "eval", "--json", "--device", "cuda", "--preset", "synth", "--batch", "2", "--points", "128",
		"--groups", "8", "--group-size", "8", "--depth", "1", "--repeat", "1")
	var r evalReport
	if err != nil || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.Device != "cuda" || r.GPU != "pcx CPU emulator" || r.BLAS != "cublas" || r.GPUPeakMB <= 0 || r.GPUPeakInUseMB <= 0 ||
		r.GPUPeakInUseMB > r.GPUPeakMB || !(r.SamplesPerSec > 0) {
		t.Errorf("report %+v", r)
	}
}
