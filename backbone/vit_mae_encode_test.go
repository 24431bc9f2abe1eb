package backbone

import (
	"math"
	"testing"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

// TestMAEEncode: Encode is the fine-tuning ViT's tokens after its final
// norm for the same weights (the encoder on whole images), cls first.
func TestMAEEncode(t *testing.T) {
	cfg := MAETinyConfig()
	m, err := NewViTMAE(cfg, pointcloud.NewRand(3))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewViT(cfg.Encoder(2), pointcloud.NewRand(9))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*nn.Param{}
	for _, p := range v.Params() {
		byName[p.Name] = p
	}
	for _, p := range m.BackboneParams() {
		q := byName[p.Name]
		if q == nil || len(q.Tensor.Host()) != len(p.Tensor.Host()) {
			t.Fatalf("the ViT lacks %s", p.Name)
		}
		copy(q.Tensor.Host(), p.Tensor.Host())
	}
	r := pointcloud.NewRand(5)
	im := &Images{B: 3, H: cfg.ImageSize, W: cfg.ImageSize, Pix: make([]float32, 3*3*cfg.ImageSize*cfg.ImageSize)}
	for i := range im.Pix {
		im.Pix[i] = float32(r.NormFloat64())
	}
	got, err := m.Encode(nn.NoGrad(), im)
	if err != nil {
		t.Fatal(err)
	}
	tp := nn.NoGrad()
	x, pos := v.Embed(tp, im)
	x = nn.Add(tp, x, pos)
	for _, b := range v.Blocks {
		x = b.Forward(tp, x, nil, nil)
	}
	want := v.Norm.Forward(tp, x).Host()
	g := got.Host()
	if len(g) != 3*(1+cfg.Patches())*cfg.Width || len(g) != len(want) {
		t.Fatalf("%d values, want %d", len(g), len(want))
	}
	for i := range g {
		if math.Abs(float64(g[i]-want[i])) > 1e-5 {
			t.Fatalf("value %d: %g, the ViT's %g", i, g[i], want[i])
		}
	}
	if _, err := m.Encode(nn.NoGrad(), &Images{B: 1, H: 4, W: 4, Pix: make([]float32, 48)}); err == nil {
		t.Error("Encode took images of the wrong size")
	}
}
