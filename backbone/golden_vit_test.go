package backbone

import (
	"encoding/base64"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/internal/goldentest"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

// Golden fixtures from scripts/golden_vit.py: timm's ViT written in PyTorch
// (scripts/ref/vit.py), weights from formulas both sides reproduce.

type vitGoldenConfig struct {
	ImgSize   int `json:"img_size"`
	PatchSize int `json:"patch_size"`
	InChans   int `json:"in_chans"`
	EmbedDim  int `json:"embed_dim"`
	Depth     int `json:"depth"`
	Heads     int `json:"num_heads"`
	MLPRatio  int `json:"mlp_ratio"`
	Classes   int `json:"num_classes"`
}

func (c vitGoldenConfig) vit() ViTConfig {
	return ViTConfig{ImageSize: c.ImgSize, PatchSize: c.PatchSize, InChans: c.InChans, Width: c.EmbedDim, Depth: c.Depth,
		Heads: c.Heads, MLPRatio: c.MLPRatio, Classes: c.Classes, Eps: 1e-6}
}

type vitGolden struct {
	NPZ struct {
		Config         vitGoldenConfig `json:"config"`
		NormWeightKeys []string        `json:"norm_weight_keys"`
		NPZKeys        []string        `json:"npz_keys"`
		NPZ            string          `json:"npz"`
		NPZDeflated    string          `json:"npz_deflated"`
		MAE            string          `json:"mae_pth"`
		TimmPTH        string          `json:"timm_pth"`
		Pos4x4         gTensor         `json:"pos_embed_4x4"`
	} `json:"npz"`
	Resample map[string]struct {
		Channels int     `json:"channels"`
		Old      int     `json:"old"`
		New      int     `json:"new"`
		Out      gTensor `json:"out"`
	} `json:"resample"`
	B16 struct {
		Config         vitGoldenConfig `json:"config"`
		NormWeightKeys []string        `json:"norm_weight_keys"`
		Logits         gTensor         `json:"logits"`
	} `json:"vit_b16"`
}

func loadViTGolden(t *testing.T) vitGolden {
	t.Helper()
	var g vitGolden
	goldentest.Read(t, "vit.json", &g)
	return g
}

// GoldenImages are the fixtures' images: pixel i of the flattened
// B×3×H×W batch is float32(sin(0.173 i) + 0.5 cos(0.031 i)).
func goldenImages(b, h, w int) *Images {
	pix := make([]float32, b*3*h*w)
	for i := range pix {
		pix[i] = float32(math.Sin(0.173*float64(i)) + 0.5*math.Cos(0.031*float64(i)))
	}
	return &Images{B: b, H: h, W: w, Pix: pix}
}

func normSet(keys []string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// TestGoldenViTB16 runs ViT-B/16 (224², 100 classes, "sin" weights) on one
// image in eval mode and compares the logits with PyTorch's.
func TestGoldenViTB16(t *testing.T) {
	if testing.Short() {
		t.Skip("ViT-B/16 forward")
	}
	g := loadViTGolden(t)
	m, err := NewViT(g.B16.Config.vit(), pointcloud.NewRand(0))
	if err != nil {
		t.Fatal(err)
	}
	goldentest.SinInit(m.Params(), normSet(g.B16.NormWeightKeys))
	logits := m.Forward(nn.NoGrad(), goldenImages(1, 224, 224), nil)
	goldentest.CloseTo(t, "ViT-B/16 logits", logits.Data, g.B16.Logits, 1e-4)
	t.Logf("ViT-B/16 logits: worst relative difference %.3g", worstRel(logits.Data, g.B16.Logits))
}

// TestGoldenViTResample compares ResamplePosEmbed with PyTorch's bicubic
// F.interpolate (timm's resample_abs_pos_embed): down 14→7 and 7→5, up
// 2→4 and 14→24.
func TestGoldenViTResample(t *testing.T) {
	g := loadViTGolden(t)
	if len(g.Resample) != 4 {
		t.Fatalf("%d resampling cases", len(g.Resample))
	}
	for name, c := range g.Resample {
		n := (1 + c.Old*c.Old) * c.Channels
		pos := make([]float32, n)
		for i := range pos {
			pos[i] = float32(math.Sin(0.37*float64(i)) + 0.3*math.Cos(1.1*float64(i)))
		}
		got := ResamplePosEmbed(pos, 1, c.Old, c.Old, c.New, c.New, c.Channels)
		if len(got) != (1+c.New*c.New)*c.Channels || !slices.Equal(got[:c.Channels], pos[:c.Channels]) {
			t.Errorf("%s: %d values, cls %v", name, len(got), got[:c.Channels])
		}
		goldentest.CloseTo(t, "resample "+name, got, c.Out, 1e-6)
		t.Logf("resample %s: worst relative difference %.3g", name, worstRel(got, c.Out))
	}
}

func writeB64(t *testing.T, name, b64 string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGoldenViTNPZ loads a Google-layout .npz (written by the script from a
// tiny ViT's splitmix weights, plain and deflated) and MAE's pre-training
// layout (.pth, the state dict under "model" with a decoder): every
// backbone weight must come out exactly as the formula gives it in timm's
// layout; pre_logits, head, the decoder and the mask token are unexpected,
// the head missing. Loaded into a model for twice the image size, the
// position embedding is resampled as PyTorch does.
func TestGoldenViTNPZ(t *testing.T) {
	g := loadViTGolden(t).NPZ
	cfg := g.Config.vit()
	want, err := NewViT(cfg, pointcloud.NewRand(0))
	if err != nil {
		t.Fatal(err)
	}
	goldentest.SplitmixInit(want.Params(), normSet(g.NormWeightKeys))
	ref := goldentest.ByName(want.Params())
	for _, f := range []struct{ name, b64 string }{{"ViT-B_16.npz", g.NPZ}, {"deflated.npz", g.NPZDeflated}, {"mae_pretrain_vit_base.pth", g.MAE}, {"timm.pth", g.TimmPTH}} {
		path := writeB64(t, f.name, f.b64)
		m, err := NewViT(cfg, pointcloud.NewRand(1))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := LoadViTWeights(path, m.Params(), LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		for _, p := range m.Params() {
			if strings.HasPrefix(p.Name, "head.") && f.name != "timm.pth" {
				continue
			}
			if !slices.Equal(p.Data, ref[p.Name].Data) {
				t.Errorf("%s: %s differs from the formula's", f.name, p.Name)
			}
		}
		wantMissing, wantUnexpected := []string{"head.weight", "head.bias"}, []string{"head/bias", "head/kernel", "pre_logits/bias", "pre_logits/kernel"}
		switch f.name {
		case "mae_pretrain_vit_base.pth":
			wantUnexpected = []string{"decoder_embed.weight", "decoder_norm.weight", "decoder_pos_embed", "mask_token"}
		case "timm.pth":
			wantMissing, wantUnexpected = nil, nil
		}
		if !slices.Equal(rep.Missing, wantMissing) {
			t.Errorf("%s: missing %v", f.name, rep.Missing)
		}
		got := slices.Sorted(slices.Values(rep.Unexpected))
		if !slices.Equal(got, wantUnexpected) {
			t.Errorf("%s: unexpected %v, want %v", f.name, got, wantUnexpected)
		}
	}
	// Into a model for 16-pixel images: a 4×4 grid from the file's 2×2.
	big := cfg
	big.ImageSize *= 2
	m, err := NewViT(big, pointcloud.NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	l, err := LoadViTCheckpoint(writeB64(t, "ViT-B_16.npz", g.NPZ), m.Params(), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(l.Resampled, "2×2 to a 4×4") {
		t.Errorf("resampling not reported: %q", l.Resampled)
	}
	goldentest.CloseTo(t, "resampled pos_embed", m.PosEmbed.Data, g.Pos4x4, 1e-6)
	t.Logf("resampled pos_embed on load: worst relative difference %.3g", worstRel(m.PosEmbed.Data, g.Pos4x4))
	if !slices.Equal(m.Blocks[1].MLP.FC2.Weight.Data, ref["blocks.1.mlp.fc2.weight"].Data) {
		t.Error("blocks.1.mlp.fc2.weight not loaded with a resampled pos_embed")
	}
}

// worstRel is the largest |got − want| over the reference's samples,
// relative to the reference's largest magnitude (logged for the record;
// goldentest.CloseTo decides).
func worstRel(got []float32, want gTensor) float64 {
	ref, idx := want.Data, []int(nil)
	if ref == nil {
		ref, idx = want.Sample, want.Idx
	}
	m, w := 1e-30, 0.0
	for _, v := range ref {
		m = math.Max(m, math.Abs(v))
	}
	for j, v := range ref {
		i := j
		if idx != nil {
			i = idx[j]
		}
		if i < len(got) {
			w = math.Max(w, math.Abs(float64(got[i])-v))
		}
	}
	return w / m
}
