package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pcx-dev/pcx/nn/cuda"
	"github.com/pcx-dev/pcx/nn/cuda/check"
	"github.com/urfave/cli/v2"
)

// selftestReport is what pcx selftest prints with --json.
type selftestReport struct {
	Device  string         `json:"device"`
	GPU     string         `json:"gpu,omitempty"`
	Driver  string         `json:"driver_library,omitempty"`
	CUBLAS  string         `json:"cublas_library,omitempty"`
	TF32    bool           `json:"tf32"`
	OK      bool           `json:"ok"`
	Error   string         `json:"error,omitempty"`
	Note    string         `json:"note,omitempty"`
	Results []check.Result `json:"results,omitempty"`
}

func selftestCommand() *cli.Command {
	return &cli.Command{
		Name:  "selftest",
		Usage: "check the GPU kernels against pcx's CPU operations",
		Description: `With --device cuda, runs every GPU operation forward and backward (LayerNorm, softmax,
attention, GELU, BatchNorm, the max over groups, the SMoA router, scale-and-shift,
cross-entropy, matrix products, ...) and farthest-point sampling and kNN grouping on the
GPU and on the CPU with the same random inputs, and prints each operation's largest
relative difference: max|gpu - cpu| / max|cpu| over its outputs (for indices, the
fraction that differ). It exits non-zero when one exceeds its tolerance (1e-4; 5e-3 for
cuBLAS-based operations with --tf32; 0 for indices).

Without a usable GPU it says what is missing and every place pcx looked, and exits
non-zero. pcx finds libcuda.so.1 and cuBLAS (libcublas.so.13/.12/.11) in the --cuda-libs
directories and $PCX_CUDA_LIBS first, then through the system's library search and in
CUDA toolkits and NVIDIA Python wheels (site-packages/nvidia/*/lib).

Examples:
   pcx selftest --device cuda
   pcx selftest --device cuda --json --cuda-libs /venv/lib/python3.12/site-packages/nvidia/cu13/lib`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "device", Value: "cuda", Usage: "cuda, or cpu (which has nothing to compare against)"},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
			&cli.StringSliceFlag{Name: "cuda-libs", Usage: "a directory to search first for libcuda.so.1 and cuBLAS (repeatable; ':' separates several)"},
			&cli.IntFlag{Name: "gpu", Value: 0, Usage: "the GPU's ordinal"},
			&cli.BoolFlag{Name: "tf32", Usage: "let cuBLAS use TF32 tensor cores (looser tolerance for products)"},
			&cli.BoolFlag{Name: "small", Usage: "small shapes instead of Point-MAE's (quick)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "random inputs' seed"},
			&cli.StringFlag{Name: "only", Usage: "comma-separated operations to run (see the output for their names)"},
		},
		Action: runSelftest,
	}
}

func runSelftest(c *cli.Context) error {
	asJSON := c.Bool("json")
	switch dev := c.String("device"); dev {
	case "cpu":
		note := "selftest compares the GPU with the CPU, so --device cpu has nothing to compare: pcx's CPU operations are checked by its test suite (gradients by finite differences, golden values against PyTorch); operations the cuda selftest checks: " +
			strings.Join(check.Names(), ", ")
		if asJSON {
			return writeJSON(os.Stdout, selftestReport{Device: "cpu", OK: true, Note: note})
		}
		fmt.Println(note)
		return nil
	case "cuda":
	default:
		return fmt.Errorf("selftest: unknown device %q (cuda or cpu)", dev)
	}
	var dirs []string
	for _, v := range c.StringSlice("cuda-libs") {
		dirs = append(dirs, filepath.SplitList(v)...)
	}
	only := splitList(c.String("only"))
	rep := selftestReport{Device: "cuda", TF32: c.Bool("tf32")}
	fail := func(err error) error {
		if asJSON {
			rep.Error = err.Error()
			if werr := writeJSON(os.Stdout, rep); werr != nil {
				return errors.Join(err, werr)
			}
		}
		return err
	}
	d, err := cuda.Open(cuda.Options{Ordinal: c.Int("gpu"), Libs: cuda.LibOptions{Dirs: dirs}, TF32: rep.TF32})
	if err != nil {
		return fail(err)
	}
	defer d.Close()
	info := d.Info()
	rep.GPU, rep.Driver, rep.CUBLAS = d.String(), info.DriverPath, info.CUBLASPath
	if !asJSON {
		fmt.Printf("GPU: %s\nlibraries: %s, %s\n", rep.GPU, rep.Driver, rep.CUBLAS)
	}
	res, err := check.Run(d, check.Options{Seed: c.Uint64("seed"), Small: c.Bool("small"), TF32: rep.TF32, Only: only})
	rep.Results = res
	var bad []string
	for _, r := range res {
		if !r.OK {
			bad = append(bad, r.Op)
		}
	}
	rep.OK = err == nil && len(bad) == 0
	if asJSON {
		if werr := writeJSON(os.Stdout, rep); werr != nil {
			return werr
		}
	} else {
		fmt.Printf("%-18s %12s %10s %10s  %s\n", "op", "max rel diff", "tolerance", "gpu ms", "")
		for _, r := range res {
			status := "ok"
			if !r.OK {
				status = "FAIL"
				if r.Err != "" {
					status += ": " + r.Err
				} else if r.Worst != "" {
					status += " (" + r.Worst + ")"
				}
			}
			fmt.Printf("%-18s %12.3g %10.0e %10.2f  %s\n", r.Op, r.MaxRel, r.Tol, float64(r.GPUTime)/float64(time.Millisecond), status)
		}
	}
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("selftest: %d of %d operations differ from the CPU beyond their tolerance: %s", len(bad), len(res), strings.Join(bad, ", "))
	}
	return nil
}
