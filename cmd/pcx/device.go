package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/cuda"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/points"
	pcuda "github.com/pcx-dev/pcx/points/cuda"
	"github.com/urfave/cli/v2"
)

// The CUDA engine, wrapped by package points/cuda, groups batches on the
// GPU.
var _ points.Grouper = (*pcuda.Engine)(nil)

// deviceFlag is --device on the commands that train, evaluate or time.
var deviceFlag = &cli.StringFlag{Name: "device", Value: "cpu",
	Usage: "cpu, cuda (a GPU through the CUDA driver; $PCX_CUDA_LIBS names directories to search first) or auto (cuda when usable, else cpu)"}

// openDevice opens the device --device names: nil for the CPU, or the GPU
// with its engine (a points.Grouper); close releases it. With auto, a GPU that cannot be
// opened falls back to the CPU, saying why on log.
func openDevice(c *cli.Context, log io.Writer) (dev *cuda.Device, eng nn.Device, close func(), err error) {
	none := func() {}
	switch name := c.String("device"); name {
	case "", "cpu":
		return nil, nil, none, nil
	case "cuda", "auto":
		d, err := cuda.Open(cuda.Options{})
		if err != nil {
			err = shortDeviceError(err)
			if name == "auto" {
				fmt.Fprintf(log, "device: cpu (no usable GPU: %v)\n", err)
				return nil, nil, none, nil
			}
			return nil, nil, none, fmt.Errorf("--device cuda: %w", err)
		}
		fmt.Fprintf(log, "device: %s\n", d)
		return d, pcuda.Grouper(cuda.NewEngine(d)), func() { d.Close() }, nil
	default:
		return nil, nil, none, checkDeviceName(name)
	}
}

// shortDeviceError shortens the error of a GPU whose libraries were not
// found to what is missing; pcx selftest lists every place looked.
func shortDeviceError(err error) error {
	var miss *cuda.MissingError
	if !errors.As(err, &miss) {
		return err
	}
	return shortError{fmt.Sprintf("%s; pcx selftest --device cuda lists where pcx looked", miss.Summary()), err}
}

// shortError is an error shown by a short text that wraps the full one.
type shortError struct {
	text string
	err  error
}

func (e shortError) Error() string { return e.text }
func (e shortError) Unwrap() error { return e.err }

// checkDeviceName refuses a --device that is none of cpu, cuda and auto.
func checkDeviceName(name string) error {
	switch name {
	case "", "cpu", "cuda", "auto":
		return nil
	}
	return fmt.Errorf("unknown --device %s (cpu, cuda or auto)", state.Quote(name))
}
