package checkpoint

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/layers"
	"github.com/pcx-dev/pcx/nn/optim"
	"github.com/pcx-dev/pcx/pointcloud"
)

func model(seed uint64) nn.Params {
	r := pointcloud.NewRand(seed)
	b := layers.NewBlock("blocks.blocks.0", layers.BlockConfig{Dim: 8, Heads: 2, Hidden: 16, Eps: 1e-5}, r)
	bn := nn.NewBatchNorm("encoder.first_conv.1", 8)
	return append(b.Params(), bn.Params()...)
}

func TestSaveLoadRoundTrip(t *testing.T) {
	ps := model(1)
	ps[len(ps)-1].Data[0] = 7 // num_batches_tracked
	for _, p := range ps {
		p.Grad = make([]float32, p.Len())
		for i := range p.Grad {
			p.Grad[i] = 0.1
		}
	}
	opt := optim.NewAdamW(ps, 0.05)
	opt.Step(1e-3)
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	if err := Save(path, ps, opt.State(), map[string]string{"epoch": "3"}); err != nil {
		t.Fatal(err)
	}
	back := model(2)
	rep, ost, meta, err := Load(path, back)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Errorf("report: %s", rep)
	}
	for i, p := range ps {
		for j := range p.Data {
			if back[i].Data[j] != p.Data[j] {
				t.Fatalf("%s[%d] = %v, want %v", p.Name, j, back[i].Data[j], p.Data[j])
			}
		}
	}
	if meta["epoch"] != "3" || len(ost) != len(opt.State()) {
		t.Errorf("meta %v, %d optimiser buffers", meta, len(ost))
	}
	if _, err := os.Stat(path + ".tmp"); err == nil {
		t.Error("temporary file left behind")
	}
}

func TestLoadRefusesShapeMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	if err := Save(path, model(1), nil, nil); err != nil {
		t.Fatal(err)
	}
	r := pointcloud.NewRand(3)
	wide := layers.NewBlock("blocks.blocks.0", layers.BlockConfig{Dim: 12, Heads: 2, Hidden: 16, Eps: 1e-5}, r).Params()
	_, _, _, err := Load(path, wide)
	if err == nil || !strings.Contains(err.Error(), "blocks.blocks.0.norm1.weight") || !strings.Contains(err.Error(), path) {
		t.Errorf("shape mismatch: %v", err)
	}
}

func TestLoadPTHPointMAE(t *testing.T) {
	// The fixture is shaped like Point-MAE's pretrain.pth (written by torch).
	ps := nn.Params{
		nn.NewParam("blocks.blocks.0.attn.qkv.weight", 6, 4),
		nn.NewParam("blocks.blocks.0.attn.qkv.bias", 6),
		nn.NewParam("norm.weight", 4),
		nn.NewParam("cls_pos", 1, 1, 4),
		{Tensor: nn.New(1), Name: "encoder.first_conv.1.num_batches_tracked", Buffer: true},
	}
	rep, err := LoadPTH("../../testdata/state/pointmae.pth", []string{"base_model"}, ps, "MAE_encoder.")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) != 1 || rep.Missing[0] != "cls_pos" {
		t.Errorf("missing %v, want [cls_pos]", rep.Missing)
	}
	found := false
	for _, k := range rep.Unexpected {
		found = found || k == "cls_head_finetune.0.weight"
		if strings.HasPrefix(k, "module.") || strings.HasPrefix(k, "MAE_encoder.") {
			t.Errorf("prefix not stripped: %s", k)
		}
	}
	if !found {
		t.Errorf("unexpected keys %v lack the head", rep.Unexpected)
	}
	nonzero := false
	for _, v := range ps[0].Data {
		nonzero = nonzero || v != 0
	}
	if !nonzero {
		t.Error("qkv weight not loaded")
	}
	if _, err := LoadPTH("../../testdata/state/malicious.pth", []string{""}, ps); err == nil {
		t.Error("malicious pickle loaded")
	}
}

// TestStateShape saves a point-wise Conv1d weight in PyTorch's out×in×1
// shape and loads it back from that shape and from out×in.
func TestStateShape(t *testing.T) {
	conv := func() nn.Params {
		w := nn.NewParam("encoder.first_conv.0.weight", 4, 3)
		w.StateShape = []int{4, 3, 1}
		for i := range w.Data {
			w.Data[i] = float32(i)
		}
		return nn.Params{w}
	}
	d := Dict(conv(), nil, nil)
	if got := d.Tensors["encoder.first_conv.0.weight"].Shape; !slices.Equal(got, []int{4, 3, 1}) {
		t.Errorf("saved as %v, want [4 3 1]", got)
	}
	dir := t.TempDir()
	for _, shape := range [][]int{{4, 3, 1}, {4, 3}} {
		ps := conv()
		ps[0].StateShape = shape
		path := filepath.Join(dir, "ck.safetensors")
		if err := Save(path, ps, nil, nil); err != nil {
			t.Fatal(err)
		}
		back := conv()
		clear(back[0].Data)
		if _, _, _, err := Load(path, back); err != nil {
			t.Fatalf("file shape %v: %v", shape, err)
		}
		if !slices.Equal(back[0].Data, ps[0].Data) {
			t.Errorf("file shape %v: loaded %v", shape, back[0].Data)
		}
	}
}

// TestStateShapeConv2d: a Conv2d patch embedding kept as out×(in·k·k)
// saves and loads in PyTorch's out×in×k×k; another 4-D shape is refused.
func TestStateShapeConv2d(t *testing.T) {
	patch := func() nn.Params {
		w := nn.NewParam("patch_embed.proj.weight", 4, 3*2*2)
		w.StateShape = []int{4, 3, 2, 2}
		for i := range w.Data {
			w.Data[i] = float32(i)
		}
		return nn.Params{w}
	}
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	if err := Save(path, patch(), nil, nil); err != nil {
		t.Fatal(err)
	}
	back := patch()
	clear(back[0].Data)
	if _, _, _, err := Load(path, back); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back[0].Data, patch()[0].Data) {
		t.Errorf("loaded %v", back[0].Data)
	}
	other := patch()
	other[0].StateShape = []int{4, 3, 1, 4}
	if _, _, _, err := Load(path, other); err == nil || !strings.Contains(err.Error(), "[4 3 2 2] in the checkpoint") {
		t.Errorf("a 4×3×2×2 weight loaded into a 4×3×1×4 one: %v", err)
	}
}

// TestLoadRefusesNonFinite: a weight that is NaN or infinite (a damaged
// file without a checksum, or a diverged run) is an error naming the key.
func TestLoadRefusesNonFinite(t *testing.T) {
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		ps := model(1)
		ps[2].Data[1] = v
		d := Dict(ps, nil, nil)
		_, err := LoadDict(d, model(2))
		if err == nil || !strings.Contains(err.Error(), ps[2].Name) || !strings.Contains(err.Error(), "element 1") {
			t.Errorf("%v: error %v", v, err)
		}
	}
}
