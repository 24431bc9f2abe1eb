package adapters

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/pointcloud"
)

// TestInferenceReleaseKeepsValues: evaluation on a pooled tape that frees
// each block's activations as it goes (Tape.ReleaseSince, the encoder's and
// blocks' discards) gives the logits and balance loss of a tape that keeps
// everything, for every Point-MAE method.
func TestInferenceReleaseKeepsValues(t *testing.T) {
	bc := backbone.Config{TransDim: 24, Depth: 3, Heads: 2, Classes: 3, NumGroup: 8, GroupSize: 8, NPoints: 64}
	dc := DAPTConfig{Config: bc, Rank: 4, Head: HeadTokens{Cls: true, Prompt: "mean", Patch: "max"}}
	type model interface {
		ForwardAux(tp *nn.Tape, in backbone.Input, r *rand.Rand) (logits, aux *nn.Tensor)
		Group(xyz []float32, b, n int) (*backbone.Groups, error)
	}
	makers := map[string]func() (model, error){
		"full":   func() (model, error) { return NewFull(bc, pointcloud.NewRand(0)) },
		"linear": func() (model, error) { return NewLinear(bc, pointcloud.NewRand(0)) },
		"dapt":   func() (model, error) { return NewDAPT(dc, pointcloud.NewRand(0)) },
		"dapt-x": func() (model, error) {
			return NewDAPTX(DAPTXConfig{DAPTConfig: dc, SMoAHeads: 3, Experts: 4, Alpha: 0.01}, pointcloud.NewRand(0))
		},
	}
	for name, mk := range makers {
		t.Run(name, func(t *testing.T) {
			m, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			r := pointcloud.NewRand(1)
			xyz := make([]float32, 2*64*3)
			for i := range xyz {
				xyz[i] = float32(r.NormFloat64())
			}
			g, err := m.Group(xyz, 2, 64)
			if err != nil {
				t.Fatal(err)
			}
			want, wantAux := m.ForwardAux(nn.NoGrad(), g, nil)
			pool := nn.NewPool()
			tp := nn.NewTapePool(false, pool).Scope()
			got, gotAux := m.ForwardAux(tp, g, nil)
			if !slices.Equal(got.Data, want.Data) {
				t.Errorf("logits %v, without release %v", got.Data, want.Data)
			}
			if (wantAux == nil) != (gotAux == nil) || wantAux != nil && gotAux.Data[0] != wantAux.Data[0] {
				t.Errorf("balance loss %v, without release %v", gotAux, wantAux)
			}
			tp.Release()
		})
	}
}
