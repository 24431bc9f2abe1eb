// Package emudev opens pcx's CPU emulator of the CUDA driver and cuBLAS
// (package emu) as a device, for the tests of packages above nn/cuda. It
// lives apart from emu because nn/cuda's own tests import emu, which
// therefore cannot import nn/cuda.
package emudev

import (
	"testing"

	"github.com/pcx-dev/pcx/nn/cuda"
	"github.com/pcx-dev/pcx/nn/cuda/emu"
)

// Open opens the emulator (built on first use; the test skips without a
// C++ compiler) through package cuda's real discovery and bindings, and
// closes it when the test ends.
func Open(t testing.TB) *cuda.Device {
	t.Helper()
	d, err := cuda.Open(cuda.Options{Libs: cuda.LibOptions{Dirs: []string{emu.Dir(t)}, Only: true}, IgnoreEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

// Engine is Open as the engine's nn.Device.
func Engine(t testing.TB) *cuda.Engine {
	t.Helper()
	return cuda.NewEngine(Open(t))
}
