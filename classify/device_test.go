package classify

import (
	"context"
	"math"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/datasets/synth"
	"github.com/pcx-dev/pcx/nn/cuda/emu"
	"github.com/pcx-dev/pcx/nn/cuda/emu/emudev"
	pcuda "github.com/pcx-dev/pcx/points/cuda"
	"github.com/pcx-dev/pcx/train"
)

// TestMain removes the emulator that the device tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	emu.Cleanup()
	os.Exit(code)
}

// deviceLogitTol bounds the difference between logits computed on the
// device (the emulator: float32 kernels, its own summation orders) and on
// the CPU, relative to the largest logit magnitude of the batch.
const deviceLogitTol = 1e-5

// emuEngine opens the CPU emulator of the driver and cuBLAS as a device
// that groups on the GPU (package points/cuda); it skips in -short mode
// and without a C++ compiler.
func emuEngine(t *testing.T) *pcuda.Engine {
	t.Helper()
	if testing.Short() {
		t.Skip("emulator: slow")
	}
	return pcuda.Grouper(emudev.Engine(t))
}

// TestDeviceGrouping: a training run on the device gives exactly the same
// metrics whether its batches are grouped on the device (Task.Grouper, the
// default with a device that can group) or in the host loader, since both
// give the same groups; evaluation and prediction on the device agree with
// the CPU's.
func TestDeviceGrouping(t *testing.T) {
	eng := emuEngine(t)
	data, err := datasets.LoadSynth(synth.Options{Train: 1, Test: 1, Points: 256, Variant: "clean", Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	data.Test.Points, data.Test.Labels = data.Test.Points[:8], data.Test.Labels[:8]
	var res [2]*train.Result
	var ckpt string
	for i, host := range []bool{false, true} {
		cfg := tinyConfig(t, "dapt-x")
		cfg.Train.Epochs = 1
		dir := t.TempDir()
		r, err := Train(context.Background(), cfg, data, dir, RunOptions{Device: eng, HostGrouping: host})
		if err != nil {
			t.Fatal(err)
		}
		res[i], ckpt = r, dir+"/"+train.BestFile
	}
	for e := range res[0].Epochs {
		d, h := res[0].Epochs[e].WithoutTimes(), res[1].Epochs[e].WithoutTimes()
		if !reflect.DeepEqual(d, h) {
			t.Errorf("epoch %d: grouped on the device %+v, on the host %+v", e+1, d, h)
		}
		tl, _ := d.Get("train_loss")
		vl, _ := d.Get("test_loss")
		va, _ := d.Get("test_acc")
		t.Logf("epoch %d: train loss %.6f, test loss %.6f, test acc %.3f (both)", e+1, tl, vl, va)
	}
	tr, err := LoadCheckpoint(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	cpu, err := Evaluate(context.Background(), tr, data, EvalOptions{Batch: 8, Vote: true, Votes: 1, Repeats: 1})
	if err != nil {
		t.Fatal(err)
	}
	gpu, err := Evaluate(context.Background(), tr, data, EvalOptions{Batch: 8, Vote: true, Votes: 1, Repeats: 1, Device: eng})
	if err != nil {
		t.Fatal(err)
	}
	if cpu.Acc != gpu.Acc || !slices.Equal(cpu.Vote.Accs, gpu.Vote.Accs) {
		t.Errorf("evaluation: cpu %v %v, device %v %v", cpu.Acc, cpu.Vote.Accs, gpu.Acc, gpu.Vote.Accs)
	}
	if len(cpu.Predictions) != len(gpu.Predictions) || len(cpu.Predictions) == 0 {
		t.Fatalf("predictions: %d on the CPU, %d on the device", len(cpu.Predictions), len(gpu.Predictions))
	}
	var diff, scale float64
	for i, p := range cpu.Predictions {
		q := gpu.Predictions[i]
		if len(p.Logits) != len(q.Logits) {
			t.Fatalf("sample %d: %d logits on the CPU, %d on the device", i, len(p.Logits), len(q.Logits))
		}
		for j, v := range p.Logits {
			diff = math.Max(diff, math.Abs(float64(q.Logits[j])-float64(v)))
			scale = math.Max(scale, math.Abs(float64(v)))
		}
	}
	if diff > deviceLogitTol*math.Max(scale, 1) {
		t.Errorf("logits: device and CPU differ by %.3g (largest logit %.3g, tolerance %g relative)", diff, scale, deviceLogitTol)
	}
	t.Logf("logits: device and CPU differ by at most %.3g (largest %.3g)", diff, scale)
	if tr.Model.Params()[0].Device() != nil {
		t.Error("Evaluate left the parameters on the device")
	}
	t.Logf("evaluation: accuracy %.3f, voting %v on both", gpu.Acc, gpu.Vote.Accs)
}
