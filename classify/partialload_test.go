package classify

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
)

// TestBuildRefusesForeignCheckpoint: a --ckpt that matches none of the
// backbone's keys stops the run unless PartialLoad (--partial-load) is set.
func TestBuildRefusesForeignCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.safetensors")
	if err := checkpoint.Save(path, nn.Params{nn.NewParam("unrelated.weight", 2)}, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"full", "dapt-x"} {
		cfg := tinyConfig(t, method)
		cfg.Ckpt = path
		if _, err := Build(cfg, nil); err == nil || !strings.Contains(err.Error(), "loaded 0 of the backbone's") {
			t.Errorf("%s: error %v", method, err)
		}
		cfg.PartialLoad = true
		if _, err := Build(cfg, nil); err != nil {
			t.Errorf("%s, partial load: %v", method, err)
		}
	}
}
