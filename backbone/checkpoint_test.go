package backbone

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/pointcloud"
)

func tinyPointMAE(t *testing.T) *PointMAE {
	t.Helper()
	m, err := NewPointMAE(Config{TransDim: 32, Depth: 2, Heads: 4, Classes: 5, NumGroup: 8, GroupSize: 8}, pointcloud.NewRand(0))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLoadWeightsRefusesForeignCheckpoint loads checkpoints that match none
// of the model's keys: refused, naming the file and how much of the backbone
// loaded, unless a partial load is allowed.
func TestLoadWeightsRefusesForeignCheckpoint(t *testing.T) {
	other := filepath.Join(t.TempDir(), "other.safetensors")
	if err := checkpoint.Save(other, nn.Params{nn.NewParam("something.else", 2)}, nil, nil); err != nil {
		t.Fatal(err)
	}
	// plain_state.pth is a bare state dict of a Linear and a BatchNorm.
	for _, path := range []string{"../testdata/state/plain_state.pth", other} {
		m := tinyPointMAE(t)
		n := 0
		for _, p := range m.Params() {
			if IsPretrained(p.Name) {
				n++
			}
		}
		_, err := LoadWeights(path, m.Params(), LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "loaded 0 of the backbone's") ||
			!strings.Contains(err.Error(), "partial") {
			t.Errorf("%s: error %v", path, err)
		}
		if n < 30 {
			t.Errorf("only %d pretrained weights in the tiny model", n)
		}
		rep, err := LoadWeights(path, m.Params(), LoadOptions{Partial: true})
		if err != nil || len(rep.Missing) != len(m.Params()) {
			t.Errorf("%s, partial: %v, %d missing", path, err, len(rep.Missing))
		}
	}
	// A checkpoint of the model itself loads whole.
	m := tinyPointMAE(t)
	own := filepath.Join(t.TempDir(), "own.safetensors")
	if err := checkpoint.Save(own, m.Params(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if rep, err := LoadWeights(own, tinyPointMAE(t).Params(), LoadOptions{}); err != nil || len(rep.Missing) != 0 {
		t.Errorf("own checkpoint: %v, missing %v", err, rep.Missing)
	}
	// A pretraining checkpoint lacks the head: loads.
	var backbone nn.Params
	for _, p := range m.Params() {
		if !strings.HasPrefix(p.Name, "cls_head_finetune.") {
			backbone = append(backbone, p)
		}
	}
	pre := filepath.Join(t.TempDir(), "pretrain.safetensors")
	if err := checkpoint.Save(pre, backbone, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWeights(pre, tinyPointMAE(t).Params(), LoadOptions{}); err != nil {
		t.Errorf("pretraining checkpoint: %v", err)
	}
}

// TestLoadWeightsReportsTheRealError: a bare state dict whose tensor has
// the wrong shape is a shape error, not "no key base_model".
func TestLoadWeightsReportsTheRealError(t *testing.T) {
	ps := nn.Params{nn.NewParam("0.weight", 3, 2)} // the file's is 2×3
	_, err := LoadWeights("../testdata/state/plain_state.pth", ps, LoadOptions{Partial: true})
	if err == nil || !strings.Contains(err.Error(), "0.weight: shape [2 3] in the checkpoint") {
		t.Errorf("error %v, want the shape mismatch", err)
	}
	// A state dict under "model" loads; with none anywhere the error lists
	// the file's keys.
	ps = nn.Params{nn.NewParam("norm.weight", 4)}
	if _, err := LoadWeights("../testdata/state/malicious.pth", ps, LoadOptions{}); err == nil {
		t.Error("malicious pickle loaded")
	}
}

// TestLoadWeightsRefusesNonCheckpoints: a directory (a run directory given
// by mistake) or a text file is refused as not a checkpoint, naming it,
// and a pcx safetensors file under another name still loads (the format is
// told by content, not by name).
func TestLoadWeightsRefusesNonCheckpoints(t *testing.T) {
	dir := t.TempDir()
	yaml := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(yaml, []byte("pcx: 1\ndata: synth\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{dir: "is a directory", yaml: "is not a checkpoint"} {
		_, err := LoadWeights(path, tinyPointMAE(t).Params(), LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ".pth") {
			t.Errorf("%s: %v; want %q, naming it and what pretrained weights are", path, err, want)
		}
	}
	m := tinyPointMAE(t)
	own := filepath.Join(dir, "weights.bin")
	if err := checkpoint.Save(own, m.Params(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if rep, err := LoadWeights(own, tinyPointMAE(t).Params(), LoadOptions{}); err != nil || len(rep.Missing) != 0 {
		t.Errorf("pcx safetensors named .bin: %v, %+v", err, rep)
	}
}
