package cuda

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeLib is a library opened by fakeOpener.
type fakeLib struct {
	file string
	syms map[string]bool
}

func (l *fakeLib) sym(name string) (uintptr, error) {
	if l.syms[name] {
		return 1, nil
	}
	return 0, errors.New("undefined symbol: " + name)
}
func (l *fakeLib) path() string { return l.file }

// fakeOpener "opens" the files of a temporary directory: a file whose
// content is "broken" fails to load, "old" lacks every symbol but cuInit,
// anything else exports every symbol. Bare names fail as dlopen would on a
// machine without CUDA. It records the order of opens.
type fakeOpener struct {
	opened []string
}

func (f *fakeOpener) open(p string) (lib, error) {
	f.opened = append(f.opened, p)
	if !strings.Contains(p, "/") {
		return nil, errors.New(p + ": cannot open shared object file: No such file or directory")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	switch string(b) {
	case "broken":
		return nil, errors.New(p + ": invalid ELF header")
	case "old":
		return &fakeLib{file: p, syms: map[string]bool{"cuInit": true}}, nil
	}
	all := map[string]bool{}
	for _, n := range symbols((&driver{}).bindings()) {
		all[n] = true
	}
	for _, n := range symbols((&cublasLib{}).bindings()) {
		all[n] = true
	}
	return &fakeLib{file: p, syms: all}, nil
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func noEnv(string) string { return "" }

func TestDriverCandidates(t *testing.T) {
	c := driverCandidates(LibOptions{Dirs: []string{"/a", "/b"}})
	if c[0] != "/a/libcuda.so.1" || c[1] != "/b/libcuda.so.1" || c[2] != "libcuda.so.1" {
		t.Errorf("order: %v", c)
	}
	for _, p := range c {
		if strings.Contains(p, "stubs") {
			t.Errorf("stubs directory searched: %s", p)
		}
	}
	if !slices.Contains(c, "/usr/local/nvidia/lib64/libcuda.so.1") || !slices.Contains(c, "/usr/lib/wsl/lib/libcuda.so.1") {
		t.Errorf("usual homes missing: %v", c)
	}
	if only := driverCandidates(LibOptions{Dirs: []string{"/a"}, Only: true}); !slices.Equal(only, []string{"/a/libcuda.so.1"}) {
		t.Errorf("Only: %v", only)
	}
}

func TestBLASCandidates(t *testing.T) {
	env := map[string]string{"VIRTUAL_ENV": "/venv", "HOME": "/home/u"}
	globs := map[string][]string{
		"/usr/local/cuda-*":                                      {"/usr/local/cuda-12.8", "/usr/local/cuda-13.0"},
		"/venv/lib/python3*/site-packages/nvidia/*/lib":          {"/venv/lib/python3.12/site-packages/nvidia/cu13/lib"},
		"/home/u/.local/lib/python3*/site-packages/nvidia/*/lib": {"/home/u/.local/lib/python3.11/site-packages/nvidia/cublas/lib"},
	}
	c, none := blasCandidates(LibOptions{Dirs: []string{"/mine"}}, func(k string) string { return env[k] },
		func(p string) ([]string, error) { return globs[p], nil })
	idx := func(p string) int {
		i := slices.Index(c, p)
		if i < 0 {
			t.Fatalf("%s not searched: %v", p, c)
		}
		return i
	}
	order := []string{
		"/mine/libcublas.so.13", "/mine/libcublas.so.12", "/mine/libcublas.so.11",
		"libcublas.so.13",
		"/usr/local/cuda/lib64/libcublas.so.13",
		"/usr/local/cuda-13.0/lib64/libcublas.so.13",
		"/usr/local/cuda-12.8/lib64/libcublas.so.12",
		"/venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13",
		"/home/u/.local/lib/python3.11/site-packages/nvidia/cublas/lib/libcublas.so.12",
		"/usr/lib64/libcublas.so.11",
	}
	for i := 1; i < len(order); i++ {
		if idx(order[i-1]) >= idx(order[i]) {
			t.Errorf("%s should come before %s", order[i-1], order[i])
		}
	}
	if slices.Contains(none, "/usr/local/cuda-*") || !slices.Contains(none, "/opt/conda/lib/python3*/site-packages/nvidia/*/lib") {
		t.Errorf("unmatched patterns: %v", none)
	}
	only, _ := blasCandidates(LibOptions{Dirs: []string{"/mine"}, Only: true}, noEnv, filepath.Glob)
	if len(only) != 3 {
		t.Errorf("Only: %v", only)
	}
}

// TestOpenFirst: candidates are tried in order; missing files are not
// opened; a library that fails to load or lacks a symbol is passed over
// with its reason; cuBLAS's libcublasLt companion is opened first.
func TestOpenFirst(t *testing.T) {
	dir := t.TempDir()
	write(t, dir+"/a/libcublas.so.13", "broken")
	write(t, dir+"/b/libcublas.so.13", "old")
	write(t, dir+"/c/libcublasLt.so.12", "ok")
	write(t, dir+"/c/libcublas.so.12", "ok")
	cands := []string{dir + "/none/libcublas.so.13", "libcublas.so.13", dir + "/a/libcublas.so.13", dir + "/b/libcublas.so.13", dir + "/c/libcublas.so.12"}
	f := &fakeOpener{}
	l, tried := openFirst(cands, symbols((&cublasLib{}).bindings()), f.open, fileExists)
	if l == nil || l.path() != dir+"/c/libcublas.so.12" {
		t.Fatalf("opened %v, tried %v", l, tried)
	}
	wantOpened := []string{"libcublas.so.13", dir + "/a/libcublas.so.13", dir + "/b/libcublas.so.13", dir + "/c/libcublasLt.so.12", dir + "/c/libcublas.so.12"}
	if !slices.Equal(f.opened, wantOpened) {
		t.Errorf("opened %v\nwant   %v", f.opened, wantOpened)
	}
	whys := []string{"no such file", "cannot open shared object", "invalid ELF header", "lacks cublasCreate_v2"}
	if len(tried) != len(whys) {
		t.Fatalf("tried %v", tried)
	}
	for i, w := range whys {
		if !strings.Contains(tried[i].why, w) {
			t.Errorf("attempt %d: %q, want %q", i, tried[i].why, w)
		}
	}
}

// TestLoadLibsMissing: with nothing to load, the error is one sentence that
// names both libraries, every place looked, the reason a present file was
// refused, and what to do.
func TestLoadLibsMissing(t *testing.T) {
	dir := t.TempDir()
	write(t, dir+"/libcuda.so.1", "old") // present, but lacks symbols
	f := &fakeOpener{}
	_, err := loadLibs(LibOptions{Dirs: []string{dir, "/nowhere"}}, f.open, fileExists, noEnv,
		func(string) ([]string, error) { return nil, nil })
	var miss *MissingError
	if !errors.As(err, &miss) || len(miss.Libs) != 2 {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"cuda: no GPU can be used: libcuda.so.1 (the NVIDIA driver) was not found in ",
		dir + "/libcuda.so.1 (opened but lacks cuDriverGetVersion)",
		"/nowhere/libcuda.so.1",
		"dlopen's search (LD_LIBRARY_PATH unset, the ld.so cache, /lib, /usr/lib) for libcuda.so.1",
		"/usr/lib/wsl/lib/libcuda.so.1",
		"cuBLAS (libcublas.so.13, libcublas.so.12, libcublas.so.11) was not found in " + dir + "/{libcublas.so.13,libcublas.so.12,libcublas.so.11}",
		"/usr/local/cuda/lib64/{libcublas.so.13,libcublas.so.12,libcublas.so.11}",
		"/opt/conda/lib/python3*/site-packages/nvidia/*/lib (no match)",
		"install the NVIDIA driver (and CUDA's cuBLAS) or set PCX_CUDA_LIBS to the directories that hold them.",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, ". ") || strings.Contains(msg, "\n") || !strings.HasSuffix(msg, ".") {
		t.Errorf("not one sentence:\n%s", msg)
	}
	// Nothing was opened that does not exist.
	for _, p := range f.opened {
		if strings.Contains(p, "/") && !fileExists(p) {
			t.Errorf("opened missing file %s", p)
		}
	}
}

func TestLoadLibsOnlyEmpty(t *testing.T) {
	_, err := loadLibs(LibOptions{Only: true}, (&fakeOpener{}).open, fileExists, noEnv, filepath.Glob)
	if err == nil || !strings.Contains(err.Error(), "was not looked for anywhere (PCX_CUDA_LIBS is empty and PCX_CUDA_LIBS_ONLY=1)") {
		t.Errorf("err = %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvLibs, "/x: /y ::")
	t.Setenv(EnvLibsOnly, "1")
	o := LibOptions{Dirs: []string{"/flag"}}.FromEnv()
	if !slices.Equal(o.Dirs, []string{"/flag", "/x", "/y"}) || !o.Only {
		t.Errorf("%+v", o)
	}
}

// TestOpenWithoutGPU is the public path on a machine without CUDA: Open
// fails with a MissingError naming the directory it was pointed at.
func TestOpenWithoutGPU(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(Options{Libs: LibOptions{Dirs: []string{dir}, Only: true}, IgnoreEnv: true})
	var miss *MissingError
	if !errors.As(err, &miss) || !strings.Contains(err.Error(), dir+"/libcuda.so.1") || !strings.Contains(err.Error(), dir+"/{libcublas.so.13") {
		t.Fatalf("err = %v", err)
	}
}
