package backbone

import (
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/internal/goldentest"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/pointcloud"
)

// Golden fixtures from scripts/golden_vit_mae.py: MAE's
// MaskedAutoencoderViT written in PyTorch (scripts/ref/vit_mae.py).

type maeCfgJSON struct {
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
}

func (c maeCfgJSON) config(normPix bool) MAEConfig {
	l := (c.ImgSize / c.PatchSize) * (c.ImgSize / c.PatchSize)
	return MAEConfig{ImageSize: c.ImgSize, PatchSize: c.PatchSize, InChans: c.InChans, Width: c.EmbedDim, Depth: c.Depth,
		Heads: c.Heads, DecoderWidth: c.DecoderDim, DecoderDepth: c.DecoderDepth, DecoderHeads: c.DecoderHeads,
		MLPRatio: 4, Eps: 1e-6, MaskRatio: float64(c.Masked) / float64(l), NormPixLoss: normPix}
}

type maeCase struct {
	NormPix         bool               `json:"norm_pix_loss"`
	Loss            float64            `json:"loss"`
	Pred            gTensor            `json:"pred"`
	Mask            []int              `json:"mask"`
	Grads           map[string]gTensor `json:"grads"`
	Config          maeCfgJSON         `json:"config"`
	IDsShuffle      []int              `json:"ids_shuffle"`
	Images          gTensor            `json:"images"`
	StateKeys       []string           `json:"state_keys"`
	NormWeightKeys  []string           `json:"norm_weight_keys"`
	ParamChecks     map[string]gTensor `json:"param_checks"`
	PosEmbed        gTensor            `json:"pos_embed"`
	DecoderPosEmbed gTensor            `json:"decoder_pos_embed"`
}

type maeGolden struct {
	Cases struct {
		Tiny      maeCase         `json:"tiny"`
		NormPix   maeCase         `json:"tiny_norm_pix"`
		PTH       string          `json:"pth"`
		PTHEnc    string          `json:"pth_encoder"`
		SinCosRaw json.RawMessage `json:"sincos"`
	} `json:"cases"`
}

func loadMAEGolden(t *testing.T) maeGolden {
	t.Helper()
	var g maeGolden
	goldentest.Read(t, "vit_mae.json", &g)
	return g
}

// tinyMAE builds the fixture's model with its weights (splitmix, then the
// sin-cos tables, which the Go constructor already holds).
func tinyMAE(t *testing.T, c maeCase, normPix bool) *ViTMAE {
	t.Helper()
	m, err := NewViTMAE(c.Config.config(normPix), pointcloud.NewRand(0))
	if err != nil {
		t.Fatal(err)
	}
	pos := slices.Clone(m.PosEmbed.Data)
	dpos := slices.Clone(m.DecPosEmbed.Data)
	goldentest.SplitmixInit(m.Params(), normSet(c.NormWeightKeys))
	copy(m.PosEmbed.Data, pos)
	copy(m.DecPosEmbed.Data, dpos)
	return m
}

func TestGoldenViTMAE(t *testing.T) {
	g := loadMAEGolden(t).Cases
	tiny := g.Tiny
	cfg := tiny.Config
	l := (cfg.ImgSize / cfg.PatchSize) * (cfg.ImgSize / cfg.PatchSize)
	// The mask: ids_shuffle's first L−masked entries are visible.
	mask := make([]bool, cfg.B*l)
	for i := 0; i < cfg.B; i++ {
		for k, j := range tiny.IDsShuffle[i*l : (i+1)*l] {
			mask[i*l+j] = k >= l-cfg.Masked
		}
	}
	for i, v := range tiny.Mask {
		if mask[i] != (v == 1) {
			t.Fatalf("mask %v from ids_shuffle, MAE's %v", mask, tiny.Mask)
		}
	}
	im := &Images{B: cfg.B, H: cfg.ImgSize, W: cfg.ImgSize, Pix: goldentest.F32(tiny.Images.Data)}
	if want := goldenImages(cfg.B, cfg.ImgSize, cfg.ImgSize).Pix; !slices.Equal(im.Pix, want) {
		t.Fatal("fixture images differ from the formula")
	}
	for _, c := range []maeCase{tiny, g.NormPix} {
		name := "norm_pix_loss=false"
		if c.NormPix {
			name = "norm_pix_loss=true"
		}
		t.Run(name, func(t *testing.T) {
			m := tinyMAE(t, tiny, c.NormPix)
			var names []string
			for _, p := range m.Params() {
				names = append(names, p.Name)
			}
			if !slices.Equal(names, tiny.StateKeys) {
				t.Fatalf("state-dict order differs from MAE's:\n got %v\nwant %v", names, tiny.StateKeys)
			}
			byName := goldentest.ByName(m.Params())
			goldentest.CheckFirst(t, "init", byName, tiny.ParamChecks, nil)
			if !slices.Equal(m.PosEmbed.Data, goldentest.F32(tiny.PosEmbed.Data)) ||
				!slices.Equal(m.DecPosEmbed.Data, goldentest.F32(tiny.DecoderPosEmbed.Data)) {
				t.Error("sin-cos position tables differ from MAE's")
			}
			tp := nn.NewTape(true)
			out, err := m.Forward(tp, im, mask, pointcloud.NewRand(1))
			if err != nil {
				t.Fatal(err)
			}
			if out.Masked != cfg.Masked {
				t.Errorf("%d masked patches per image, want %d", out.Masked, cfg.Masked)
			}
			lossErr := math.Abs(float64(out.Loss.Data[0])-c.Loss) / math.Abs(c.Loss)
			if lossErr > 1e-4 {
				t.Errorf("loss %v, want %v", out.Loss.Data[0], c.Loss)
			}
			pred := out.Patches()
			goldentest.CloseTo(t, "pred", pred, c.Pred, 1e-4)
			tp.Backward(out.Loss)
			worst, worstKey := 0.0, ""
			for k, want := range c.Grads {
				p, ok := byName[k]
				if !ok || p.Grad == nil {
					t.Errorf("no gradient for %s", k)
					continue
				}
				goldentest.CloseTo(t, "grad "+k, p.Grad, want, 1e-4)
				if w := worstRel(p.Grad, want); w > worst {
					worst, worstKey = w, k
				}
			}
			if n := len(m.Params().Trainable()); len(c.Grads) != n {
				t.Errorf("fixture has %d gradients, the model %d trainable parameters", len(c.Grads), n)
			}
			for _, p := range []*nn.Param{m.PosEmbed, m.DecPosEmbed} {
				if p.Grad != nil && slices.ContainsFunc(p.Grad, func(v float32) bool { return v != 0 }) {
					t.Errorf("the fixed %s got a gradient", p.Name)
				}
			}
			t.Logf("loss %.9g (PyTorch %.12g, relative error %.2g); pred error %.2g; worst gradient error %.2g (%s)",
				out.Loss.Data[0], c.Loss, lossErr, worstRel(pred, c.Pred), worst, worstKey)
		})
	}
}

// TestSinCos2D checks MAE's tables for mae_vit_base_patch16 (14×14 grid,
// 768 and 512 wide) bit for bit, and a small one value by value.
func TestSinCos2D(t *testing.T) {
	var raw struct {
		Small gTensor `json:"4x3"`
		W768  struct {
			Grid   int       `json:"grid"`
			SHA256 string    `json:"sha256"`
			Row1   []float64 `json:"row1"`
			Row200 []float64 `json:"row200"`
		} `json:"768"`
		W512 struct {
			Grid   int       `json:"grid"`
			SHA256 string    `json:"sha256"`
			Row1   []float64 `json:"row1"`
			Row200 []float64 `json:"row200"`
		} `json:"512"`
	}
	if err := json.Unmarshal(loadMAEGolden(t).Cases.SinCosRaw, &raw); err != nil {
		t.Fatal(err)
	}
	small, err := SinCos2D(4, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(small, goldentest.F32(raw.Small.Data)) {
		t.Errorf("4-wide 3×3 table %v, MAE's %v", small, raw.Small.Data)
	}
	for _, c := range []struct {
		dim          int
		grid         int
		sha          string
		row1, row200 []float64
	}{{768, raw.W768.Grid, raw.W768.SHA256, raw.W768.Row1, raw.W768.Row200}, {512, raw.W512.Grid, raw.W512.SHA256, raw.W512.Row1, raw.W512.Row200}} {
		tab, err := SinCos2D(c.dim, c.grid)
		if err != nil {
			t.Fatal(err)
		}
		if len(tab) != (1+c.grid*c.grid)*c.dim {
			t.Fatalf("%d-wide table of %d values", c.dim, len(tab))
		}
		if got := sha256F32(tab); got != c.sha {
			t.Errorf("%d-wide table: SHA-256 %s, MAE's %s (row 1 %v, want %v)", c.dim, got, c.sha, tab[c.dim:c.dim+8], c.row1)
		}
		last := tab[196*c.dim+c.dim/2-4 : 196*c.dim+c.dim/2+4]
		if !slices.Equal(last, goldentest.F32(c.row200)) {
			t.Errorf("%d-wide table, last row around the middle %v, want %v", c.dim, last, c.row200)
		}
		if slices.ContainsFunc(tab[:c.dim], func(v float32) bool { return v != 0 }) {
			t.Errorf("%d-wide table: the cls row is not zero", c.dim)
		}
	}
	for _, bad := range [][2]int{{6, 2}, {0, 2}, {8, 0}} {
		if _, err := SinCos2D(bad[0], bad[1]); err == nil {
			t.Errorf("SinCos2D(%d, %d) accepted", bad[0], bad[1])
		}
	}
}

// TestViTMAELoadsAsViT: the fixture's MAE state dict under "model" (as
// MAE's main_pretrain.py saves it), its encoder alone (as MAE's released
// mae_pretrain_vit_base.pth), and a ViTMAE saved by pcx (all of it, and its
// BackboneParams alone) load into backbone.ViT with every backbone weight
// present and equal; the decoder is unexpected, the head missing. The whole
// ones load back into a ViTMAE whole, the encoders only partially.
func TestViTMAELoadsAsViT(t *testing.T) {
	g := loadMAEGolden(t).Cases
	tiny := g.Tiny
	m := tinyMAE(t, tiny, true)
	ref := goldentest.ByName(m.Params())
	dir := t.TempDir()
	pth := writeB64(t, "checkpoint-799.pth", g.PTH)
	pthEnc := writeB64(t, "mae_pretrain_vit_base.pth", g.PTHEnc)
	all, enc := filepath.Join(dir, "mae.safetensors"), filepath.Join(dir, "encoder.safetensors")
	if err := checkpoint.Save(all, m.Params(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.Save(enc, m.BackboneParams(), nil, nil); err != nil {
		t.Fatal(err)
	}
	var decoder []string
	for _, k := range tiny.StateKeys {
		if strings.HasPrefix(k, "decoder_") || k == "mask_token" {
			decoder = append(decoder, k)
		}
	}
	slices.Sort(decoder)
	for _, f := range []struct {
		path       string
		unexpected []string
	}{{pth, decoder}, {pthEnc, nil}, {all, decoder}, {enc, nil}} {
		v, err := NewViT(m.Cfg.Encoder(5), pointcloud.NewRand(3))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := LoadViTWeights(f.path, v.Params(), LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f.path), err)
		}
		n := 0
		for _, p := range v.Params() {
			if !IsViTPretrained(p.Name) {
				continue
			}
			n++
			if !slices.Equal(p.Data, ref[p.Name].Data) {
				t.Errorf("%s: %s differs from the ViTMAE's", filepath.Base(f.path), p.Name)
			}
		}
		if n != len(m.BackboneParams()) {
			t.Errorf("%d pretrained ViT weights, the MAE encoder has %d", n, len(m.BackboneParams()))
		}
		if !slices.Equal(rep.Missing, []string{"head.weight", "head.bias"}) {
			t.Errorf("%s: missing %v", filepath.Base(f.path), rep.Missing)
		}
		if got := slices.Sorted(slices.Values(rep.Unexpected)); !slices.Equal(got, f.unexpected) {
			t.Errorf("%s: unexpected %v, want %v", filepath.Base(f.path), got, f.unexpected)
		}
	}
	// Back into a ViTMAE: the .pth whole; the encoder alone only partially.
	for _, f := range []struct {
		path    string
		partial bool
	}{{pth, false}, {pthEnc, true}, {all, false}, {enc, true}} {
		m2, err := NewViTMAE(m.Cfg, pointcloud.NewRand(4))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m2.LoadWeights(f.path, LoadOptions{}); (err != nil) != f.partial {
			t.Errorf("%s: load error %v", filepath.Base(f.path), err)
		}
		rep, err := m2.LoadWeights(f.path, LoadOptions{Partial: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m2.Params() {
			loaded := !slices.Contains(rep.Missing, p.Name)
			if loaded && !slices.Equal(p.Data, ref[p.Name].Data) {
				t.Errorf("%s: %s differs after loading", filepath.Base(f.path), p.Name)
			}
			if !loaded && !f.partial {
				t.Errorf("%s: %s not loaded", filepath.Base(f.path), p.Name)
			}
		}
	}
}

func TestViTMAEConfigs(t *testing.T) {
	base := MAEBaseConfig()
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	if base.Patches() != 196 || base.NumMask() != 147 || base.PatchValues() != 768 {
		t.Errorf("base: %d patches, %d masked, %d values per patch; want 196, 147, 768", base.Patches(), base.NumMask(), base.PatchValues())
	}
	for _, c := range []struct {
		cfg          MAEConfig
		width, patch int
		l, masked    int
	}{{MAELargeConfig(), 1024, 16, 196, 147}, {MAEHugeConfig(), 1280, 14, 256, 192}} {
		if err := c.cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		if c.cfg.Width != c.width || c.cfg.PatchSize != c.patch || c.cfg.Patches() != c.l || c.cfg.NumMask() != c.masked ||
			c.cfg.DecoderWidth != 512 || c.cfg.DecoderDepth != 8 || c.cfg.DecoderHeads != 16 {
			t.Errorf("preset %+v: %d patches, %d masked", c.cfg, c.cfg.Patches(), c.cfg.NumMask())
		}
	}
	// Parameter counts from the layer sizes (buffers, the fixed position
	// tables, excluded as MAE's requires_grad=False parameters are): MAE's
	// ViT-B encoder is timm's vit_base_patch16_224 without head (85,798,656
	// with its 151,296-value pos_embed, which MAE freezes).
	block := func(c int) int { return 4*c + 3*c*c + 3*c + c*c + c + 4*c*c + 4*c + 4*c*c + c }
	c, d := 768, 512
	enc := c + 3*16*16*c + c + 12*block(c) + 2*c
	dec := d + c*d + d + 8*block(d) + 2*d + d*768 + 768
	if enc+197*c != 85798656 {
		t.Fatalf("encoder formula gives %d", enc+197*c)
	}
	tiny := MAETinyConfig()
	for _, cfg := range []MAEConfig{tiny, base} {
		if cfg.ImageSize > 100 && testing.Short() {
			continue
		}
		m, err := NewViTMAE(cfg, pointcloud.NewRand(0))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Width == 768 {
			if got := m.Params().Count(); got != enc+dec {
				t.Errorf("base: %d trainable values, want %d", got, enc+dec)
			}
			if got := m.BackboneParams().Count(); got != enc {
				t.Errorf("base encoder: %d trainable values, want %d", got, enc)
			}
		}
		// MAE's init: the sin-cos tables, frozen; cls and mask tokens small.
		tab, _ := SinCos2D(cfg.Width, cfg.Grid())
		if !slices.Equal(m.PosEmbed.Data, tab) || m.PosEmbed.Trainable || m.DecPosEmbed.Trainable {
			t.Error("pos_embed is not the frozen sin-cos table")
		}
		if n := m.Params().Unfreeze(); n != len(m.Params())-2 || m.PosEmbed.Trainable {
			t.Errorf("unfreezing everything reached %d parameters, pos_embed trainable %v", n, m.PosEmbed.Trainable)
		}
		b := m.Blocks[0].Attn.QKV.Bias
		if b == nil || slices.ContainsFunc(b.Data, func(v float32) bool { return v != 0 }) {
			t.Error("qkv bias missing or not zero")
		}
	}
	bad := map[string]func(*MAEConfig){
		"heads":        func(c *MAEConfig) { c.Heads = 5 },
		"decoderHeads": func(c *MAEConfig) { c.DecoderHeads = 3 },
		"width%4":      func(c *MAEConfig) { c.Width, c.Heads = 6, 3 },
		"patch":        func(c *MAEConfig) { c.PatchSize = 3 },
		"ratio0":       func(c *MAEConfig) { c.MaskRatio = 0 },
		"ratio1":       func(c *MAEConfig) { c.MaskRatio = 1 },
		"nan":          func(c *MAEConfig) { c.MaskRatio = math.NaN() },
		"depth":        func(c *MAEConfig) { c.DecoderDepth = 0 },
	}
	for name, f := range bad {
		cfg := MAETinyConfig()
		f(&cfg)
		if _, err := NewViTMAE(cfg, pointcloud.NewRand(0)); err == nil {
			t.Errorf("bad config (%s) accepted", name)
		}
	}
}

// TestViTMAEMask checks DrawMask (ratio 0.75 of 4 patches: 3 each, random
// subsets) and Forward's refusal of impossible masks and images.
func TestViTMAEMask(t *testing.T) {
	m, err := NewViTMAE(MAETinyConfig(), pointcloud.NewRand(0))
	if err != nil {
		t.Fatal(err)
	}
	r := pointcloud.NewRand(5)
	seen := map[int]bool{}
	for trial := 0; trial < 20; trial++ {
		mask, err := m.DrawMask(3, r)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			k := 0
			for j, v := range mask[i*4 : (i+1)*4] {
				if v {
					k++
				} else {
					seen[j] = true
				}
			}
			if k != 3 {
				t.Fatalf("image %d masks %d patches, want 3", i, k)
			}
		}
	}
	if len(seen) != 4 {
		t.Errorf("visible patches over 60 draws: %v", seen)
	}
	im := goldenImages(2, 8, 8)
	for name, mask := range map[string][]bool{
		"short":   make([]bool, 7),
		"none":    make([]bool, 8),
		"all":     {true, true, true, true, true, true, true, true},
		"unequal": {true, true, true, false, true, true, false, false},
	} {
		if _, err := m.Forward(nn.NoGrad(), im, mask, nil); err == nil {
			t.Errorf("%s mask accepted", name)
		}
	}
	ok := []bool{true, false, true, true, false, true, true, true}
	for name, im := range map[string]*Images{
		"nil": nil, "size": goldenImages(2, 4, 4), "short": {B: 2, H: 8, W: 8, Pix: make([]float32, 10)},
	} {
		if _, err := m.Forward(nn.NoGrad(), im, ok, nil); err == nil {
			t.Errorf("%s images accepted", name)
		}
	}
	out, err := m.Forward(nn.NoGrad(), im, ok, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 0, 2, 3, 0, 1, 2, 3}; !slices.Equal(out.Order, want) {
		t.Errorf("order %v, want %v", out.Order, want)
	}
}

// TestPatchifyMAE checks MAE's patch layout against Patchify's: the same
// values, (row, column, channel) against (channel, row, column).
func TestPatchifyMAE(t *testing.T) {
	b, ch, h, w, p := 2, 3, 4, 6, 2
	pix := make([]float32, b*ch*h*w)
	for i := range pix {
		pix[i] = float32(i)
	}
	mae := PatchifyMAE(pix, b, ch, h, w, p)
	conv := Patchify(pix, b, ch, h, w, p)
	if len(mae) != len(conv) {
		t.Fatalf("%d and %d values", len(mae), len(conv))
	}
	for row := 0; row < len(mae)/(p*p*ch); row++ {
		for y := 0; y < p; y++ {
			for x := 0; x < p; x++ {
				for c := 0; c < ch; c++ {
					if a, b := mae[row*p*p*ch+(y*p+x)*ch+c], conv[row*p*p*ch+(c*p+y)*p+x]; a != b {
						t.Fatalf("patch %d (%d, %d, %d): %v, Patchify %v", row, y, x, c, a, b)
					}
				}
			}
		}
	}
	// Image 1, patch (1, 2) (row-major index 5), pixel (0, 1), channel 2.
	if got, want := mae[(1*6+5)*12+1*3+2], pix[1*72+2*24+2*6+4+1]; got != want {
		t.Errorf("value %v, want %v", got, want)
	}
}

// TestViTMAEDevice runs the golden case (norm_pix_loss true) with the
// parameters on a device (the CUDA emulator) and checks the loss and every
// gradient against the CPU's; the images and the fixed position tables
// stay on the host.
func TestViTMAEDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator: slow")
	}
	eng := openEmulator(t)
	tiny := loadMAEGolden(t).Cases.Tiny
	cfg := tiny.Config
	im := goldenImages(cfg.B, cfg.ImgSize, cfg.ImgSize)
	mask := make([]bool, len(tiny.Mask))
	for i, v := range tiny.Mask {
		mask[i] = v == 1
	}
	compareDevice(t, eng, func(dev nn.Device) (float32, map[string][]float32) {
		m := tinyMAE(t, tiny, true)
		return runOnDevice(t, dev, m.Params(), func(tp *nn.Tape) *nn.Tensor {
			out, err := m.Forward(tp, im, mask, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p := out.Patches(); len(p) != cfg.B*4*48 {
				t.Fatalf("%d predicted values", len(p))
			}
			return out.Loss
		})
	})
}
