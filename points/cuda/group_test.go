package cuda

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pcx-dev/pcx/adapters"
	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/points"
	"github.com/pcx-dev/pcx/points/knn"
	"github.com/pcx-dev/pcx/train"
)

// TestGroupOnDevice: points.GroupOn on the engine (wrapped by Grouper) gives exactly the
// centres and neighbourhoods of knn.Group on the host (clouds of 300
// points, so FPS and kNN loop over several elements per thread), and a
// DAPT-X training forward and backward on device groups gives exactly the
// logits, loss and gradients it gives on the same groups uploaded from the
// host.
func TestGroupOnDevice(t *testing.T) {
	eng := emuEngine(t)
	const b, n, g, k = 3, 300, 16, 8
	r := rand.New(rand.NewPCG(7, 8))
	xyz := make([]float32, b*n*3)
	for i := range xyz {
		xyz[i] = float32(r.NormFloat64())
	}
	want, err := knn.Group(xyz, b, n, g, k, knn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tp := nn.NewTape(false)
	dg := points.GroupOn(tp, eng, xyz, b, n, g, k)
	if !slices.Equal(dg.DevCentres.Host(), want.Centres) || !slices.Equal(dg.DevNeighbourhoods.Host(), want.Neighbourhoods) {
		t.Fatal("device groups differ from knn.Group's")
	}
	tp.Release()
	if st := eng.Device().Allocator().Stats(); st.InUse != 0 {
		t.Errorf("%d bytes still in use after Release", st.InUse)
	}

	cfg := backbone.Config{TransDim: 24, Depth: 2, Heads: 2, Classes: 5, DropPath: 0.5, PosEveryBlock: true}
	cfg.NPoints = n
	cfg.NumGroup, cfg.GroupSize = g, k
	d, err := adapters.NewDAPTX(adapters.DAPTXConfig{DAPTConfig: adapters.DAPTConfig{Config: cfg, Rank: 4,
		Head: adapters.HeadTokens{Cls: true, Prompt: "mean", Patch: "max"}}, SMoAHeads: 3, Experts: 4, Alpha: 0.01},
		rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	d.Params().ToDevice(eng)
	defer d.Params().ToHost()
	labels := []int{0, 3, 1}
	step := func(onDevice bool) (logits, loss []float32, grads [][]float32) {
		d.Params().ZeroGrad()
		tp := nn.NewTape(true)
		defer tp.Release()
		gr := &points.Groups{B: b, G: want.G, M: want.K, Centres: want.Centres, Neighbourhoods: want.Neighbourhoods}
		if onDevice {
			gr = points.GroupOn(tp, eng, xyz, b, n, g, k)
		}
		lg, bal := d.ForwardAux(tp, gr, rand.New(rand.NewPCG(3, 4)))
		l := train.Output{Loss: nn.CrossEntropy(tp, lg, labels, 0),
			Aux: []train.Aux{{Name: "balance", Value: bal, Weight: d.Cfg.Alpha}}}.Objective(tp)
		tp.Backward(l)
		for _, p := range d.Params().Trainable() {
			grads = append(grads, p.HostGrad())
		}
		return lg.Host(), l.Host(), grads
	}
	hl, hloss, hg := step(false)
	dl, dloss, dgr := step(true)
	if !slices.Equal(hl, dl) || !slices.Equal(hloss, dloss) {
		t.Errorf("logits or loss differ: %v %v vs %v %v", hl, hloss, dl, dloss)
	}
	for i := range hg {
		if !slices.Equal(hg[i], dgr[i]) {
			t.Errorf("gradient %d differs", i)
		}
	}
	t.Logf("loss %g; %d gradients equal", dloss[0], len(dgr))
}
