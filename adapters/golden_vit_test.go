package adapters

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/internal/goldentest"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/pointcloud"
)

// Golden fixtures from scripts/golden_vit.py: pcx's ViT methods written in
// PyTorch (scripts/ref/vit.py) from the semantics in vit.go, weights from
// the shared splitmix formula.

type vitMethodCase struct {
	Config struct {
		ImgSize   int     `json:"img_size"`
		PatchSize int     `json:"patch_size"`
		InChans   int     `json:"in_chans"`
		EmbedDim  int     `json:"embed_dim"`
		Depth     int     `json:"depth"`
		Heads     int     `json:"num_heads"`
		MLPRatio  int     `json:"mlp_ratio"`
		Classes   int     `json:"num_classes"`
		Method    string  `json:"method"`
		Rank      int     `json:"rank"`
		Scale     float32 `json:"scale"`
		Dropout   float32 `json:"dropout"`
		SMoAHeads int     `json:"smoa_heads"`
		Experts   int     `json:"experts"`
		Top1      bool    `json:"top1"`
		SMoAOnly  bool    `json:"smoa_only"`
		NoSharing bool    `json:"no_sharing"`
	} `json:"config"`
	NormWeightKeys []string                     `json:"norm_weight_keys"`
	ParamFirsts    map[string]goldentest.Tensor `json:"param_firsts"`
	TrainableKeys  []string                     `json:"trainable_keys"`
	Logits         goldentest.Tensor            `json:"logits"`
	Loss           float64                      `json:"loss"`
	CELoss         float64                      `json:"ce_loss"`
	BalanceLoss    float64                      `json:"balance_loss"`
	ExpertCounts   [][]int                      `json:"expert_counts"`
	Grads          map[string]goldentest.Tensor `json:"grads"`
}

// vitGoldenLabels and vitGoldenBatch are the fixtures' labels and batch.
var vitGoldenLabels = []int{1, 3}

const vitGoldenBatch = 2

func loadViTMethodGolden(t *testing.T) map[string]vitMethodCase {
	t.Helper()
	var f struct {
		Methods map[string]vitMethodCase `json:"methods"`
	}
	goldentest.Read(t, "vit.json", &f)
	if len(f.Methods) != 8 {
		t.Fatalf("%d method cases in vit.json", len(f.Methods))
	}
	return f.Methods
}

// buildViTGolden builds the case's model with the splitmix weights.
func buildViTGolden(t *testing.T, c vitMethodCase) *ViTNet {
	t.Helper()
	k := c.Config
	cfg := ViTMethodConfig{ViTConfig: backbone.ViTConfig{ImageSize: k.ImgSize, PatchSize: k.PatchSize, InChans: k.InChans, Width: k.EmbedDim,
		Depth: k.Depth, Heads: k.Heads, MLPRatio: k.MLPRatio, Classes: k.Classes, Eps: 1e-6},
		Method: k.Method, Rank: k.Rank, Scale: k.Scale, Dropout: k.Dropout, SMoAHeads: k.SMoAHeads, Experts: k.Experts,
		Top1: k.Top1, Alpha: 0.01, SMoAOnly: k.SMoAOnly, NoSharing: k.NoSharing}
	n, err := NewViTNet(cfg, pointcloud.NewRand(0))
	if err != nil {
		t.Fatal(err)
	}
	norm := map[string]bool{}
	for _, key := range c.NormWeightKeys {
		norm[key] = true
	}
	goldentest.SplitmixInit(n.Params(), norm)
	return n
}

// vitGoldenImages are the fixtures' images (scripts/golden_vit.py).
func vitGoldenImages(b, h, w int) *backbone.Images {
	pix := make([]float32, b*3*h*w)
	for i := range pix {
		pix[i] = float32(math.Sin(0.173*float64(i)) + 0.5*math.Cos(0.031*float64(i)))
	}
	return &backbone.Images{B: b, H: h, W: w, Pix: pix}
}

// vitWorst is the largest difference over the reference's values or
// samples, relative to its largest magnitude (logged for the record).
func vitWorst(got []float32, want goldentest.Tensor) float64 {
	ref, idx := want.Data, []int(nil)
	if ref == nil {
		ref, idx = want.Sample, want.Idx
	}
	m, w := 1e-30, 0.0
	for _, v := range ref {
		m = math.Max(m, math.Abs(v))
	}
	if want.Data == nil && want.Numel > 0 {
		m = math.Max(m, math.Sqrt(want.SqSum/float64(want.Numel)))
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

// TestGoldenViTMethods: for each ViT method (and adapter-x with NoSharing
// and with SMoAOnly), in train mode with drop path and dropout 0, the
// logits, the loss (CE + α·balance), the expert counts and every trainable
// parameter's gradient match PyTorch's within 1e-4 relative; the trainable
// sets are the same and frozen parameters get no gradient.
func TestGoldenViTMethods(t *testing.T) {
	cases := loadViTMethodGolden(t)
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := cases[name]
		t.Run(name, func(t *testing.T) {
			n := buildViTGolden(t, c)
			byName := goldentest.ByName(n.Params())
			goldentest.CheckFirst(t, name, byName, c.ParamFirsts, nil)
			if len(byName) != len(c.ParamFirsts) {
				t.Errorf("model has %d state entries, PyTorch's %d", len(byName), len(c.ParamFirsts))
			}
			tunable := map[string]bool{}
			for _, k := range c.TrainableKeys {
				tunable[k] = true
				if p := byName[k]; p == nil || !p.Trainable {
					t.Errorf("%s should be tunable", k)
				}
			}
			for _, p := range n.Params() {
				if p.Trainable && !tunable[p.Name] {
					t.Errorf("%s is tunable, PyTorch's is frozen", p.Name)
				}
			}
			for _, s := range n.SMoA {
				s.Stats = &RoutingStats{}
			}
			tp := nn.NewTape(true)
			logits, bal := n.ForwardAux(tp, vitGoldenImages(vitGoldenBatch, c.Config.ImgSize, c.Config.ImgSize), pointcloud.NewRand(1))
			goldentest.CloseTo(t, "logits", logits.Data, c.Logits, 1e-4)
			worst := vitWorst(logits.Data, c.Logits)
			if (bal != nil) != (c.ExpertCounts != nil) {
				t.Fatalf("balance loss %v, PyTorch's has counts %v", bal, c.ExpertCounts)
			}
			if bal != nil {
				if d := math.Abs(float64(bal.Data[0])-c.BalanceLoss) / c.BalanceLoss; d > 1e-4 {
					t.Errorf("balance loss %v, want %v", bal.Data[0], c.BalanceLoss)
				}
				for blk, want := range c.ExpertCounts {
					s, idx := n.smoaFor(blk) // idx: the block as the SMoA counts it
					got := s.Stats.Counts[idx]
					for p := range want {
						if got[p] != want[p] {
							t.Errorf("block %d: expert counts %v, want %v", blk, got, want)
							break
						}
					}
				}
			}
			var loss *nn.Tensor
			if bal != nil {
				loss = daptxLoss(tp, logits, bal, n.Cfg.Alpha, vitGoldenLabels)
			} else {
				loss = nn.CrossEntropy(tp, logits, vitGoldenLabels, 0)
			}
			if d := math.Abs(float64(loss.Data[0])-c.Loss) / c.Loss; d > 1e-4 {
				t.Errorf("loss %v, want %v", loss.Data[0], c.Loss)
			} else {
				worst = math.Max(worst, d)
			}
			tp.Backward(loss)
			for k, want := range c.Grads {
				p := byName[k]
				if p == nil || p.Grad == nil {
					t.Errorf("no gradient for %s", k)
					continue
				}
				goldentest.CloseTo(t, "grad "+k, p.Grad, want, 1e-4)
				worst = math.Max(worst, vitWorst(p.Grad, want))
			}
			for _, p := range n.Params() {
				if !p.Trainable && p.Grad != nil {
					t.Errorf("frozen %s got a gradient", p.Name)
				}
			}
			t.Logf("%s: worst relative difference (logits, loss, %d gradients) %.3g", name, len(c.Grads), worst)
		})
	}
}

// vitExportFixture is what scripts/golden_vit.py --export writes after
// loading pcx's checkpoints into its PyTorch models.
const vitExportFixture = "../testdata/golden/vit_export.json"

// TestGoldenViTExport: for each method case, PyTorch's model loads the
// checkpoint pcx writes (the safetensors of checkpoint.Dict with optimiser
// buffers and metadata) with load_state_dict(strict=True) and gives pcx's
// eval-mode logits. The checkpoint must be byte for byte the one PyTorch
// checked. Regenerate:
//
//	PCX_GOLDEN_EXPORT=DIR go test ./adapters -run GoldenViTExport -count=1
//	/usr/bin/python3 scripts/golden_vit.py --export DIR
func TestGoldenViTExport(t *testing.T) {
	cases := loadViTMethodGolden(t)
	var verdicts struct {
		Cases map[string]struct {
			SHA256      string            `json:"export_sha256"`
			Strict      bool              `json:"strict_load"`
			Error       string            `json:"load_error"`
			ChecksumOK  bool              `json:"checksum_ok"`
			MaxRelDiff  float64           `json:"max_rel_diff"`
			TorchLogits goldentest.Tensor `json:"torch_logits"`
		} `json:"cases"`
	}
	dir := os.Getenv(goldentest.ExportDirEnv)
	if dir == "" {
		b, err := os.ReadFile(vitExportFixture)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &verdicts); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range cases {
		n := buildViTGolden(t, c)
		logits := n.Forward(nn.NoGrad(), vitGoldenImages(vitGoldenBatch, c.Config.ImgSize, c.Config.ImgSize), nil)
		var buf bytes.Buffer
		if err := state.EncodeSafetensors(&buf, checkpoint.Dict(n.Params(), goldentest.ExportOptimizer(n.Params()), map[string]string{"epoch": "3"})); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(buf.Bytes())
		if dir != "" {
			side, err := json.Marshal(map[string]any{"case": name, "pcx_logits": logits.Data, "shape": logits.Shape})
			if err != nil {
				t.Fatal(err)
			}
			file := "vit_" + name
			if err := os.WriteFile(filepath.Join(dir, file+".safetensors"), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, file+".json"), side, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		v, ok := verdicts.Cases["vit_"+name]
		if !ok {
			t.Errorf("%s has no case vit_%s", vitExportFixture, name)
			continue
		}
		if got := hex.EncodeToString(sum[:]); got != v.SHA256 {
			t.Errorf("%s: pcx now writes a checkpoint with SHA-256 %s, not the %s PyTorch checked", name, got, v.SHA256)
		}
		if !v.Strict {
			t.Errorf("%s: PyTorch's load_state_dict(strict=True) refused pcx's checkpoint: %s", name, v.Error)
		}
		if !v.ChecksumOK {
			t.Errorf("%s: the checkpoint's %s did not match", name, state.ChecksumKey)
		}
		if v.MaxRelDiff > 1e-4 {
			t.Errorf("%s: PyTorch's logits differ from pcx's by %g relative", name, v.MaxRelDiff)
		}
		goldentest.CloseTo(t, name+" pcx logits vs PyTorch's from pcx's checkpoint", logits.Data, v.TorchLogits, 1e-4)
		t.Logf("%s: exported, PyTorch's logits within %.3g relative", name, vitWorst(logits.Data, v.TorchLogits))
	}
	if dir != "" {
		t.Skipf("wrote the checkpoints to %s; run scripts/golden_vit.py --export %s", dir, dir)
	}
}

// TestViTNetLoadsViTWeights loads the fixtures' Google-layout .npz into
// every method's model: the backbone loads whole, and exactly the method's
// own pieces and the head are missing.
func TestViTNetLoadsViTWeights(t *testing.T) {
	var f struct {
		NPZ struct {
			NPZ string `json:"npz"`
		} `json:"npz"`
	}
	goldentest.Read(t, "vit.json", &f)
	raw, err := base64.StdEncoding.DecodeString(f.NPZ.NPZ)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ViT-B_16.npz")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	vit := backbone.ViTConfig{ImageSize: 8, PatchSize: 4, InChans: 3, Width: 12, Depth: 2, Heads: 3, MLPRatio: 4, Classes: 3, Eps: 1e-6}
	for _, method := range []string{"full", "linear", "adapter", "adaptformer", "adapter-x", "adaptformer-x"} {
		cfg, err := ViTMethodPreset(method, vit)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Rank = 4
		n, err := NewViTNet(cfg, pointcloud.NewRand(0))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := backbone.LoadViTWeights(path, n.Params(), backbone.LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		var want []string
		for _, p := range n.Params() {
			if !backbone.IsViTPretrained(p.Name) {
				want = append(want, p.Name)
			}
		}
		if fmt.Sprint(rep.Missing) != fmt.Sprint(want) || len(rep.Unexpected) != 4 {
			t.Errorf("%s: missing %v (want %v), unexpected %v", method, rep.Missing, want, rep.Unexpected)
		}
	}
}
