package classify

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestTrainSubset: train_subset trains on that many of the training clouds
// (the log counts them), too many is
// refused naming the split's size, and a negative value is refused.
func TestTrainSubset(t *testing.T) {
	cfg := tinyConfig(t, "linear")
	cfg.Train.Epochs = 1
	cfg.TrainSubset = 20
	var log bytes.Buffer
	d := tinyData(t)
	_, err := Train(context.Background(), cfg, d, t.TempDir(), RunOptions{Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "20 train / 16 test") {
		t.Errorf("log does not count 20 training clouds:\n%s", log.String())
	}
	if d.Train.Len() != 48 {
		t.Errorf("the caller's data set changed: %d training clouds", d.Train.Len())
	}
	cfg.TrainSubset = 49
	if _, err := Train(context.Background(), cfg, d, t.TempDir(), RunOptions{}); err == nil ||
		!strings.Contains(err.Error(), "48 training samples") {
		t.Errorf("a subset larger than the split: %v", err)
	}
	cfg.TrainSubset = -1
	if err := cfg.Validate(); err == nil {
		t.Error("a negative train_subset was accepted")
	}
}
