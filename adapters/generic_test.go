package adapters

import (
	"testing"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

// TestGenericAdaptersAnyWidth runs each generic adapter at Point-MAE's and
// ViT-B's widths: shapes kept, identity at initialisation for the plain
// forms, gradients for every parameter.
func TestGenericAdaptersAnyWidth(t *testing.T) {
	for _, dim := range []int{384, 768} {
		r := pointcloud.NewRand(uint64(dim))
		x := nn.New(2, 5, dim)
		for i := range x.Data {
			x.Data[i] = float32(r.NormFloat64())
		}
		sa := NewSerialAdapter("adapter", dim, 8, r)
		af := NewAdaptFormer("adaptmlp", dim, 8, 0.1, 0.1, r)
		s, err := NewSMoA("smoa", dim, 3, 4, 8, r)
		if err != nil {
			t.Fatal(err)
		}
		s.UsePerBlockRouters("smoa", 2, r)
		tp := nn.NewTape(true)
		y1 := sa.Forward(tp, x)
		y2 := af.Forward(tp, x, r)
		for i := range x.Data {
			if y1.Data[i] != x.Data[i] || y2.Data[i] != 0 {
				t.Fatalf("width %d: a new adapter is not the identity branch", dim)
			}
		}
		y3, l3 := (&SerialAdapterX{SMoA: s}).Forward(tp, x, 0)
		y4, l4 := (&AdaptFormerX{SMoA: s, Scale: 0.1}).Forward(tp, x, 1)
		for _, y := range []*nn.Tensor{y1, y2, y3, y4} {
			if y.Dim(0) != 2 || y.Dim(1) != 5 || y.Dim(2) != dim {
				t.Fatalf("width %d: output %v", dim, y.Shape)
			}
		}
		logits := nn.MeanTokens(tp, nn.Add(tp, nn.Add(tp, y1, y2), nn.Add(tp, y3, y4)))
		loss := nn.Add(tp, nn.Add(tp, nn.CrossEntropy(tp, logits, []int{0, 1}, 0), l3), l4)
		tp.Backward(loss)
		for _, p := range append(append(sa.Params(), af.Params()...), s.Params()...) {
			if p.Grad == nil {
				t.Errorf("width %d: %s got no gradient", dim, p.Name)
			}
		}
		if len(s.Params()) != 2+1+4*4 || s.Params()[0].Name != "smoa.reduction.0.weight" {
			t.Errorf("per-block routers: %d params, first %s", len(s.Params()), s.Params()[0].Name)
		}
	}
}
