// Package emu builds pcx's CPU emulator of the CUDA driver and cuBLAS
// (nn/cuda/testdata/emu/emu.cpp) for tests: a shared library that package
// cuda loads, through its real discovery and purego bindings, as
// libcuda.so.1 and libcublas.so.12, and that runs the kernels' CUDA C
// sources on the CPU (those of KernelDirs). It needs a C++ compiler and the pcx source tree, and
// is meant for tests only (of nn/cuda and of `pcx selftest`).
package emu

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// srcDir is nn/cuda in the source tree this package was compiled from.
func srcDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

// Compiler returns the C++ compiler to use ($CXX, clang++-16, clang++,
// g++, c++), or "" when there is none.
func Compiler() string {
	cands := []string{os.Getenv("CXX"), "clang++-16", "clang++", "g++", "c++"}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// ErrNoCompiler is returned when no C++ compiler is found.
var ErrNoCompiler = errors.New("emu: no C++ compiler ($CXX, clang++-16, clang++, g++, c++)")

// KernelDirs are the directories of the kernels' CUDA C sources that the
// emulator runs: the engine's (nn/cuda/kernels) and the point operations'
// (points/cuda/kernels, registered with nn/cuda by package points/cuda),
// so that the emulator runs every module a binary may register.
func KernelDirs() []string {
	return []string{filepath.Join(srcDir(), "kernels"), filepath.Join(srcDir(), "..", "..", "points", "cuda", "kernels")}
}

var kernelRE = regexp.MustCompile(`(?m)^PCX_KERNEL\s+(\w+)\s*\(`)

// Build compiles the emulator into dir, as dir/libcuda.so.1 and
// dir/libcublas.so.12, and returns dir.
func Build(dir string) (string, error) {
	cxx := Compiler()
	if cxx == "" {
		return "", ErrNoCompiler
	}
	kdir := filepath.Join(srcDir(), "kernels")
	var srcs []string
	for _, d := range KernelDirs() {
		s, err := filepath.Glob(filepath.Join(d, "*.cu"))
		if err != nil || len(s) == 0 {
			return "", fmt.Errorf("emu: no kernel sources in %s", d)
		}
		sort.Strings(s)
		srcs = append(srcs, s...)
	}
	var all, list strings.Builder
	for _, s := range srcs {
		fmt.Fprintf(&all, "#include %q\n", s)
		b, err := os.ReadFile(s)
		if err != nil {
			return "", err
		}
		for _, m := range kernelRE.FindAllStringSubmatch(string(b), -1) {
			fmt.Fprintf(&list, "K(%s)\n", m[1])
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "kernels_all.inc"), []byte(all.String()), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "kernels_list.inc"), []byte(list.String()), 0o644); err != nil {
		return "", err
	}
	lib := filepath.Join(dir, "libcuda.so.1")
	cmd := exec.Command(cxx, "-std=c++17", "-O2", "-g0", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math",
		"-Wall", "-Wno-unused-function", "-DPCX_EMU", "-I", kdir, "-I", dir, "-o", lib,
		filepath.Join(srcDir(), "testdata", "emu", "emu.cpp"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("emu: %s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	// A link, not a copy: the loader then maps one library, whose device
	// memory both the driver and cuBLAS functions see.
	if err := os.Symlink("libcuda.so.1", filepath.Join(dir, "libcublas.so.12")); err != nil {
		return "", err
	}
	return dir, nil
}

var (
	mu       sync.Mutex
	onceDir  string
	onceErr  error
	tempRoot string
)

// Shared builds the emulator once per process into a temporary directory
// (removed by Cleanup).
func Shared() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if onceDir == "" && onceErr == nil {
		tempRoot, onceErr = os.MkdirTemp("", "pcx-emu-")
		if onceErr == nil {
			onceDir, onceErr = Build(tempRoot)
		}
	}
	return onceDir, onceErr
}

// Cleanup removes what Shared built: call it from TestMain after the tests,
// or from a test's Cleanup when no later test of the package needs the
// emulator (the library stays mapped in the process). A later Shared
// builds it again.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if tempRoot != "" {
		os.RemoveAll(tempRoot)
	}
	tempRoot, onceDir, onceErr = "", "", nil
}

// Dir is Shared for tests: it skips t without a C++ compiler and fails it
// when the build fails.
func Dir(t testing.TB) string {
	t.Helper()
	if Compiler() == "" {
		t.Skip(ErrNoCompiler)
	}
	dir, err := Shared()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
