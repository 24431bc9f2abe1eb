package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn/cuda"
	"github.com/pcx-dev/pcx/nn/cuda/emu"
)

// TestSelftestNoGPU: pointed at a directory without the CUDA libraries,
// `pcx selftest --device cuda` fails with one sentence that names what is
// missing and where pcx looked, in text and in --json.
func TestSelftestNoGPU(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(cuda.EnvLibs, dir)
	t.Setenv(cuda.EnvLibsOnly, "1")
	_, err := run(t, "selftest", "--device", "cuda")
	if err == nil {
		t.Fatal("selftest succeeded without a GPU")
	}
	msg := err.Error()
	for _, want := range []string{"no GPU can be used", "libcuda.so.1 (the NVIDIA driver) was not found in " + dir + "/libcuda.so.1",
		"cuBLAS", dir + "/{libcublas.so.13,libcublas.so.12,libcublas.so.11}", "PCX_CUDA_LIBS"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	out, err := run(t, "selftest", "--device", "cuda", "--json")
	var rep selftestReport
	if err == nil || json.Unmarshal([]byte(out), &rep) != nil || rep.OK || !strings.Contains(rep.Error, "libcuda.so.1") {
		t.Errorf("--json: %v, %q", err, out)
	}
}

// TestSelftestNoGPUDefault: on a machine without CUDA, the default search
// fails the same way and lists the system places (skipped where a driver
// is installed).
func TestSelftestNoGPUDefault(t *testing.T) {
	t.Setenv(cuda.EnvLibs, "")
	t.Setenv(cuda.EnvLibsOnly, "")
	_, err := run(t, "selftest")
	var miss *cuda.MissingError
	if !errors.As(err, &miss) {
		t.Skipf("this machine has CUDA libraries (%v)", err)
	}
	for _, want := range []string{"dlopen's search", "/usr/local/cuda/lib64", "site-packages/nvidia/*/lib", "PCX_CUDA_LIBS (not set now)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
}

func TestSelftestCPU(t *testing.T) {
	out, err := run(t, "selftest", "--device", "cpu")
	// The point cases, registered by package points/cuda, are listed too.
	if err != nil || !strings.Contains(out, "nothing to compare") || !strings.Contains(out, "layernorm") || !strings.Contains(out, "fps, knn_group") {
		t.Errorf("%v: %s", err, out)
	}
	if _, err := run(t, "selftest", "--device", "tpu"); err == nil {
		t.Error("unknown device accepted")
	}
}

// TestSelftestEmulator runs the whole command on the CPU emulator of the
// driver and cuBLAS (nn/cuda/emu), which executes the kernels' sources.
func TestSelftestEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the emulator")
	}
	if emu.Compiler() == "" {
		t.Skip(emu.ErrNoCompiler)
	}
	dir, err := emu.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(cuda.EnvLibsOnly, "1")
	t.Setenv(cuda.EnvLibs, "")
	out, err := run(t, "selftest", "--device", "cuda", "--cuda-libs", dir, "--small", "--json", "--only", "layernorm,fps,attention")
	var rep selftestReport
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !rep.OK || len(rep.Results) != 3 || !strings.HasPrefix(rep.GPU, "pcx CPU emulator") {
		t.Errorf("report %+v", rep)
	}
	if _, err := run(t, "selftest", "--cuda-libs", dir, "--small", "--only", "nonsense"); err == nil {
		t.Error("unknown operation accepted")
	}
}
