package main

import (
	"fmt"
	"math"
	"os"

	"github.com/pcx-dev/pcx/internal/memlimit"
	"github.com/pcx-dev/pcx/nn/blas"
	"github.com/pcx-dev/pcx/nn/enginebench"
	"github.com/pcx-dev/pcx/train"
	"github.com/urfave/cli/v2"
)

type engineReport struct {
	BLAS   string  `json:"blas"`
	Blocks int     `json:"blocks"`
	Tokens int     `json:"tokens"`
	MS     float64 `json:"ms"`
	GFLOPS float64 `json:"gflops"`
	GFLOP  float64 `json:"gflop_per_step"`
	PeakMB int     `json:"peak_mb"`
	Repeat int     `json:"repeat"`
	Loss   float32 `json:"loss"`
}

func runEngineBench(c *cli.Context) error {
	if err := blas.Use(c.String("blas")); err != nil {
		return err
	}
	cfg := enginebench.Default()
	for _, f := range []string{"repeat", "blocks", "tokens"} {
		if _, err := intAtLeast(c, f, 1); err != nil {
			return err
		}
	}
	cfg.Blocks, cfg.Tokens = c.Int("blocks"), c.Int("tokens")
	if err := memlimit.Check(fmt.Sprintf("engine bench of %d blocks and %d tokens", cfg.Blocks, cfg.Tokens), engineBytes(cfg)); err != nil {
		return err
	}
	m := enginebench.New(cfg, 1)
	x, y := m.Input(2)
	var loss float32
	d, err := medianTime(func() error {
		loss = m.Step(x, y)
		if math.IsNaN(float64(loss)) {
			return fmt.Errorf("engine bench: loss is NaN")
		}
		return nil
	}, c.Int("repeat"))
	if err != nil {
		return err
	}
	ms := d.Seconds() * 1e3
	r := engineReport{BLAS: blas.Backend(), Blocks: cfg.Blocks, Tokens: cfg.Tokens, MS: round4(ms), GFLOP: round4(cfg.FLOPs() / 1e9),
		GFLOPS: round4(cfg.FLOPs() / d.Seconds() / 1e9), PeakMB: train.PeakRSSMB(), Repeat: c.Int("repeat"), Loss: loss}
	if c.Bool("json") {
		return writeJSON(os.Stdout, r)
	}
	fmt.Printf("engine step, %d block(s), %d tokens (%s): %.1f ms, %.1f GFLOP/s, peak RSS %d MB\n",
		r.Blocks, r.Tokens, r.BLAS, r.MS, r.GFLOPS, r.PeakMB)
	return nil
}

// engineBytes is a lower bound on the bytes of the engine bench's model
// and one step: per block, the weights (4·D² + 2·D·hidden), the tokens'
// activations kept for the backward pass (at least 4·D + hidden per token)
// and the attention maps (heads·T² per sample).
func engineBytes(cfg enginebench.Config) int64 {
	d, h, t, b := int64(cfg.Dim), int64(cfg.Hidden), int64(cfg.Tokens), int64(cfg.Batch)
	perBlock := memlimit.Sum(memlimit.Bytes(4, d, d), memlimit.Bytes(2, d, h),
		memlimit.Bytes(b, t, memlimit.Sum(memlimit.Bytes(4, d), h)), memlimit.Bytes(b, int64(cfg.Heads), t, t))
	return memlimit.Bytes(4, int64(cfg.Blocks), perBlock)
}
