package adapters

import (
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/internal/rng"
	"github.com/pcx-dev/pcx/presets"
)

// vitB16 is the paper's backbone, sized for VTAB's CIFAR-100.
func vitB16(t *testing.T) backbone.ViTConfig {
	t.Helper()
	p, err := presets.LookupImageModel("vit-b16")
	if err != nil {
		t.Fatal(err)
	}
	return backbone.ViTConfig{ImageSize: p.ImageSize, PatchSize: p.PatchSize, InChans: 3, Width: p.Width, Depth: p.Depth,
		Heads: p.Heads, MLPRatio: p.MLPRatio, Classes: 100, DropPath: p.DropPath, Eps: 1e-6}
}

// TestViTMethodCounts pins the tunable parameters without the head on
// ViT-B/16 (the paper's Table 1 convention) for every method.
func TestViTMethodCounts(t *testing.T) {
	want := map[string]int{
		"full":   85_798_656, // ViT-B/16 without its head
		"linear": 0,
		// NOAH: 12 × (768·8+8 + 8·768+768); the paper: 0.15M.
		"adapter": 156_768,
		// 12 × (768·64+64 + 64·768+768); the paper: 1.26M.
		"adaptformer": 1_189_632,
		// SMoA 16,384 + 256 + 4·(256·64+64+64·256+256) = 148,992, plus
		// 12 × (norm2 1,536 + prompt generator 1,536); the paper: 0.17M.
		"adapter-x":     185_856,
		"adaptformer-x": 185_856,
	}
	for _, method := range presets.ImageMethodNames() {
		cfg, err := ViTMethodPreset(method, vitB16(t))
		if err != nil {
			t.Fatal(err)
		}
		n, err := NewViTNet(cfg, rng.New(1))
		if err != nil {
			t.Fatal(err)
		}
		head := n.Head.Params().Count()
		got := n.Trainable().Count() - head
		if got != want[method] {
			t.Errorf("%s: %d tunable parameters without the head, want %d", method, got, want[method])
		}
		if c := n.Params().Trainable().Count(); c != n.Trainable().Count() {
			t.Errorf("%s: %d parameters marked trainable, Trainable lists %d", method, c, n.Trainable().Count())
		}
	}
}
