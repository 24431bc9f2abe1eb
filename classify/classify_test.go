package classify

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/datasets/synth"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/train"
)

// tinyData is a small synth data set: 16 classes, 3 training and 1 test
// sample each, 512 points.
func tinyData(t *testing.T) *datasets.Dataset {
	t.Helper()
	d, err := datasets.LoadSynth(synth.Options{Train: 3, Test: 1, Points: 512, Variant: "clean", Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// tinyConfig is a run small enough for a unit test.
func tinyConfig(t *testing.T, method string) Config {
	t.Helper()
	m, err := ResolveModel("synth", method, 16)
	if err != nil {
		t.Fatal(err)
	}
	m.TransDim, m.Depth, m.Heads, m.Points, m.Groups, m.GroupSize = 24, 2, 2, 128, 8, 8
	if method == "dapt" || method == "dapt-x" {
		m.Rank = 6
	}
	tc := train.PointMAEFineTune()
	tc.Epochs, tc.BatchSize, tc.EvalBatch, tc.LR, tc.WarmupEpochs, tc.Seed = 2, 8, 8, 1e-3, 0, 5
	return Config{Version: 1, Data: "synth", Model: m, Train: tc}
}

func TestResolveModel(t *testing.T) {
	for _, tc := range []struct {
		preset, method string
		classes, rank  int
		prompt         string
	}{
		{"scan_objbg", "full", 15, 0, ""},
		{"scan_objbg", "dapt", 15, 64, "mean"},
		{"scan_objonly", "dapt", 15, 64, "mean"},
		{"modelnet", "dapt", 40, 72, ""},
		{"scan_hardest", "dapt-x", 15, 32, "mean"},
		{"synth", "dapt-x", 16, 32, "mean"},
	} {
		m, err := ResolveModel(tc.preset, tc.method, 0)
		if err != nil {
			t.Fatal(err)
		}
		if m.Classes != tc.classes || m.Rank != tc.rank || m.HeadPrompt != tc.prompt {
			t.Errorf("%s/%s: classes %d rank %d prompt %q", tc.preset, tc.method, m.Classes, m.Rank, m.HeadPrompt)
		}
	}
	// The paper's tunable counts come out of the resolved configurations.
	m, _ := ResolveModel("scan_objbg", "dapt-x", 0)
	mod, err := NewModel(m, train.Stream(0, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if n := mod.Params().Trainable().Count(); n != 422671 {
		t.Errorf("dapt-x on scan_objbg: %d tunable, want 422,671", n)
	}
	if _, err := ResolveModel("scan_objbg", "lora", 0); err == nil || !strings.Contains(err.Error(), "dapt-x") {
		t.Errorf("unknown method: %v", err)
	}
	if _, err := ResolveModel("nope", "full", 0); err == nil {
		t.Error("unknown preset accepted")
	}
}

func TestBatch(t *testing.T) {
	d := tinyData(t)
	cfg := tinyConfig(t, "dapt-x")
	m, err := NewModel(cfg.Model, train.Stream(0, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	task := &Task{Model: m, Data: d, Rotate: "y"}
	for _, s := range []train.Split{train.TrainSplit, train.TestSplit} {
		b, err := task.Batch(s, []int{0, 1, 2}, train.Stream(1, train.StreamData, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		g := b.(*Batch).Groups
		if g.B != 3 || g.G != 8 || g.M != 8 || len(g.Neighbourhoods) != 3*8*8*3 {
			t.Fatalf("%s: groups %d×%d×%d", s, g.B, g.G, g.M)
		}
	}
	// Test batches are deterministic; training batches follow their stream.
	b1, _ := task.Batch(train.TestSplit, []int{4}, train.Stream(1, 2, 0, 0))
	b2, _ := task.Batch(train.TestSplit, []int{4}, train.Stream(9, 2, 0, 0))
	if b1.(*Batch).Groups.Centres[0] != b2.(*Batch).Groups.Centres[0] {
		t.Error("test batches depend on the random stream")
	}
	t1, _ := task.Batch(train.TrainSplit, []int{4}, train.Stream(1, 2, 0, 0))
	t2, _ := task.Batch(train.TrainSplit, []int{4}, train.Stream(9, 2, 0, 0))
	if t1.(*Batch).Groups.Centres[0] == t2.(*Batch).Groups.Centres[0] {
		t.Error("training batches ignore their random stream")
	}
	// Too few points: a clear error.
	small := &datasets.Dataset{Name: "small", Classes: d.Classes, Train: d.Train,
		Test: &datasets.Split{Points: [][]float32{make([]float32, 3*50)}, Labels: []int{0}}}
	task.Data = small
	if _, err := task.Batch(train.TestSplit, []int{0}, nil); err == nil || !strings.Contains(err.Error(), "50 points") {
		t.Errorf("50-point cloud: %v", err)
	}
}

func stripTimes(ms []train.EpochMetrics) []train.EpochMetrics {
	out := make([]train.EpochMetrics, len(ms))
	for i, m := range ms {
		out[i] = m.WithoutTimes()
	}
	return out
}

// TestTrainEvalPredict trains each method briefly, then evaluates (with
// voting), predicts, and reads routing and features back from the
// checkpoint.
func TestTrainEvalPredict(t *testing.T) {
	d := tinyData(t)
	for _, method := range presets.MethodNames() {
		dir := t.TempDir()
		cfg := tinyConfig(t, method)
		res, err := Train(context.Background(), cfg, d, dir, RunOptions{})
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		if len(res.Epochs) != 2 || math.IsNaN(res.Epochs[1].Values[0].Value) {
			t.Fatalf("%s: %+v", method, res.Epochs)
		}
		if _, err := ReadRunConfig(dir); err != nil {
			t.Fatal(err)
		}
		tr, err := LoadCheckpoint(filepath.Join(dir, train.BestFile))
		if err != nil {
			t.Fatal(err)
		}
		if tr.Config.Model != cfg.Model || len(tr.Classes) != 16 {
			t.Fatalf("%s: checkpoint config %+v", method, tr.Config.Model)
		}
		rep, err := Evaluate(context.Background(), tr, d, EvalOptions{Vote: true, Votes: 2, Repeats: 2, Batch: 8})
		if err != nil {
			t.Fatal(err)
		}
		// The checkpoint is the best epoch: evaluating it reproduces that
		// epoch's test accuracy.
		if math.Abs(rep.Acc-res.Best) > 1e-12 || res.Metric != "test_acc" {
			t.Errorf("%s: eval accuracy %.4f, training's best %s %.4f", method, rep.Acc, res.Metric, res.Best)
		}
		if rep.Vote == nil || len(rep.Vote.Accs) != 2 || rep.Samples != 16 {
			t.Errorf("%s: vote %+v", method, rep.Vote)
		}
		total := 0
		for _, row := range rep.Confusion {
			for _, v := range row {
				total += v
			}
		}
		if total != 16 {
			t.Errorf("confusion matrix counts %d samples", total)
		}
		feats, labels, err := Features(context.Background(), tr, d, 8, 2)
		if err != nil || len(feats) != 16 || len(labels) != 16 {
			t.Fatalf("%s: features %d, %v", method, len(feats), err)
		}
		_, err = RoutingOf(context.Background(), tr, d, "cls", 8, 2)
		if method == "dapt-x" {
			if err != nil {
				t.Fatal(err)
			}
		} else if err == nil {
			t.Errorf("%s: routing without an SMoA", method)
		}
	}
}

// trainedTiny trains a tiny model of method for one epoch and loads its
// last checkpoint; it returns the data, the model and the run directory.
func trainedTiny(t *testing.T, method string) (*datasets.Dataset, *Trained, string) {
	t.Helper()
	d := tinyData(t)
	dir := t.TempDir()
	cfg := tinyConfig(t, method)
	cfg.Train.Epochs = 1
	if _, err := Train(context.Background(), cfg, d, dir, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := LoadCheckpoint(filepath.Join(dir, train.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	return d, tr, dir
}

func TestRoutingShapes(t *testing.T) {
	d, tr, _ := trainedTiny(t, "dapt-x")
	for _, tok := range []string{"cls", "patch"} {
		r, err := RoutingOf(context.Background(), tr, d, tok, 8, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Shares) != 2 || len(r.Gates) != 2 || len(r.Shares[0]) != 4 || len(r.Gates[0]) != 4 {
			t.Fatalf("%s: shares %v gates %v", tok, r.Shares, r.Gates)
		}
		for b := range r.Shares {
			s, g := 0.0, 0.0
			for e := range r.Shares[b] {
				s += r.Shares[b][e]
				g += r.Gates[b][e]
			}
			if math.Abs(s-1) > 1e-9 || math.Abs(g-1) > 1e-5 {
				t.Errorf("%s block %d: shares sum %v, gates sum %v", tok, b, s, g)
			}
		}
	}
	if _, err := RoutingOf(context.Background(), tr, d, "prompt", 8, 1); err == nil {
		t.Error("unknown token accepted")
	}
}

// TestScanObjectNNPathMatchesSynth exports the data set as ScanObjectNN h5
// files and trains through that path: the run is the same, bit for bit.
func TestScanObjectNNPathMatchesSynth(t *testing.T) {
	d := tinyData(t)
	cfg := tinyConfig(t, "dapt-x")
	direct, err := Train(context.Background(), cfg, d, t.TempDir(), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h5 := t.TempDir()
	if err := datasets.Export(d, h5, datasets.ExportH5); err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Variant = "scanobjectnn:"+h5, "objbg"
	d2, err := LoadData(cfg)
	if err != nil {
		t.Fatal(err)
	}
	viaH5, err := Train(context.Background(), cfg, d2, t.TempDir(), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := stripTimes(direct.Epochs), stripTimes(viaH5.Epochs)
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("epoch %d: synth %+v, h5 %+v", i+1, a[i], b[i])
		}
	}
}

func TestPredict(t *testing.T) {
	d, tr, dir := trainedTiny(t, "linear")
	cloud := filepath.Join(dir, "c.ply")
	if err := pointcloud.WriteFile(cloud, &pointcloud.Cloud{XYZ: d.Test.Points[0]}); err != nil {
		t.Fatal(err)
	}
	mesh := filepath.Join(dir, "tet.off")
	os.WriteFile(mesh, []byte("OFF\n4 4 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2\n3 0 1 3\n3 0 2 3\n3 1 2 3\n"), 0o644)
	preds, err := Predict(tr, []string{cloud, mesh}, PredictOptions{TopK: 3, MeshPoints: 256})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range preds {
		if len(p.Classes) != 3 || !(p.Probs[0] >= p.Probs[1] && p.Probs[1] >= p.Probs[2]) || p.Probs[0] > 1 {
			t.Errorf("%s: %v %v", p.File, p.Classes, p.Probs)
		}
	}
	few := filepath.Join(dir, "few.xyz")
	os.WriteFile(few, []byte("0 0 0\n1 1 1\n"), 0o644)
	if _, err := Predict(tr, []string{few}, PredictOptions{}); err == nil || !strings.Contains(err.Error(), "few.xyz") {
		t.Errorf("2-point cloud: %v", err)
	}
	if _, err := LoadCheckpoint(filepath.Join(dir, "missing.safetensors")); err == nil {
		t.Error("missing checkpoint accepted")
	}
}
