package backbone

import (
	"slices"
	"testing"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

// TestPointMAEAsBackbone checks that the parts Point-MAE shows as a
// Backbone make up its model: the parameters in state-dict order, the
// embedding's token layout, and a replaced head that reads other features
// under the same names.
func TestPointMAEAsBackbone(t *testing.T) {
	cfg := Config{TransDim: 16, Depth: 2, Heads: 2, Classes: 3, NumGroup: 8, GroupSize: 4, NPoints: 64, HeadDropout: 0.5, PosEveryBlock: true}
	pm, err := NewPointMAE(cfg, pointcloud.NewRand(2))
	if err != nil {
		t.Fatal(err)
	}
	var bb Backbone = pm
	names := func(ps nn.Params) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	parts := bb.EmbedParams()
	for _, b := range bb.Layers() {
		parts = append(parts, b.Params()...)
	}
	parts = append(parts, bb.FinalNorm().Params()...)
	parts = append(parts, bb.Classifier().Params()...)
	if got, want := names(parts), names(bb.Params()); !slices.Equal(got, want) {
		t.Fatalf("parts list %v, Params %v", got, want)
	}
	if got := names(bb.ClsParams()); !slices.Equal(got, []string{"cls_token", "cls_pos"}) {
		t.Errorf("ClsParams %v", got)
	}
	if bb.Width() != 16 || len(bb.Layers()) != 2 {
		t.Errorf("width %d, %d blocks", bb.Width(), len(bb.Layers()))
	}

	r := pointcloud.NewRand(3)
	xyz := make([]float32, 2*64*3)
	for i := range xyz {
		xyz[i] = float32(r.NormFloat64())
	}
	g, err := pm.Group(xyz, 2, 64)
	if err != nil {
		t.Fatal(err)
	}
	x, pos := bb.Embed(nn.NewTape(false), g)
	for _, s := range [][]int{x.Shape, pos.Shape} {
		if !slices.Equal(s, []int{2, 1 + 8, 16}) {
			t.Errorf("embedding shape %v, want [2 9 16]", s)
		}
	}

	before := names(bb.Classifier().Params())
	bb.ReplaceHead(3*16, pointcloud.NewRand(4))
	if got := names(bb.Classifier().Params()); !slices.Equal(got, before) {
		t.Errorf("replaced head's names %v, want %v", got, before)
	}
	w := bb.Classifier().Params()[0]
	if w.Len() != 256*3*16 || pm.HeadInput != 3*16 {
		t.Errorf("replaced head reads %d features (weight %v)", pm.HeadInput, w.Shape)
	}
	logits := bb.Classifier().Forward(nn.NewTape(false), nn.FromData(make([]float32, 2*3*16), 2, 3*16), r)
	if !slices.Equal(logits.Shape, []int{2, 3}) {
		t.Errorf("logits %v", logits.Shape)
	}
}
