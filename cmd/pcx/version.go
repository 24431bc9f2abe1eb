package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/pcx-dev/pcx/nn/blas"
	"github.com/pcx-dev/pcx/points/fps"
	"github.com/urfave/cli/v2"
)

func fpsUsesAVX2() bool { return fps.UsesAVX2() }

type versionReport struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	Cores   int    `json:"cores"`
	FPS     string `json:"fps_kernel"`
	BLAS    string `json:"blas"`
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print pcx's version and the kernels it uses on this machine",
		Description: `Example:
   pcx version --json`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "machine-readable output"}},
		Action: func(c *cli.Context) error {
			r := versionReport{Version: version, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
				Cores: runtime.GOMAXPROCS(0), FPS: "scalar", BLAS: blas.Backend()}
			if fps.UsesAVX2() {
				r.FPS = "avx2"
			}
			if c.Bool("json") {
				return writeJSON(os.Stdout, r)
			}
			fmt.Printf("pcx %s (%s, %s/%s, %d cores)\nFPS kernel: %s\nBLAS: %s\n", r.Version, r.Go, r.OS, r.Arch, r.Cores, r.FPS, r.BLAS)
			if err := blas.EnvError(); err != nil {
				fmt.Println(err)
			}
			return nil
		},
	}
}
