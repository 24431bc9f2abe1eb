package pretrain

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/datasets/synth"
	"github.com/pcx-dev/pcx/points"
	"github.com/pcx-dev/pcx/probe"
	"github.com/pcx-dev/pcx/train"
)

// probeData is a small labelled synth set (seed 0: the fine-tuning clouds).
func probeData(t testing.TB, train, test int) *datasets.Dataset {
	t.Helper()
	d, err := datasets.LoadSynth(synth.Options{Train: train, Test: test, Points: 256, Variant: "clean", Seed: 0})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPretrainProbe: a run with the probe every 2 epochs of 3 records
// probe_svm_acc after epochs 2 and 3, can choose its best epoch by it, and
// trains the same weights as the run without the probe.
func TestPretrainProbe(t *testing.T) {
	data, pd := tinyData(t), probeData(t, 3, 2)
	plain := tiny(3)
	c := plain
	c.Probe, c.ProbeVariant, c.ProbeEvery, c.ProbeShots = "synth", "clean", 2, 2
	c.Train.Best = train.ProbePrefix + ProbeMetric
	dirs := [2]string{t.TempDir(), t.TempDir()}
	var log strings.Builder
	res, err := Train(context.Background(), c, data, dirs[0], Options{ProbeData: pd, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Train(context.Background(), plain, data, dirs[1], Options{}); err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Epochs {
		v, ok := m.Get("probe_svm_acc")
		if ok != (m.Epoch >= 2) || ok && !(v > 0 && v <= 1) {
			t.Errorf("epoch %d: probe_svm_acc %v (%v)", m.Epoch, v, ok)
		}
	}
	if res.Metric != "probe_svm_acc" || res.BestEpoch < 2 {
		t.Errorf("best by %s at epoch %d", res.Metric, res.BestEpoch)
	}
	if !strings.Contains(log.String(), "probe: a linear SVM") || !strings.Contains(log.String(), "probe svm_acc ") {
		t.Errorf("log:\n%s", log.String())
	}
	fresh := loadParams(t, c, "")
	for _, f := range []string{train.LastFile, BackboneFile} {
		a, b := loadParams(t, c, filepath.Join(dirs[0], f)), loadParams(t, c, filepath.Join(dirs[1], f))
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: the probe changed the weights", f)
		}
		if reflect.DeepEqual(a, fresh) {
			t.Errorf("%s: no weight loaded", f)
		}
	}
	got, err := ReadConfig(filepath.Join(dirs[0], ConfigFile))
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("config.yaml reads back %+v, %v", got, err)
	}
}

// loadParams is the encoder's weights in a checkpoint of a run of c (path
// "": the model's initial weights).
func loadParams(t *testing.T, c Config, path string) map[string][]float32 {
	t.Helper()
	m, err := backbone.NewPointMAEPretrain(c.Model.Backbone(), train.Stream(5, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case path == "": // the initial weights
	case filepath.Base(path) == train.LastFile:
		if _, err := m.LoadPretrainWeights(path, backbone.LoadOptions{}); err != nil {
			t.Fatal(err)
		}
	default:
		if _, err := backbone.LoadWeights(path, m.BackboneParams(), backbone.LoadOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string][]float32{}
	for _, p := range m.EncoderParams() {
		out[p.Name] = p.Data
	}
	return out
}

// TestProbeFeatures: a cloud's features are the max of its tokens over
// the groups, then their mean (so the first half is never below the
// second), and do not depend on the batch the cloud is encoded in.
func TestProbeFeatures(t *testing.T) {
	c := tiny(1)
	m, err := backbone.NewPointMAEPretrain(c.Model.Backbone(), train.Stream(3, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	pd := probeData(t, 1, 1)
	var feats [2][]float32
	for i, bs := range []int{5, 64} {
		p := &PointFeatures{Model: m, Data: pd, Batch: bs}
		var err error
		if feats[i], err = p.Features(context.Background(), train.TrainSplit); err != nil {
			t.Fatal(err)
		}
	}
	pp, err := NewPointProbe(m, pd, 1)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := pp.Extract(context.Background(), train.TrainSplit, nil); err != nil || !reflect.DeepEqual(f, feats[0]) || pp.Dim != 2*c.Model.TransDim {
		t.Errorf("NewPointProbe's features differ (%v), or its dimension %d", err, pp.Dim)
	}
	ch := c.Model.TransDim
	if len(feats[0]) != pd.Train.Len()*2*ch {
		t.Fatalf("%d feature values for %d clouds of 2×%d", len(feats[0]), pd.Train.Len(), ch)
	}
	if !reflect.DeepEqual(feats[0], feats[1]) {
		t.Error("features depend on the batch size")
	}
	for k := 0; k < pd.Train.Len(); k++ {
		f := feats[0][k*2*ch : (k+1)*2*ch]
		for j := 0; j < ch; j++ {
			if f[j] < f[ch+j] {
				t.Fatalf("cloud %d channel %d: max %v below mean %v", k, j, f[j], f[ch+j])
			}
		}
	}
	// The first cloud's features from Encode's tokens directly.
	p := &PointFeatures{Model: m, Data: pd}
	bs, err := p.batches(context.Background(), train.TrainSplit)
	if err != nil {
		t.Fatal(err)
	}
	g := bs[0].Groups
	tok, err := m.Encode(nil, g, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := tok.Host()
	for j := 0; j < ch; j++ {
		mx, sum := h[j], 0.0
		for t := 0; t < g.G; t++ {
			mx = max(mx, h[t*ch+j])
			sum += float64(h[t*ch+j])
		}
		if feats[0][j] != mx || feats[0][ch+j] != float32(sum/float64(g.G)) {
			t.Fatalf("channel %d: features %v, %v; tokens' max %v, mean %v", j, feats[0][j], feats[0][ch+j], mx, sum/float64(g.G))
		}
	}
}

func TestProbeConfig(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.ProbeEvery = -1 }, "probe_every must not be negative"},
		{func(c *Config) { c.Probe = "" }, "need a probe data set"},
		{func(c *Config) { c.Probe, c.ProbeVariant, c.ProbeShots, c.Train.Best = "", "", 0, "probe_svm_acc" }, "best metric"},
	} {
		c := SynthConfig()
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error saying %q", c, err, tc.want)
		}
	}
	c := SynthConfig()
	c.Train.Best = "probe_svm_acc"
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	m, _ := backbone.NewPointMAEPretrain(tiny(1).Model.Backbone(), train.Stream(3, 0, 0, 0))
	one := probeData(t, 1, 1)
	one.Train.Labels = make([]int, one.Train.Len()) // every cloud of class 0
	if _, err := NewPointProbe(m, one, 1); err == nil || !strings.Contains(err.Error(), "one class") {
		t.Errorf("probe data of one class: %v", err)
	}
	one.Test = &datasets.Split{}
	if _, err := NewPointProbe(m, one, 1); err == nil || !strings.Contains(err.Error(), "training and test") {
		t.Errorf("probe data without test clouds: %v", err)
	}
}

// BenchmarkSynthProbe times one probe of the synth pretraining preset's
// encoder on synth's fine-tuning set (1,280 training and 320 test clouds):
// "first" includes grouping the clouds, "cached" is each later epoch's.
func BenchmarkSynthProbe(b *testing.B) {
	c := SynthConfig()
	d, err := LoadProbeData(c)
	if err != nil {
		b.Fatal(err)
	}
	m, err := backbone.NewPointMAEPretrain(c.Model.Backbone(), train.Stream(0, 0, 0, 0))
	if err != nil {
		b.Fatal(err)
	}
	p := &PointFeatures{Model: m, Data: d}
	for _, name := range []string{"first", "cached"} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				if name == "first" {
					p.cached = [2][]*points.Batch{}
				}
				t0 := time.Now()
				ftr, err := p.Features(context.Background(), train.TrainSplit)
				if err != nil {
					b.Fatal(err)
				}
				fte, err := p.Features(context.Background(), train.TestSplit)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				acc, s, err := probe.SVMAccuracy(context.Background(), ftr, d.Train.Labels, fte, d.Test.Labels, 2*c.Model.TransDim, probe.LinearSVC())
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(t1.Sub(t0).Seconds(), "features-s")
				b.ReportMetric(time.Since(t1).Seconds(), "svm-s")
				b.ReportMetric(acc, "acc")
				b.ReportMetric(float64(slices.Max(s.Iter)), "max-passes")
			}
		})
	}
}

// BenchmarkSynthProbeShots measures the few-shot probe (FeatureProbe.Shots)
// of the synth preset's encoder on synth's clean and hardest fine-tuning
// sets with 2, 5, 10 and all 80 labelled clouds a class: the random encoder
// a pretraining run starts from (seed 0), and, with PCX_PROBE_RUN=RUN, that
// run's pretrained encoder (RUN/last.safetensors). Accuracies are reported
// as metrics, e.g. "clean-2shot-%".
//
//	PCX_PROBE_RUN=runs/synth-pretrain go test ./pretrain -run X -bench SynthProbeShots -benchtime 1x
func BenchmarkSynthProbeShots(b *testing.B) {
	c := SynthConfig()
	models := map[string]*backbone.PointMAEPretrain{}
	m, err := backbone.NewPointMAEPretrain(c.Model.Backbone(), train.Stream(c.Train.Seed, 0, 0, 0))
	if err != nil {
		b.Fatal(err)
	}
	models["random"] = m
	if run := os.Getenv("PCX_PROBE_RUN"); run != "" {
		if _, models["pretrained"], err = LoadModel(run, ""); err != nil {
			b.Fatal(err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(models)) {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				for _, variant := range []string{"clean", "hardest"} {
					c.ProbeVariant = variant
					d, err := LoadProbeData(c)
					if err != nil {
						b.Fatal(err)
					}
					p, err := NewPointProbe(models[name], d, 1)
					if err != nil {
						b.Fatal(err)
					}
					ftr, err := p.Extract(context.Background(), train.TrainSplit, nil)
					if err != nil {
						b.Fatal(err)
					}
					fte, err := p.Extract(context.Background(), train.TestSplit, nil)
					if err != nil {
						b.Fatal(err)
					}
					p.Extract = func(_ context.Context, s train.Split, _ func(int)) ([]float32, error) {
						if s == train.TrainSplit {
							return ftr, nil
						}
						return fte, nil
					}
					for _, shots := range []int{2, 5, 10, 0} {
						p.Shots = shots
						acc, err := p.Run(context.Background())
						if err != nil {
							b.Fatal(err)
						}
						label := fmt.Sprintf("%s-%dshot-%%", variant, shots)
						if shots == 0 {
							label = variant + "-all-%"
						}
						b.ReportMetric(100*acc, label)
					}
				}
			}
		})
	}
}
