package classify

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/train"
)

// A randomly initialised backbone starts its BatchNorm running variance at
// PyTorch's 1 while its patch encoder's features vary far less; the first
// epochs then evaluate with mostly that starting value (as PyTorch does),
// and the epoch line is followed by a note saying so.
func TestStaleBatchNormNote(t *testing.T) {
	cfg := tinyConfig(t, "dapt")
	cfg.Train.Epochs = 1
	var log bytes.Buffer
	dir := t.TempDir()
	if _, err := Train(context.Background(), cfg, tinyData(t), dir, RunOptions{Log: &log}); err != nil {
		t.Fatal(err)
	}
	out := log.String()
	i, j := strings.Index(out, "epoch   1/1"), strings.Index(out, "note: BatchNorm encoder.first_conv.1")
	if i < 0 || j < i || !strings.Contains(out[j:], "after 6 training steps") ||
		!strings.Contains(out[j:], "test accuracy can sit at chance") {
		t.Fatalf("no note on the BatchNorm statistics after the epoch line:\n%s", out)
	}
	// The cause, as the note states it: after 6 steps the encoder's
	// running variance still holds 0.9^6 of its start.
	tr, err := LoadCheckpoint(filepath.Join(dir, train.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	if v := tr.Model.MAE.Encoder.BN1.RunningVar.Data; slices.Min(v) < float32(math.Pow(0.9, 6)) {
		t.Errorf("encoder running variance %g after 6 steps from 1", slices.Min(v))
	}

	// The rule itself, on set statistics: a start of 1 with data variance
	// 1e-3 is mostly stale after 40 steps (0.9^40 = 0.015), no longer after
	// 80 (0.9^80 = 2.2e-4); a start near the data's (a pretrained
	// checkpoint) is never stale.
	for _, tc := range []struct {
		start float32
		steps int
		note  bool
	}{{1, 40, true}, {1, 80, false}, {1e-3, 6, false}} {
		m, err := Build(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, bn := range m.batchNorms() {
			for k := range bn.RunningVar.Data {
				bn.RunningVar.Data[k] = tc.start
			}
		}
		st := m.snapshotStats()
		for _, bn := range m.batchNorms() {
			left := math.Pow(0.9, float64(tc.steps))
			for k := range bn.RunningVar.Data {
				bn.RunningVar.Data[k] = float32(left*float64(tc.start) + (1-left)*1e-3)
			}
			bn.NumBatchesTracked.Data[0] += float32(tc.steps)
		}
		if got := m.staleStatsNote(st) != ""; got != tc.note {
			t.Errorf("start %g, %d steps: note %v, want %v", tc.start, tc.steps, got, tc.note)
		}
	}
}
