package classify

import (
	"context"
	"slices"
	"testing"

	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/datasets/synth"
	"github.com/pcx-dev/pcx/nn/cuda"
	"github.com/pcx-dev/pcx/nn/cuda/emu"
	"github.com/pcx-dev/pcx/train"
)

// emuEngine opens the CPU emulator of the driver and cuBLAS as a device;
// it skips in -short mode and without a C++ compiler.
func emuEngine(t *testing.T) *cuda.Engine {
	t.Helper()
	if testing.Short() {
		t.Skip("emulator: slow")
	}
	dir := emu.Dir(t)
	d, err := cuda.Open(cuda.Options{Libs: cuda.LibOptions{Dirs: []string{dir}, Only: true}, IgnoreEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return cuda.NewEngine(d)
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
		cfg.Device, cfg.HostGrouping = eng, host
		dir := t.TempDir()
		r, err := Train(context.Background(), cfg, data, dir, false, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		res[i], ckpt = r, dir+"/"+train.BestFile
	}
	for e := range res[0].Epochs {
		d, h := res[0].Epochs[e].WithoutTimes(), res[1].Epochs[e].WithoutTimes()
		if d != h {
			t.Errorf("epoch %d: grouped on the device %+v, on the host %+v", e+1, d, h)
		}
		t.Logf("epoch %d: train loss %.6f, test loss %.6f, test acc %.3f (both)", e+1, d.TrainLoss, d.TestLoss, d.TestAcc)
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
	if tr.Model.Params()[0].Device() != nil {
		t.Error("Evaluate left the parameters on the device")
	}
	t.Logf("evaluation: accuracy %.3f, voting %v on both", gpu.Acc, gpu.Vote.Accs)
}
