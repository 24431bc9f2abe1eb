package train

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn"
)

// showingProbed is probedBlobs whose probe says how far it has come.
type showingProbed struct {
	*probedBlobs
	showing int // calls of ProbeShowing
	counted int // units reported done
}

func (p *showingProbed) ProbeWork() int { return 10 }

func (p *showingProbed) ProbeShowing(ctx context.Context, dev nn.Device, done func(n int)) ([]float64, error) {
	p.showing++
	for range 10 {
		done(1)
		p.counted++
	}
	return p.Probe(ctx, dev)
}

// TestShowingProber: with a progress writer the core runs a
// ShowingProber's ProbeShowing (its progress going to the writer), without
// one its Probe; the values recorded are the same either way.
func TestShowingProber(t *testing.T) {
	cfg := testConfig()
	a := &showingProbed{probedBlobs: newProbed(1)}
	var prog strings.Builder
	ra, err := Run(context.Background(), a, cfg, Options{Dir: t.TempDir(), Progress: &prog})
	if err != nil {
		t.Fatal(err)
	}
	if a.showing != cfg.Epochs || a.counted != 10*cfg.Epochs {
		t.Errorf("ProbeShowing ran %d times (%d units) in %d epochs", a.showing, a.counted, cfg.Epochs)
	}
	b := &showingProbed{probedBlobs: newProbed(1)}
	rb, err := Run(context.Background(), b, cfg, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if b.showing != 0 || b.calls != cfg.Epochs {
		t.Errorf("without a progress writer: %d ProbeShowing and %d Probe calls", b.showing, b.calls)
	}
	strip := func(ms []EpochMetrics) []EpochMetrics {
		out := make([]EpochMetrics, len(ms))
		for i, m := range ms {
			out[i] = m.WithoutTimes()
		}
		return out
	}
	if !reflect.DeepEqual(strip(ra.Epochs), strip(rb.Epochs)) {
		t.Errorf("metrics differ with and without progress:\n%+v\n%+v", ra.Epochs, rb.Epochs)
	}
}
