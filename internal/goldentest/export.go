package goldentest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/nn/state"
)

// ExportFixture is the file scripts/golden_export.py writes after loading
// pcx's checkpoints into its PyTorch models.
const ExportFixture = "../testdata/golden/export.json"

// ExportDirEnv names the folder into which CheckExport writes each case's
// checkpoint and logits for scripts/golden_export.py.
const ExportDirEnv = "PCX_GOLDEN_EXPORT"

// ExportCase says what the PyTorch model is and which inputs it runs: the
// golden fixture file and case whose configuration builds the model
// (Fixture, Case) and whose inputs it classifies (InputsCase).
type ExportCase struct {
	Model      string `json:"model"` // pointmae, dapt or daptx
	Fixture    string `json:"fixture"`
	Case       string `json:"case"`
	InputsCase string `json:"inputs_case"`
}

// exportVerdict is one case of ExportFixture.
type exportVerdict struct {
	SHA256      string  `json:"export_sha256"`
	Strict      bool    `json:"strict_load"`
	Error       string  `json:"load_error"`
	ChecksumOK  bool    `json:"checksum_ok"`
	MaxRelDiff  float64 `json:"max_rel_diff"`
	TorchLogits Tensor  `json:"torch_logits"`
}

// ExportOptimizer returns optimiser buffers shaped as AdamW saves them for
// ps's trainable parameters, with exact values, so that an export carries
// the "optimizer." entries of a real checkpoint.
func ExportOptimizer(ps nn.Params) map[string][]float32 {
	opt := map[string][]float32{}
	for _, p := range ps.Trainable() {
		m, v := make([]float32, p.Len()), make([]float32, p.Len())
		for i := range m {
			m[i] = float32(i%5-2) * 0.25
			v[i] = float32(i%3) * 0.5
		}
		opt[p.Name+".exp_avg"], opt[p.Name+".exp_avg_sq"] = m, v
	}
	return opt
}

// CheckExport checks the pcx→PyTorch direction for one model: the
// checkpoint pcx writes for ps (with optimiser buffers opt) must be, byte
// for byte, the one that scripts/golden_export.py loaded with
// load_state_dict(strict=True) into its PyTorch model, and that model's
// logits on the case's inputs must match logits, pcx's. With ExportDirEnv
// set, the checkpoint and logits are first written there for the script.
func CheckExport(t *testing.T, name string, c ExportCase, ps nn.Params, opt map[string][]float32, logits *nn.Tensor) {
	t.Helper()
	var buf bytes.Buffer
	if err := state.EncodeSafetensors(&buf, checkpoint.Dict(ps, opt, map[string]string{"epoch": "3"})); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	if dir := os.Getenv(ExportDirEnv); dir != "" {
		side, err := json.Marshal(struct {
			ExportCase
			Logits []float32 `json:"pcx_logits"`
			Shape  []int     `json:"shape"`
		}{c, logits.Data, logits.Shape})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".safetensors"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".json"), side, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const redo = "; regenerate: " + ExportDirEnv + "=DIR go test ./backbone ./adapters -run GoldenExport && /usr/bin/python3 scripts/golden_export.py DIR"
	var f struct {
		Cases map[string]exportVerdict `json:"cases"`
	}
	b, err := os.ReadFile(ExportFixture)
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err != nil {
		t.Errorf("%s: %v%s", name, err, redo)
		return
	}
	v, ok := f.Cases[name]
	if !ok {
		t.Errorf("%s has no case %s%s", ExportFixture, name, redo)
		return
	}
	if got := hex.EncodeToString(sum[:]); got != v.SHA256 {
		t.Errorf("%s: pcx now writes a checkpoint with SHA-256 %s, not the %s PyTorch checked%s", name, got, v.SHA256, redo)
	}
	if !v.Strict {
		t.Errorf("%s: PyTorch's load_state_dict(strict=True) refused pcx's checkpoint: %s", name, v.Error)
	}
	if !v.ChecksumOK {
		t.Errorf("%s: the checkpoint's %s did not match the script's SHA-256", name, state.ChecksumKey)
	}
	if v.MaxRelDiff > 1e-4 {
		t.Errorf("%s: PyTorch's logits differ from pcx's by %g relative when exported", name, v.MaxRelDiff)
	}
	CloseTo(t, name+" pcx logits vs PyTorch's from pcx's checkpoint", logits.Data, v.TorchLogits, 1e-4)
}
