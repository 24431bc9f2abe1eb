package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/pcx-dev/pcx/internal/memlimit"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/points/fps"
	"github.com/pcx-dev/pcx/points/knn"
	"github.com/urfave/cli/v2"
)

// benchReport is what pcx bench prints with --json.
type benchReport struct {
	Op          string  `json:"op"`
	Batch       int     `json:"batch"`
	Points      int     `json:"points"`
	Centres     int     `json:"centres"`
	K           int     `json:"k,omitempty"`
	Method      string  `json:"method,omitempty"`
	Workers     int     `json:"workers"`
	Repeat      int     `json:"repeat"`
	MsPerCloud  float64 `json:"ms_per_cloud"`
	MsPerCloud1 float64 `json:"ms_per_cloud_1core,omitempty"`
	MsPerBatch  float64 `json:"ms_per_batch"`
	Input       string  `json:"input"`
	AVX2        bool    `json:"avx2"`
	// Device is cpu or cuda; on cuda, GPU names it, GPUPeakMB is the
	// caching allocator's high-water mark (MiB) and MatchesCPU says
	// whether the indices equal those of the CPU's packages fps and knn.
	Device     string  `json:"device"`
	GPU        string  `json:"gpu,omitempty"`
	GPUPeakMB  float64 `json:"gpu_peak_mb,omitempty"`
	MatchesCPU *bool   `json:"matches_cpu,omitempty"`
	Mismatch   string  `json:"mismatch,omitempty"`
}

func benchCommand() *cli.Command {
	flags := func(points, centres, batch int) []cli.Flag {
		return []cli.Flag{
			&cli.IntFlag{Name: "points", Value: points, Usage: "points per cloud"},
			&cli.IntFlag{Name: "centres", Value: centres, Usage: "centres per cloud"},
			&cli.IntFlag{Name: "batch", Value: batch, Usage: "clouds per batch"},
			&cli.IntFlag{Name: "repeat", Value: 5, Usage: "timed passes (the median is reported) after one warm-up"},
			&cli.StringFlag{Name: "input", Usage: "a .npy of batch×points×3 float32 to use instead of generated clouds"},
			deviceFlag,
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
		}
	}
	return &cli.Command{
		Name:  "bench",
		Usage: "time farthest-point sampling, kNN grouping, a DAPT-X training step, inference, a pretraining step and the training engine",
		Description: `step times one DAPT-X training step (grouping, forward, backward, AdamW), eval one batch
of inference (grouping and forward in evaluation mode, see pcx bench eval --help), pretrain one
Point-MAE pretraining step (see pcx bench pretrain --help) and engine the
training engine's reference step (a frozen block with an adapter); see pcx bench step --help.
fps and knn time pcx on generated surface-like clouds (unit sphere plus noise) or on --input,
using all cores and then one core. scripts/bench_open3d.py runs these next to Open3D
on the same clouds and prints the ratios. With --device cuda, fps and knn run on the GPU
(the clouds uploaded once; each timed pass ends with a device synchronisation) and the
indices are compared with the CPU's; scripts/bench_step.py --device cuda runs PyTorch
references next to them.

Examples:
   pcx bench fps --points 8192 --centres 1024 --batch 32 --json
   pcx bench step --device cuda`,
		Subcommands: []*cli.Command{
			stepCommand(),
			evalBenchCommand(),
			pretrainBenchCommand(),
			{
				Name:  "fps",
				Usage: "farthest-point sampling (pointnet2_ops semantics)",
				Flags: flags(8192, 1024, 32),
				Action: func(c *cli.Context) error {
					return runBench(c, "fps")
				},
			},
			{
				Name:  "engine",
				Usage: "the training engine's reference step: a frozen transformer block with an adapter, forward and backward",
				Description: `B=32, T=65, D=384, 6 heads, MLP 1536, a 16-wide adapter parallel to the MLP, mean-pool,
40-way classifier, cross-entropy; forward and backward including the gradient w.r.t. the
block input (15.5 GFLOP). scripts/bench_engine.py runs PyTorch on the same model in the
same run and prints the ratio.

Example:
   pcx bench engine --blas go --json`,
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "repeat", Value: 5, Usage: "timed steps (the median is reported) after one warm-up"},
					&cli.StringFlag{Name: "blas", Value: "auto", Usage: "matrix products: auto, openblas or go"},
					&cli.IntFlag{Name: "blocks", Value: 1, Usage: "frozen blocks, each with its own adapter (12 for a whole Point-MAE encoder)"},
					&cli.IntFlag{Name: "tokens", Value: 65, Usage: "tokens per sample (129: 128 groups and cls)"},
					&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
				},
				Action: runEngineBench,
			},
			{
				Name:  "knn",
				Usage: "kNN grouping around given centres (every points/centres-th point)",
				Flags: append(flags(2048, 128, 32),
					&cli.IntFlag{Name: "k", Value: 32, Usage: "neighbours per centre"},
					&cli.StringFlag{Name: "method", Value: "auto", Usage: "auto, brute or grid"}),
				Action: func(c *cli.Context) error {
					return runBench(c, "knn")
				},
			},
		},
	}
}

// sphereClouds makes b clouds of n points on the unit sphere with noise.
func sphereClouds(b, n int, seed uint64) []float32 {
	r := pointcloud.NewRand(seed)
	xyz := make([]float32, b*n*3)
	for i := 0; i < b*n; i++ {
		x, y, z := r.NormFloat64(), r.NormFloat64(), r.NormFloat64()
		l := math.Sqrt(x*x+y*y+z*z) + 1e-12
		xyz[3*i] = float32(x/l + 0.01*r.NormFloat64())
		xyz[3*i+1] = float32(y/l + 0.01*r.NormFloat64())
		xyz[3*i+2] = float32(z/l + 0.01*r.NormFloat64())
	}
	return xyz
}

func runBench(c *cli.Context, op string) error {
	b, n, g, rep := c.Int("batch"), c.Int("points"), c.Int("centres"), c.Int("repeat")
	if b <= 0 || n <= 0 || g <= 0 || rep <= 0 {
		return errors.New("bench: batch, points, centres and repeat must be positive")
	}
	if g > n {
		return fmt.Errorf("bench %s: cannot choose %d centres among %d points", op, g, n)
	}
	// The clouds, and the centres' indices; knn adds each neighbour's index
	// and offset (4 + 12 bytes) and the centres' coordinates.
	need := memlimit.Bytes(int64(b), int64(n), 12)
	perCentre := int64(4)
	if op == "knn" {
		k, err := intAtLeast(c, "k", 1)
		if err != nil {
			return err
		}
		if k > n {
			return fmt.Errorf("bench knn: cannot find %d neighbours among %d points", k, n)
		}
		perCentre = memlimit.Sum(16, memlimit.Bytes(int64(k), 16))
	}
	need = memlimit.Sum(need, memlimit.Bytes(int64(b), int64(g), perCentre))
	if err := memlimit.Check(fmt.Sprintf("bench %s on %d clouds of %d points", op, b, n), need); err != nil {
		return err
	}
	var xyz []float32
	input := "generated"
	if path := c.String("input"); path != "" {
		in, err := pointcloud.ReadFile(path)
		if err != nil {
			return err
		}
		if in.Len() != b*n {
			return fmt.Errorf("%s: holds %d points, not --batch %d × --points %d", path, in.Len(), b, n)
		}
		xyz, input = in.XYZ, path
	} else {
		xyz = sphereClouds(b, n, 1)
	}
	r := benchReport{Op: op, Batch: b, Points: n, Centres: g, Workers: runtime.GOMAXPROCS(0), Repeat: rep, Input: input, AVX2: fpsUsesAVX2(),
		Device: "cpu"}
	dev, _, closeDev, err := openDevice(c, os.Stderr)
	if err != nil {
		return err
	}
	defer closeDev()
	if dev != nil {
		if err := benchOnDevice(c, dev, op, xyz, &r); err != nil {
			return err
		}
		if err := printBench(c, r); err != nil {
			return err
		}
		if r.Mismatch != "" {
			return fmt.Errorf("bench %s: the GPU's indices differ from the CPU's (%s)", op, r.Mismatch)
		}
		return nil
	}
	var run func(workers int) error
	switch op {
	case "fps":
		run = func(w int) error {
			if b == 1 {
				_, err := fps.Sample(xyz, g, fps.Options{Workers: w})
				return err
			}
			_, err := fps.SampleBatch(xyz, b, n, g, fps.Options{Workers: w})
			return err
		}
	case "knn":
		k := c.Int("k")
		m, err := parseMethod(c.String("method"))
		if err != nil {
			return err
		}
		r.K, r.Method = k, m.String()
		cidx := make([]int32, b*g)
		for i := range cidx {
			cidx[i] = int32((i % g) * (n / g)) // every (n/g)-th point, as the Open3D script does
		}
		run = func(w int) error {
			_, err := knn.GroupAt(xyz, b, n, cidx, g, k, knn.Options{Method: m, Workers: w})
			return err
		}
	}
	all, err := medianTime(func() error { return run(0) }, rep)
	if err != nil {
		return err
	}
	one, err := medianTime(func() error { return run(1) }, rep)
	if err != nil {
		return err
	}
	r.MsPerBatch = round4(all.Seconds() * 1e3)
	r.MsPerCloud = round4(all.Seconds() * 1e3 / float64(b))
	r.MsPerCloud1 = round4(one.Seconds() * 1e3 / float64(b))
	return printBench(c, r)
}

func printBench(c *cli.Context, r benchReport) error {
	if c.Bool("json") {
		return writeJSON(os.Stdout, r)
	}
	fmt.Printf("%s: %d clouds × %d points → %d centres", r.Op, r.Batch, r.Points, r.Centres)
	if r.Op == "knn" {
		fmt.Printf(", k=%d (%s)", r.K, r.Method)
	}
	if r.Device == "cuda" {
		fmt.Printf("\n  %s: %.4f ms/cloud (%.3f ms/batch), peak GPU memory %.1f MiB, indices equal to the CPU's: %v\n",
			r.GPU, r.MsPerCloud, r.MsPerBatch, r.GPUPeakMB, *r.MatchesCPU)
		return nil
	}
	fmt.Printf("\n  %d cores: %.3f ms/cloud (%.2f ms/batch)\n  1 core:  %.3f ms/cloud\n", r.Workers, r.MsPerCloud, r.MsPerBatch, r.MsPerCloud1)
	return nil
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// medianTime runs f once to warm up, then rep times, and returns the median.
func medianTime(f func() error, rep int) (time.Duration, error) {
	if err := f(); err != nil {
		return 0, err
	}
	ts := make([]time.Duration, rep)
	for i := range ts {
		t0 := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		ts[i] = time.Since(t0)
	}
	sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
	return ts[rep/2], nil
}
