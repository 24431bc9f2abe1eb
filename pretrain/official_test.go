package pretrain

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/internal/goldentest"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/train"
)

// Fixtures of scripts/golden_pretrain_ckpt.py: official-format pretraining
// checkpoints of Point-MAE and MAE written by PyTorch, and the script's
// verdicts on the files pcx writes back.

const (
	ckptFixture = "../testdata/golden/pretrain_ckpt.json"
	ckptCheck   = "../testdata/golden/pretrain_ckpt_check.json"
	ckptRedo    = "; regenerate: " + goldentest.ExportDirEnv + "=DIR go test ./nn/state ./pretrain -run GoldenPTH -count=1 && /usr/bin/python3 scripts/golden_pretrain_ckpt.py --check DIR"
)

type ckptEntry struct {
	Key    string `json:"key"`
	Shape  []int  `json:"shape"`
	SHA256 string `json:"sha256"`
	Int    *int64 `json:"int"`
}

type ckptGolden struct {
	Cases struct {
		PointMAE struct {
			Config struct {
				TransDim     int `json:"trans_dim"`
				Depth        int `json:"depth"`
				Heads        int `json:"num_heads"`
				DecoderDepth int `json:"decoder_depth"`
				DecoderHeads int `json:"decoder_num_heads"`
				B            int `json:"B"`
				N            int `json:"N"`
				NumGroup     int `json:"num_group"`
				GroupSize    int `json:"group_size"`
				Masked       int `json:"masked"`
			} `json:"config"`
			File    string      `json:"file"`
			Epoch   int         `json:"epoch"`
			Prefix  string      `json:"prefix"`
			Entries []ckptEntry `json:"entries"`
			Inputs  struct {
				Points    goldentest.Tensor `json:"points"`
				CenterIdx goldentest.Tensor `json:"center_idx"`
				KnnIdx    goldentest.Tensor `json:"knn_idx"`
				Mask      goldentest.Tensor `json:"mask"`
			} `json:"inputs"`
			Loss float64 `json:"loss"`
		} `json:"pointmae"`
		MAE struct {
			Config struct {
				ImgSize      int `json:"img_size"`
				PatchSize    int `json:"patch_size"`
				InChans      int `json:"in_chans"`
				EmbedDim     int `json:"embed_dim"`
				Depth        int `json:"depth"`
				Heads        int `json:"num_heads"`
				DecoderDim   int `json:"decoder_embed_dim"`
				DecoderDepth int `json:"decoder_depth"`
				DecoderHeads int `json:"decoder_num_heads"`
				B            int `json:"B"`
				Masked       int `json:"masked"`
			} `json:"config"`
			File    string      `json:"file"`
			Epoch   int         `json:"epoch"`
			Entries []ckptEntry `json:"entries"`
			Inputs  struct {
				Images goldentest.Tensor `json:"images"`
				Mask   goldentest.Tensor `json:"mask"`
			} `json:"inputs"`
			Loss float64 `json:"loss"`
		} `json:"mae"`
	} `json:"cases"`
}

func loadCkptGolden(t *testing.T) ckptGolden {
	t.Helper()
	var g ckptGolden
	goldentest.Read(t, "pretrain_ckpt.json", &g)
	return g
}

func sha256F32(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkEntry compares one tensor with the fixture's entry.
func checkEntry(t *testing.T, what string, e ckptEntry, shape []int, f32 []float32, i64 []int64) {
	t.Helper()
	if !slices.Equal(shape, e.Shape) && !(len(e.Shape) == 0 && slices.Equal(shape, []int{1})) {
		t.Errorf("%s %s: shape %v, want %v", what, e.Key, shape, e.Shape)
	}
	if e.Int != nil {
		got := int64(math.MinInt64)
		if len(i64) == 1 {
			got = i64[0]
		} else if len(f32) == 1 {
			got = int64(f32[0])
		}
		if got != *e.Int {
			t.Errorf("%s %s = %v%v, want %d", what, e.Key, f32, i64, *e.Int)
		}
	} else if sha256F32(f32) != e.SHA256 {
		t.Errorf("%s %s: values differ from the fixture's", what, e.Key)
	}
}

// checkModel compares every parameter and buffer of ps, in order, with the
// fixture's entries.
func checkModel(t *testing.T, what string, ps nn.Params, entries []ckptEntry) {
	t.Helper()
	if len(ps) != len(entries) {
		t.Fatalf("%s: model has %d entries, the fixture %d", what, len(ps), len(entries))
	}
	for i, p := range ps {
		if p.Name != entries[i].Key {
			t.Fatalf("%s: entry %d is %s, the fixture's %s", what, i, p.Name, entries[i].Key)
		}
		shape := p.Shape
		if p.StateShape != nil {
			shape = p.StateShape
		}
		checkEntry(t, what, entries[i], shape, p.Data, nil)
	}
}

// checkWritten reads back what WriteOfficial wrote: exactly {key: state
// dict, "epoch": epoch}, the state dict's tensors the fixture's, in order.
func checkWritten(t *testing.T, path, key string, epoch int, entries []ckptEntry) {
	t.Helper()
	obj, err := state.ReadPTH(path)
	if err != nil {
		t.Fatal(err)
	}
	top, ok := obj.(*state.OrderedDict)
	if !ok || !slices.Equal(top.Keys(), []any{key, "epoch"}) {
		t.Fatalf("written checkpoint is %v, want a dict of %s and epoch", obj, key)
	}
	if e, _ := top.Get("epoch"); e != epoch {
		t.Errorf("written epoch %v, want %d", e, epoch)
	}
	d, err := state.StateDict(obj, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Keys) != len(entries) {
		t.Fatalf("written state dict has %d entries, want %d", len(d.Keys), len(entries))
	}
	for i, e := range entries {
		if d.Keys[i] != e.Key {
			t.Fatalf("written entry %d is %s, want %s", i, d.Keys[i], e.Key)
		}
		ts := d.Tensors[e.Key]
		want := state.F32
		if e.Int != nil {
			want = state.I64
		}
		if ts.DType != want {
			t.Errorf("written %s is %v, want %v", e.Key, ts.DType, want)
		}
		checkEntry(t, "written", e, ts.Shape, ts.F32, ts.I64)
	}
}

// checkTorch exports the written file for scripts/golden_pretrain_ckpt.py
// when goldentest.ExportDirEnv is set, and checks the script's verdict:
// torch.load read exactly this file without a warning (and with
// weights_only=True), and the PyTorch model loaded it strictly and gave
// the fixture's loss and pcx's.
func checkTorch(t *testing.T, name, path, kind string, pcxLoss float32) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv(goldentest.ExportDirEnv); dir != "" {
		side, _ := json.Marshal(map[string]any{"kind": kind, "weights_only": true, "pcx_loss": pcxLoss})
		if err := os.WriteFile(filepath.Join(dir, name+".pth"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".json"), side, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var f struct {
		Files map[string]struct {
			SHA256      string   `json:"sha256"`
			OK          bool     `json:"ok"`
			Strict      bool     `json:"strict_load"`
			Warnings    []string `json:"warnings"`
			WeightsOnly bool     `json:"weights_only_ok"`
			Error       string   `json:"error"`
		} `json:"files"`
	}
	raw, err := os.ReadFile(ckptCheck)
	if err == nil {
		err = json.Unmarshal(raw, &f)
	}
	if err != nil {
		t.Fatalf("%v%s", err, ckptRedo)
	}
	v, ok := f.Files[name]
	if !ok {
		t.Fatalf("%s has no file %s%s", ckptCheck, name, ckptRedo)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != v.SHA256 {
		t.Errorf("%s: pcx now writes a file with SHA-256 %s, not the %s PyTorch checked%s", name, got, v.SHA256, ckptRedo)
	}
	if !v.OK || !v.Strict || len(v.Warnings) != 0 || !v.WeightsOnly {
		t.Errorf("%s: PyTorch's verdict: ok %v, strict load %v, warnings %q, weights_only %v, error %q",
			name, v.OK, v.Strict, v.Warnings, v.WeightsOnly, v.Error)
	}
}

func relErr(got float32, want float64) float64 { return math.Abs(float64(got)-want) / math.Abs(want) }

// TestGoldenPTHPointMAE: Point-MAE's official pretraining checkpoint
// (DataParallel's "module." prefixes, AdamW state, numpy metrics) loads
// into pcx's model with every tensor equal and PyTorch's loss; pcx writes
// it back in the official format with the same tensors, which PyTorch's
// Point-MAE loads strictly with the same loss, and which InitFrom loads
// again.
func TestGoldenPTHPointMAE(t *testing.T) {
	c := loadCkptGolden(t).Cases.PointMAE
	cfg := backbone.PretrainConfig{TransDim: c.Config.TransDim, Depth: c.Config.Depth, Heads: c.Config.Heads,
		DecoderDepth: c.Config.DecoderDepth, DecoderHeads: c.Config.DecoderHeads, NumGroup: c.Config.NumGroup,
		GroupSize: c.Config.GroupSize, NPoints: c.Config.N, MaskRatio: float64(c.Config.Masked) / float64(c.Config.NumGroup),
		MaskType: backbone.MaskRand}
	m, err := backbone.NewPointMAEPretrain(cfg, pointcloud.NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("../testdata/golden", c.File)
	obj, err := state.ReadPTH(src) // the fixture really is DataParallel-saved
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := state.StateDict(obj, "base_model"); err != nil || !strings.HasPrefix(raw.Keys[0], c.Prefix) || c.Prefix == "" {
		t.Fatalf("fixture's state dict: %v (prefix %q)", err, c.Prefix)
	}
	rep, err := InitFrom(m, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) != 0 || len(rep.Unexpected) != 0 {
		t.Fatalf("load report %v", rep)
	}
	checkModel(t, "loaded", m.Params(), c.Entries)

	in := c.Inputs
	g := backbone.GroupAt(goldentest.F32(in.Points.Data), c.Config.B, c.Config.N, goldentest.I32(in.CenterIdx.Data),
		goldentest.I32(in.KnnIdx.Data), c.Config.NumGroup, c.Config.GroupSize)
	mask := make([]bool, len(in.Mask.Data))
	for i, v := range in.Mask.Data {
		mask[i] = v != 0
	}
	out, err := m.Forward(nn.NoGrad(), g, mask, nil)
	if err != nil {
		t.Fatal(err)
	}
	loss := out.Loss.Data[0]
	if e := relErr(loss, c.Loss); e > 1e-4 {
		t.Errorf("loss %v, PyTorch's %v (relative error %.2g)", loss, c.Loss, e)
	}

	path := filepath.Join(t.TempDir(), OfficialFile)
	if err := WriteOfficial(path, m, c.Epoch); err != nil {
		t.Fatal(err)
	}
	checkWritten(t, path, "base_model", c.Epoch, c.Entries)
	m2, _ := backbone.NewPointMAEPretrain(cfg, pointcloud.NewRand(2))
	if _, err := InitFrom(m2, path); err != nil {
		t.Fatal(err)
	}
	checkModel(t, "reloaded", m2.Params(), c.Entries)
	checkTorch(t, "official_pointmae", path, "pointmae", loss)

	// pcx train --ckpt: the fixture and the written file load into the
	// fine-tuning model, every backbone weight the encoder's.
	for _, file := range []string{src, path} {
		ft, err := backbone.NewPointMAE(backbone.Config{TransDim: cfg.TransDim, Depth: cfg.Depth, Heads: cfg.Heads, Classes: 5,
			NumGroup: cfg.NumGroup, GroupSize: cfg.GroupSize, PosEveryBlock: true}, pointcloud.NewRand(3))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := backbone.LoadWeights(file, ft.Params(), backbone.LoadOptions{}); err != nil {
			t.Fatal(err)
		}
		sameWeights(t, file, ft.Params(), m.BackboneParams(), backbone.IsPretrained)
	}
}

// sameWeights checks that every parameter of got that pretrained selects
// equals the one of the same name in want.
func sameWeights(t *testing.T, what string, got, want nn.Params, pretrained func(string) bool) {
	t.Helper()
	byName := goldentest.ByName(want)
	n := 0
	for _, p := range got {
		if !pretrained(p.Name) {
			continue
		}
		n++
		if w := byName[p.Name]; w == nil || !slices.Equal(p.Data, w.Data) {
			t.Errorf("%s: %s differs from the pretraining model's", what, p.Name)
		}
	}
	if n == 0 {
		t.Errorf("%s: no pretrained weight compared", what)
	}
}

// TestGoldenPTHMAE: MAE's official checkpoint (optimizer, scaler and an
// argparse.Namespace of its arguments) loads into pcx's ViTMAE with every
// tensor equal and PyTorch's loss; pcx's written-back file has the same
// tensors, loads strictly into PyTorch's MAE with the same loss, and loads
// into pcx again.
func TestGoldenPTHMAE(t *testing.T) {
	c := loadCkptGolden(t).Cases.MAE
	l := (c.Config.ImgSize / c.Config.PatchSize) * (c.Config.ImgSize / c.Config.PatchSize)
	cfg := backbone.MAEConfig{ImageSize: c.Config.ImgSize, PatchSize: c.Config.PatchSize, InChans: c.Config.InChans,
		Width: c.Config.EmbedDim, Depth: c.Config.Depth, Heads: c.Config.Heads, DecoderWidth: c.Config.DecoderDim,
		DecoderDepth: c.Config.DecoderDepth, DecoderHeads: c.Config.DecoderHeads, MLPRatio: 4, Eps: 1e-6,
		MaskRatio: float64(c.Config.Masked) / float64(l)}
	m, err := backbone.NewViTMAE(cfg, pointcloud.NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("../testdata/golden", c.File)
	obj, err := state.ReadPTH(src)
	if err != nil {
		t.Fatal(err)
	}
	top := obj.(*state.OrderedDict)
	if args, _ := top.Get("args"); args == nil {
		t.Fatal("fixture has no args")
	} else if _, ok := args.(*state.Namespace); !ok {
		t.Fatalf("fixture's args read as %T", args)
	}
	rep, err := InitFrom(m, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) != 0 || len(rep.Unexpected) != 0 {
		t.Fatalf("load report %v", rep)
	}
	checkModel(t, "loaded", m.Params(), c.Entries)

	im := &backbone.Images{B: c.Config.B, H: c.Config.ImgSize, W: c.Config.ImgSize, Pix: goldentest.F32(c.Inputs.Images.Data)}
	mask := make([]bool, len(c.Inputs.Mask.Data))
	for i, v := range c.Inputs.Mask.Data {
		mask[i] = v != 0
	}
	out, err := m.Forward(nn.NoGrad(), im, mask, nil)
	if err != nil {
		t.Fatal(err)
	}
	loss := out.Loss.Data[0]
	if e := relErr(loss, c.Loss); e > 1e-4 {
		t.Errorf("loss %v, PyTorch's %v (relative error %.2g)", loss, c.Loss, e)
	}

	path := filepath.Join(t.TempDir(), OfficialFile)
	if err := WriteOfficial(path, m, c.Epoch); err != nil {
		t.Fatal(err)
	}
	checkWritten(t, path, "model", c.Epoch, c.Entries)
	m2, _ := backbone.NewViTMAE(cfg, pointcloud.NewRand(2))
	if _, err := InitFrom(m2, path); err != nil {
		t.Fatal(err)
	}
	checkModel(t, "reloaded", m2.Params(), c.Entries)
	checkTorch(t, "official_mae", path, "mae", loss)

	// The ViT loaders (pcx train --ckpt for images) read the fixture, its
	// argparse args included, and the written file.
	for _, file := range []string{src, path} {
		vit, err := backbone.NewViT(cfg.Encoder(5), pointcloud.NewRand(3))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := backbone.LoadViTWeights(file, vit.Params(), backbone.LoadOptions{}); err != nil {
			t.Fatal(err)
		}
		sameWeights(t, file, vit.Params(), m.BackboneParams(), backbone.IsViTPretrained)
	}
}

// TestInitFromErrors: a model of other sizes, a file without the model's
// weights and an unknown model type are errors naming the file.
func TestInitFromErrors(t *testing.T) {
	c := loadCkptGolden(t).Cases
	wide, err := backbone.NewPointMAEPretrain(backbone.PretrainConfig{TransDim: 32, Depth: 2, Heads: 2, DecoderDepth: 2,
		DecoderHeads: 2, NumGroup: 8, GroupSize: 4, NPoints: 32, MaskRatio: 0.25, MaskType: backbone.MaskRand}, pointcloud.NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	pm := filepath.Join("../testdata/golden", c.PointMAE.File)
	mae := filepath.Join("../testdata/golden", c.MAE.File)
	if _, err := InitFrom(wide, pm); err == nil || !strings.Contains(err.Error(), pm) {
		t.Errorf("wrong sizes: %v", err)
	}
	if _, err := InitFrom(wide, mae); err == nil || !strings.Contains(err.Error(), mae) {
		t.Errorf("MAE's checkpoint into Point-MAE: %v", err)
	}
	if _, err := InitFrom(other{}, pm); err == nil || !strings.Contains(err.Error(), pm) {
		t.Errorf("unknown model: %v", err)
	}
	if err := WriteOfficial(filepath.Join(t.TempDir(), "x.pth"), other{}, 1); err == nil {
		t.Error("WriteOfficial wrote an unknown model")
	}
}

type other struct{}

func (other) Params() nn.Params { return nil }

// TestWriteRun: a run's pretrain.pth records the 0-based index of its last
// epoch, as Point-MAE and MAE do, and -1 without epochs; it reloads.
func TestWriteRun(t *testing.T) {
	m, err := backbone.NewViTMAE(backbone.MAETinyConfig(), pointcloud.NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		res  *train.Result
		want int
	}{
		{&train.Result{Epochs: []train.EpochMetrics{{Epoch: 1}, {Epoch: 2}, {Epoch: 3}}}, 2},
		{&train.Result{}, -1},
		{nil, -1},
	} {
		dir := t.TempDir()
		if err := WriteRun(dir, m, tc.res); err != nil {
			t.Fatal(err)
		}
		obj, err := state.ReadPTH(filepath.Join(dir, OfficialFile))
		if err != nil {
			t.Fatal(err)
		}
		if e, _ := obj.(*state.OrderedDict).Get("epoch"); e != tc.want {
			t.Errorf("epoch %v, want %d", e, tc.want)
		}
		m2, _ := backbone.NewViTMAE(backbone.MAETinyConfig(), pointcloud.NewRand(2))
		if _, err := InitFrom(m2, filepath.Join(dir, OfficialFile)); err != nil {
			t.Fatal(err)
		}
		for i, p := range m2.Params() {
			if !slices.Equal(p.Data, m.Params()[i].Data) {
				t.Fatalf("%s differs after WriteRun and InitFrom", p.Name)
			}
		}
	}
}
