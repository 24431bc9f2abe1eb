package train

import (
	"context"
	"math"
	"testing"

	"github.com/pcx-dev/pcx/nn/cuda"
	"github.com/pcx-dev/pcx/nn/cuda/emu/emudev"
	"github.com/pcx-dev/pcx/nn/dist"
)

// emuDevice opens the CPU emulator of the CUDA driver and cuBLAS as a
// device; it skips in -short mode and without a C++ compiler.
func emuDevice(t *testing.T) *cuda.Engine {
	t.Helper()
	if testing.Short() {
		t.Skip("emulator: slow")
	}
	return emudev.Engine(t)
}

// TestDeviceShardsAndRanks: on a device, the gradients of a batch's shards
// are folded and summed over ranks through host copies: 2 ranks compute the
// bits of one process with 2 shards (weights and batch-norm statistics
// included), and both come within rounding of the same run on the host
// (every shard's gradient counts, not only the last's).
func TestDeviceShardsAndRanks(t *testing.T) {
	dev := emuDevice(t)
	cfg := testConfig()
	cfg.Epochs, cfg.Shards = 2, 2
	host := t.TempDir()
	if _, err := Run(context.Background(), bnTask(0), cfg, Options{Dir: host}); err != nil {
		t.Fatal(err)
	}
	one := t.TempDir()
	want, err := Run(context.Background(), bnTask(0), cfg, Options{Dir: one, Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	many := t.TempDir()
	cfg.Shards = 0
	got, errs := runRanks(t, dist.Loopback(2), bnTask, cfg, Options{Dir: many, Device: dev}, nil)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", i, err)
		}
	}
	if !equalMetrics(strip(got.Epochs), strip(want.Epochs)) {
		t.Errorf("2 ranks on the device: metrics\n%v\nwant (one process, 2 shards)\n%v", strip(got.Epochs), strip(want.Epochs))
	}
	a, b, h := paramsIn(t, one+"/"+LastFile), paramsIn(t, many+"/"+LastFile), paramsIn(t, host+"/"+LastFile)
	scale := 0.0
	for _, v := range h {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("value %d of the weights is %v on 2 ranks, %v in one process", i, b[i], a[i])
		}
		if d := math.Abs(float64(a[i] - h[i])); d > 1e-4*scale {
			t.Fatalf("value %d of the weights is %v on the device, %v on the host", i, a[i], h[i])
		}
	}
}
