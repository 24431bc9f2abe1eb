package pretrain

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/datasets/synth"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/train"
)

// tiny is a small pretraining run on a small synth set.
func tiny(epochs int) Config {
	c := SynthConfig()
	c.Model = ModelConfig{TransDim: 24, Depth: 2, Heads: 2, DecoderDepth: 1, DecoderHeads: 2, NumGroup: 8, GroupSize: 8,
		NPoints: 128, MaskRatio: 0.6, MaskType: backbone.MaskRand}
	c.Train.Epochs, c.Train.BatchSize, c.Train.WarmupEpochs, c.Train.LR, c.Train.Seed, c.Train.Workers = epochs, 8, 1, 3e-3, 7, 2
	c.TestLoss = true
	c.Probe, c.ProbeVariant, c.ProbeShots = "", "", 0 // probe_test.go probes
	return c
}

func tinyData(t *testing.T) *datasets.Dataset {
	t.Helper()
	d, err := datasets.LoadSynth(synth.Options{Train: 2, Test: 1, Points: 256, Variant: "clean", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func strip(ms []train.EpochMetrics) []train.EpochMetrics {
	out := make([]train.EpochMetrics, len(ms))
	for i, m := range ms {
		out[i] = m.WithoutTimes()
	}
	return out
}

// TestPretrainLossFalls: the reconstruction loss falls over a few epochs,
// the run repeats bit for bit, an interrupted run resumes to the same
// epochs and files, and backbone.safetensors loads into the fine-tuning
// model with every backbone weight.
func TestPretrainLossFalls(t *testing.T) {
	data := tinyData(t)
	c := tiny(6)
	dir := t.TempDir()
	res, err := Train(context.Background(), c, data, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := res.Epochs[0].Get("train_loss")
	last, _ := res.Epochs[len(res.Epochs)-1].Get("train_loss")
	if !(last < 0.8*first) {
		t.Errorf("train loss %.4f → %.4f, want it to fall", first, last)
	}
	if _, ok := res.Epochs[0].Get("test_loss"); !ok || res.Metric != "train_loss" {
		t.Errorf("metrics %v, best by %s", res.Epochs[0].Names(), res.Metric)
	}
	got, err := ReadConfig(filepath.Join(dir, ConfigFile))
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("config.yaml reads back %+v, %v", got, err)
	}

	// The same run again: bit for bit.
	dir2 := t.TempDir()
	res2, err := Train(context.Background(), c, data, dir2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := strip(res.Epochs), strip(res2.Epochs); !reflect.DeepEqual(a, b) {
		t.Errorf("repeated run:\n%+v\nwant\n%+v", b, a)
	}
	for _, f := range []string{train.LastFile, BackboneFile, OfficialFile} {
		if !bytes.Equal(read(t, filepath.Join(dir, f)), read(t, filepath.Join(dir2, f))) {
			t.Errorf("%s differs between two runs", f)
		}
	}

	// Interrupted in epoch 3 and resumed: the same.
	dir3 := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = Train(ctx, c, data, dir3, Options{AfterStep: func(e, b int) {
		if e == 2 && b == 0 {
			cancel()
		}
	}})
	if !errors.Is(err, train.ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir3, BackboneFile)); err == nil {
		t.Errorf("an interrupted run wrote %s", BackboneFile)
	}
	res3, err := Train(context.Background(), c, data, dir3, Options{Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := strip(res.Epochs), strip(res3.Epochs); !reflect.DeepEqual(a, b) {
		t.Errorf("resumed run:\n%+v\nwant\n%+v", b, a)
	}
	if !bytes.Equal(read(t, filepath.Join(dir, BackboneFile)), read(t, filepath.Join(dir3, BackboneFile))) {
		t.Errorf("%s differs after resuming", BackboneFile)
	}

	// Pretraining continues from the run's pretrain.pth (Init): its
	// weights, not the seed's.
	ci := c
	ci.Init, ci.Train.Epochs = filepath.Join(dir, OfficialFile), 1
	ci.Train.Seed++
	dir4 := t.TempDir()
	if _, err := Train(context.Background(), ci, data, dir4, Options{}); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadConfig(filepath.Join(dir4, ConfigFile)); err != nil || got.Init != ci.Init {
		t.Errorf("config.yaml of a continued run: init %q, %v", got.Init, err)
	}
	cr := ci
	cr.Init = ""
	dir5 := t.TempDir()
	if _, err := Train(context.Background(), cr, data, dir5, Options{}); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(read(t, filepath.Join(dir4, BackboneFile)), read(t, filepath.Join(dir5, BackboneFile))) {
		t.Error("init: the run ignored the checkpoint it continues from")
	}

	// The backbone loads into the fine-tuning model, all of it.
	pm, err := backbone.NewPointMAEPretrain(c.Model.Backbone(), train.Stream(98, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pm.LoadPretrainWeights(filepath.Join(dir, train.LastFile), backbone.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{}
	for _, p := range pm.BackboneParams() {
		want[p.Name] = p.Data
	}
	for _, f := range []string{BackboneFile, train.LastFile, OfficialFile} {
		ft, err := backbone.NewPointMAE(backbone.Config{TransDim: 24, Depth: 2, Heads: 2, Classes: 4, NumGroup: 8, GroupSize: 8, NPoints: 128},
			train.Stream(99, 0, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := backbone.LoadWeights(filepath.Join(dir, f), ft.Params(), backbone.LoadOptions{}); err != nil {
			t.Fatalf("%s into the fine-tuning model: %v", f, err)
		}
		n := 0
		for _, p := range ft.Params() {
			if w, ok := want[p.Name]; ok {
				n++
				if !reflect.DeepEqual(p.Data, w) {
					t.Errorf("%s: %s is not the pretrained weight", f, p.Name)
				}
			}
		}
		if n != len(want) {
			t.Errorf("%s: %d of the %d backbone weights matched by name", f, n, len(want))
		}
	}
}

func read(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPresets: the presets are Point-MAE's sizes and synth's, and synth's
// encoder is the synth fine-tuning preset's.
func TestPresets(t *testing.T) {
	if got, want := PointMAEModel().Backbone(), backbone.PointMAEPretrainConfig(); got != want {
		t.Errorf("pointmae preset %+v, want %+v", got, want)
	}
	c := SynthConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	fp, err := presets.LookupModel("synth")
	if err != nil {
		t.Fatal(err)
	}
	m := c.Model
	if m.TransDim != fp.TransDim || m.Depth != fp.Depth || m.Heads != fp.Heads || m.NumGroup != fp.Groups ||
		m.GroupSize != fp.GroupSize || m.NPoints != fp.Points || m.DecoderDepth != 2 {
		t.Errorf("synth pretraining model %+v, fine-tuning preset %+v", m, fp)
	}
	if _, _, err := FromPreset("nope"); err == nil {
		t.Error("unknown preset: no error")
	}
}
