package vision

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/train"
)

// writeFolder writes an image folder of two classes that a ViT separates
// easily: "dark" images are dim, "light" ones bright, with noise.
func writeFolder(t *testing.T, perClass int) string {
	t.Helper()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	for _, split := range []string{"train", "test"} {
		for ci, class := range []string{"dark", "light"} {
			if err := os.MkdirAll(filepath.Join(dir, split, class), 0o755); err != nil {
				t.Fatal(err)
			}
			for k := 0; k < perClass; k++ {
				m := image.NewNRGBA(image.Rect(0, 0, 12, 10))
				for y := 0; y < 10; y++ {
					for x := 0; x < 12; x++ {
						v := uint8(40 + 150*ci + r.IntN(40))
						m.SetNRGBA(x, y, color.NRGBA{v, v, uint8(r.IntN(255)), 255})
					}
				}
				var b bytes.Buffer
				if err := png.Encode(&b, m); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, split, class, string(rune('a'+k))+".png"), b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return dir
}

// tinyConfig is a run of a 2-block ViT on 8×8 images.
func tinyConfig(t *testing.T, dir, method string) Config {
	t.Helper()
	m, err := ResolveModel("vit-mini", method, 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	m.Depth, m.Width, m.Heads = 2, 24, 3
	if m.Rank > 0 {
		m.Rank = 8
	}
	return Config{Version: 1, Kind: "images", Data: dir, Normalize: "imagenet", Model: m,
		Train: train.Config{Epochs: 4, BatchSize: 4, EvalBatch: 8, LR: 3e-3, MinLR: 1e-5, WarmupLR: 1e-5, Workers: 2}}
}

// TestTrainEvalPredictRoundTrip trains every method a few epochs on an
// easy folder: the loss falls, the run repeats bit for bit, the checkpoint
// reloads with the same accuracy, and predictions name the classes.
func TestTrainEvalPredictRoundTrip(t *testing.T) {
	dir := writeFolder(t, 6)
	for _, method := range []string{"full", "linear", "adapter", "adaptformer", "adapter-x", "adaptformer-x"} {
		t.Run(method, func(t *testing.T) {
			cfg := tinyConfig(t, dir, method)
			data, err := LoadData(cfg)
			if err != nil {
				t.Fatal(err)
			}
			run := func() (*train.Result, string) {
				out := t.TempDir()
				res, err := Train(context.Background(), cfg, data, out, RunOptions{})
				if err != nil {
					t.Fatal(err)
				}
				return res, out
			}
			res, out := run()
			ms, err := train.ReadMetrics(filepath.Join(out, train.MetricsJSONL))
			if err != nil {
				t.Fatal(err)
			}
			first, last := ms[0], ms[len(ms)-1]
			if l0, l1 := metricOf(first, "train_loss"), metricOf(last, "train_loss"); !(l1 < l0) {
				t.Errorf("training loss went from %g to %g", l0, l1)
			}
			res2, out2 := run()
			if res.Best != res2.Best || res.Last != res2.Last {
				t.Errorf("a second run gave %v/%v, the first %v/%v", res2.Best, res2.Last, res.Best, res.Last)
			}
			a, _ := os.ReadFile(filepath.Join(out, train.LastFile))
			b, _ := os.ReadFile(filepath.Join(out2, train.LastFile))
			if !bytes.Equal(a, b) {
				t.Error("two runs wrote different checkpoints")
			}
			ck := filepath.Join(out, train.LastFile)
			if !IsCheckpoint(ck) {
				t.Fatal("IsCheckpoint refused an image checkpoint")
			}
			if _, err := classify.LoadCheckpoint(ck); err == nil || !strings.Contains(err.Error(), "image model") {
				t.Errorf("classify loaded an image checkpoint: %v", err)
			}
			tr, err := LoadCheckpoint(ck)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Evaluate(context.Background(), tr, data, EvalOptions{Batch: 3})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Acc != res.Last {
				t.Errorf("reloaded checkpoint: accuracy %v, the run's last epoch %v", rep.Acc, res.Last)
			}
			preds, err := Predict(tr, []string{data.Test.Path(0), filepath.Join(dir, "missing.png")}, 1)
			if err == nil || preds[1].Error == "" || preds[0].Error != "" || len(preds[0].Classes) != 1 {
				t.Errorf("predict: %+v, %v", preds, err)
			}
		})
	}
}

func metricOf(m train.EpochMetrics, name string) float64 {
	v, _ := m.Get(name)
	return v
}

// TestEasyFolderLearned: full fine-tuning separates dark from light.
func TestEasyFolderLearned(t *testing.T) {
	dir := writeFolder(t, 8)
	cfg := tinyConfig(t, dir, "full")
	cfg.Train.Epochs = 8
	data, err := LoadData(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Train(context.Background(), cfg, data, t.TempDir(), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Best < 0.9 {
		t.Errorf("best test accuracy %v on a trivially separable set", res.Best)
	}
}

// TestConfigValidate refuses what cannot run, each with a reason.
func TestConfigValidate(t *testing.T) {
	good := tinyConfig(t, "x", "adapter-x")
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"kind":      func(c *Config) { c.Kind = "points" },
		"normalize": func(c *Config) { c.Normalize = "zscore" },
		"fraction":  func(c *Config) { c.TestFraction = 1 },
		"vtab task": func(c *Config) { c.Kind = "vtab" },
		"method":    func(c *Config) { c.Model.Method = "dapt" },
		"patch":     func(c *Config) { c.Model.ImageSize = 10 },
		"smoa":      func(c *Config) { c.Model.SMoAHeads = 5 },
		"epochs":    func(c *Config) { c.Train.Epochs = 0 },
		"huge":      func(c *Config) { c.Model.Width = 1 << 20; c.Model.Heads = 1 },
		"batch":     func(c *Config) { c.Model.ImageSize = 4000; c.Train.BatchSize = 1 << 20 },
	} {
		c := good
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestFeaturesLimit: the t-SNE's subset is evenly spaced over the test
// split, its labels those samples'.
func TestFeaturesLimit(t *testing.T) {
	dir := writeFolder(t, 6)
	cfg := tinyConfig(t, dir, "linear")
	data, err := LoadData(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(cfg.Model, train.Stream(0, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	tr := &Trained{Model: m, Config: cfg, Classes: data.Classes}
	all, labels, err := Features(context.Background(), tr, data, 0, 4, 1)
	if err != nil || len(all) != data.Test.Len() {
		t.Fatalf("%d features of %d samples: %v", len(all), data.Test.Len(), err)
	}
	some, sl, err := Features(context.Background(), tr, data, 4, 4, 1)
	if err != nil || len(some) != 4 {
		t.Fatalf("%d features, want 4: %v", len(some), err)
	}
	for k := range some {
		i := k * data.Test.Len() / 4
		if sl[k] != labels[i] || some[k][0] != all[i][0] {
			t.Errorf("subset sample %d is not test sample %d", k, i)
		}
	}
}
