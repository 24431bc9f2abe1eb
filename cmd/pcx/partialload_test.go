package main

import "testing"

// TestTrainPartialLoadFlag: --partial-load reaches the run's configuration.
func TestTrainPartialLoadFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--data", "/d", "--ckpt", "x.pth"}, false},
		{[]string{"--data", "/d", "--ckpt", "x.pth", "--partial-load"}, true},
	} {
		cfg, err := configFor(t, "scanobjectnn", tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.PartialLoad != tc.want || cfg.Ckpt != "x.pth" {
			t.Errorf("%v: PartialLoad %v, Ckpt %q", tc.args, cfg.PartialLoad, cfg.Ckpt)
		}
	}
}
