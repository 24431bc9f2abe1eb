package check

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pcx-dev/pcx/adapters"
	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/points/knn"
	"github.com/pcx-dev/pcx/train"
)

// tinyTask is a train.Task on fixed random clouds for the small DAPT-X.
type tinyTask struct {
	m      *adapters.DAPTX
	clouds [2][][]float32
	labels [2][]int
}

type tinyBatch struct {
	g      *backbone.Groups
	labels []int
}

func (b *tinyBatch) Len() int { return len(b.labels) }

func (t *tinyTask) Params() nn.Params     { return t.m.Params() }
func (t *tinyTask) Len(s train.Split) int { return len(t.labels[s]) }
func (t *tinyTask) Batch(s train.Split, idx []int, r *rand.Rand) (train.Batch, error) {
	cfg := t.m.Cfg
	var xyz []float32
	var labels []int
	for _, i := range idx {
		xyz = append(xyz, t.clouds[s][i]...)
		labels = append(labels, t.labels[s][i])
	}
	g, err := knn.Group(xyz, len(idx), cfg.NPoints, cfg.NumGroup, cfg.GroupSize, knn.Options{Workers: 1})
	if err != nil {
		return nil, err
	}
	return &tinyBatch{&backbone.Groups{B: len(idx), G: g.G, M: g.K, Centres: g.Centres, Neighbourhoods: g.Neighbourhoods}, labels}, nil
}
func (t *tinyTask) Metrics() []train.Metric { return classify.Metrics() }
func (t *tinyTask) Step(tp *nn.Tape, b train.Batch, r *rand.Rand) train.Output {
	bt := b.(*tinyBatch)
	logits, balance := t.m.ForwardAux(tp, bt.g, r)
	return classify.StepOutput(tp, logits, bt.labels, balance, t.m.Cfg.Alpha)
}

func newTinyTask(t *testing.T) *tinyTask {
	cfg := adapters.DAPTXConfig{DAPTConfig: adapters.DAPTConfig{Config: smallBase(), Rank: 4,
		Head: adapters.HeadTokens{Cls: true, Prompt: "mean", Patch: "max"}}, SMoAHeads: 3, Experts: 4, Alpha: 0.01}
	m, err := adapters.NewDAPTX(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	tk := &tinyTask{m: m}
	r := rand.New(rand.NewPCG(3, 4))
	for s, n := range []int{8, 4} {
		for i := 0; i < n; i++ {
			c := make([]float32, cfg.NPoints*3)
			for k := range c {
				c[k] = float32(r.NormFloat64()) * float32(1+i%3)
			}
			tk.clouds[s] = append(tk.clouds[s], c)
			tk.labels[s] = append(tk.labels[s], i%cfg.Classes)
		}
	}
	return tk
}

// TestTrainRun: two epochs of train.Run (loader, steps with clipping and
// AdamW, evaluation, checkpoints) on the emulator give the CPU's metrics:
// the same accuracies and losses within 1e-3. Not 1e-4 as one step: some
// gradients are zero in exact arithmetic and hold rounding noise on both
// sides (see TestStepDAPTX), and AdamW moves each such element by about
// ±lr in the noise's direction, so the two runs' parameters part by ~lr
// on those elements; the test loss (through BatchNorm's running
// statistics) then differs by ~3e-4 after two epochs.
func TestTrainRun(t *testing.T) {
	if testing.Short() {
		t.Skip("emulator: slow")
	}
	eng := emuEngine(t)
	cfg := train.Config{Epochs: 2, BatchSize: 4, EvalBatch: 4, LR: 1e-3, WeightDecay: 0.05, ClipGrad: 10, Seed: 1, Workers: 1}
	var res [2]*train.Result
	for i, dev := range []nn.Device{nil, eng} {
		r, err := train.Run(context.Background(), newTinyTask(t), cfg, train.Options{Dir: t.TempDir(), Device: dev})
		if err != nil {
			t.Fatal(err)
		}
		res[i] = r
	}
	for e := range res[0].Epochs {
		c, g := res[0].Epochs[e], res[1].Epochs[e]
		get := func(m train.EpochMetrics, name string) float64 {
			v, ok := m.Get(name)
			if !ok {
				t.Fatalf("epoch %d has no %s", e+1, name)
			}
			return v
		}
		cTL, gTL := get(c, "train_loss"), get(g, "train_loss")
		cVL, gVL := get(c, "test_loss"), get(g, "test_loss")
		cTA, gTA := get(c, "train_acc"), get(g, "train_acc")
		cVA, gVA := get(c, "test_acc"), get(g, "test_acc")
		t.Logf("epoch %d: train loss %.7f / %.7f, test loss %.7f / %.7f, train acc %.3f / %.3f, test acc %.3f / %.3f (cpu / device)",
			e+1, cTL, gTL, cVL, gVL, cTA, gTA, cVA, gVA)
		if math.Abs(cTL-gTL) > 1e-3*cTL || math.Abs(cVL-gVL) > 1e-3*cVL || cTA != gTA || cVA != gVA {
			t.Errorf("epoch %d differs", e+1)
		}
	}
}
