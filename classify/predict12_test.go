package classify

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/pointcloud"
)

// TestTurnUp: a quarter turn takes the from axis to the to axis, keeps the
// third, and is a rotation (the from-to plane turns; no mirror).
func TestTurnUp(t *testing.T) {
	axes := []pointcloud.Axis{pointcloud.X, pointcloud.Y, pointcloud.Z}
	for _, from := range axes {
		for _, to := range axes {
			// The three unit vectors, one point each.
			xyz := []float32{1, 0, 0, 0, 1, 0, 0, 0, 1}
			turnUp(xyz, from, to)
			img := func(a pointcloud.Axis) []float32 { return xyz[3*a : 3*a+3] }
			want := func(a pointcloud.Axis, sign float32) []float32 {
				v := make([]float32, 3)
				v[a] = sign
				return v
			}
			near := func(a, b []float32) bool {
				for i := range a {
					if math.Abs(float64(a[i]-b[i])) > 1e-6 {
						return false
					}
				}
				return true
			}
			if !near(img(from), want(to, 1)) {
				t.Errorf("%d→%d: the from axis goes to %v", from, to, img(from))
			}
			if from == to {
				continue
			}
			third := 3 - from - to
			if !near(img(third), want(third, 1)) || !near(img(to), want(from, -1)) {
				t.Errorf("%d→%d: images %v", from, to, xyz)
			}
		}
	}
	// A z-up point above the origin ends above it in y.
	p := []float32{0.5, 0.25, 2}
	turnUp(p, pointcloud.Z, pointcloud.Y)
	if math.Abs(float64(p[1]-2)) > 1e-6 || math.Abs(float64(p[0]-0.5)) > 1e-6 || math.Abs(float64(p[2]+0.25)) > 1e-6 {
		t.Errorf("z up to y up: %v", p)
	}
}

// TestUpAxisMetadata: training on synth records its up axis (y) in the
// checkpoint; a checkpoint without it is taken as y up, and one with a
// wrong value is refused.
func TestUpAxisMetadata(t *testing.T) {
	_, tr, dir := trainedTiny(t, "linear")
	if got := tr.Meta[MetaUp]; got != "y" || tr.Up != pointcloud.Y {
		t.Errorf("metadata %s = %q, Up %v; want y", MetaUp, got, tr.Up)
	}
	resave := func(name, up string) string {
		t.Helper()
		meta := map[string]string{}
		for k, v := range tr.Meta {
			meta[k] = v
		}
		delete(meta, MetaUp)
		if up != "" {
			meta[MetaUp] = up
		}
		p := filepath.Join(dir, name)
		if err := checkpoint.Save(p, tr.Model.Params(), nil, meta); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for up, want := range map[string]pointcloud.Axis{"": pointcloud.Y, "z": pointcloud.Z, "x": pointcloud.X} {
		got, err := LoadCheckpoint(resave("up"+up+".safetensors", up))
		if err != nil || got.Up != want {
			t.Errorf("metadata %q: Up %v, %v; want %v", up, got.Up, err, want)
		}
	}
	bad := resave("bad.safetensors", strings.Repeat("w", 500))
	if _, err := LoadCheckpoint(bad); err == nil || !strings.Contains(err.Error(), MetaUp) || len(err.Error()) > 400 {
		t.Errorf("bad up axis: %v", err)
	}
}

// TestPredictUp: a z-up copy of a cloud, predicted with Up "z", gives the
// logits of the y-up original; without Up it is the model's y-up input.
func TestPredictUp(t *testing.T) {
	d, tr, dir := trainedTiny(t, "linear")
	yUp := d.Test.Points[3]
	zUp := make([]float32, len(yUp))
	for i := 0; i < len(yUp); i += 3 {
		// z up: what stood along y now stands along z.
		zUp[i], zUp[i+1], zUp[i+2] = yUp[i], -yUp[i+2], yUp[i+1]
	}
	write := func(name string, xyz []float32) string {
		p := filepath.Join(dir, name)
		if err := pointcloud.WriteFile(p, &pointcloud.Cloud{XYZ: xyz}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	yFile, zFile := write("y.ply", yUp), write("z.ply", zUp)
	base, err := Predict(tr, []string{yFile}, PredictOptions{})
	if err != nil {
		t.Fatal(err)
	}
	turned, err := Predict(tr, []string{zFile}, PredictOptions{Up: "z"})
	if err != nil {
		t.Fatal(err)
	}
	asIs, err := Predict(tr, []string{zFile}, PredictOptions{})
	if err != nil {
		t.Fatal(err)
	}
	same := func(a, b Prediction) bool {
		if len(a.Classes) != len(b.Classes) {
			return false
		}
		for i := range a.Classes {
			if a.Classes[i] != b.Classes[i] || math.Abs(float64(a.Logits[i]-b.Logits[i])) > 1e-4 {
				return false
			}
		}
		return true
	}
	if !same(base[0], turned[0]) {
		t.Errorf("z-up copy with Up z: %v %v; the y-up original: %v %v", turned[0].Classes[:3], turned[0].Logits[:3], base[0].Classes[:3], base[0].Logits[:3])
	}
	if same(base[0], asIs[0]) {
		t.Error("the z-up copy without Up predicts as the original: the test cloud does not tell orientations apart")
	}
	if _, err := Predict(tr, []string{yFile}, PredictOptions{Up: "up"}); err == nil || !strings.Contains(err.Error(), "axis") {
		t.Errorf("Up \"up\": %v", err)
	}
}

// TestPredictEachFile: files that cannot be classified get their error in
// place; the others are still classified, and the error counts failures.
func TestPredictEachFile(t *testing.T) {
	d, tr, dir := trainedTiny(t, "linear")
	good := filepath.Join(dir, "good.ply")
	if err := pointcloud.WriteFile(good, &pointcloud.Cloud{XYZ: d.Test.Points[0]}); err != nil {
		t.Fatal(err)
	}
	few := filepath.Join(dir, "few.xyz")
	if err := os.WriteFile(few, []byte("0 0 0\n1 1 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.ply")
	files := []string{good, missing, few, good}
	preds, err := Predict(tr, files, PredictOptions{TopK: 2})
	if err == nil || !strings.Contains(err.Error(), "2 of 4 files") || !strings.Contains(err.Error(), "missing.ply") {
		t.Errorf("error %v; want 2 of 4 failed, the first missing.ply", err)
	}
	if len(preds) != len(files) {
		t.Fatalf("%d predictions for %d files", len(preds), len(files))
	}
	for i, p := range preds {
		if p.File != files[i] {
			t.Errorf("prediction %d is of %s, want %s", i, p.File, files[i])
		}
		failed := files[i] != good
		if failed != (p.Error != "") || failed != (len(p.Classes) == 0) {
			t.Errorf("%s: error %q, classes %v", p.File, p.Error, p.Classes)
		}
		if failed && !strings.Contains(p.Error, filepath.Base(files[i])) {
			t.Errorf("%s: error %q does not name it", p.File, p.Error)
		}
	}
	js, _ := json.Marshal(preds[1])
	if !strings.Contains(string(js), `"error":`) || strings.Contains(string(js), `"classes"`) {
		t.Errorf("JSON of a failed file: %s", js)
	}
}

// TestLoadCheckpointRefusesNonCheckpoints: a directory, a text file and a
// PyTorch .pth are refused, each saying what it is.
func TestLoadCheckpointRefusesNonCheckpoints(t *testing.T) {
	dir := t.TempDir()
	yaml := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(yaml, []byte("# pcx run configuration\npcx: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pth := filepath.Join("..", "testdata", "state", "pointmae.pth")
	for path, want := range map[string]string{
		dir:  "is a directory, not a checkpoint file",
		yaml: "is not a checkpoint",
		pth:  "a PyTorch checkpoint, not a pcx training checkpoint",
	} {
		if _, err := LoadCheckpoint(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", path, err, want)
		}
	}
}
