package enginebench

import (
	"testing"

	"github.com/pcx-dev/pcx/nn/blas"
)

func TestStepGradients(t *testing.T) {
	cfg := Config{Batch: 2, Tokens: 5, Dim: 12, Heads: 3, Hidden: 24, Adapter: 4, Classes: 3}
	m := New(cfg, 1)
	x, y := m.Input(2)
	loss := m.Step(x, y)
	if !(loss > 0) {
		t.Fatalf("loss %v", loss)
	}
	for _, p := range m.Blocks[0].Params() {
		if p.Grad != nil {
			t.Errorf("frozen %s got a gradient", p.Name)
		}
	}
	for _, p := range append(m.Adapters[0].Params(), m.Head.Params()...) {
		if p.Grad == nil {
			t.Errorf("trainable %s got no gradient", p.Name)
		}
	}
	if x.Grad == nil {
		t.Error("no gradient for the block input")
	}
	if f := Default().FLOPs(); f < 15e9 || f > 16e9 {
		t.Errorf("default workload %.3g FLOP, want about 15.5e9", f)
	}
}

func BenchmarkStep(b *testing.B) {
	m := New(Default(), 1)
	x, y := m.Input(2)
	m.Step(x, y)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Step(x, y)
	}
	b.ReportMetric(Default().FLOPs()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.Logf("blas: %s", blas.Backend())
}
