package cuda

import (
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// Environment variables read by Open (and by LibOptions.FromEnv).
const (
	// EnvLibs lists directories, separated by ':', searched first for
	// libcuda.so.1 and cuBLAS.
	EnvLibs = "PCX_CUDA_LIBS"
	// EnvLibsOnly, when "1", restricts the search to the EnvLibs
	// directories.
	EnvLibsOnly = "PCX_CUDA_LIBS_ONLY"
)

// Library file names. cuBLAS is taken from the newest major version found
// (13, then 12, then 11): pcx looks its symbols up at run time, so any of
// them serves.
const driverLib = "libcuda.so.1"

var blasLibs = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}

// LibOptions says where to look for the CUDA libraries.
type LibOptions struct {
	// Dirs are searched first, in order.
	Dirs []string
	// Only restricts the search to Dirs.
	Only bool
}

// FromEnv returns o with the directories of PCX_CUDA_LIBS appended to Dirs
// and Only set by PCX_CUDA_LIBS_ONLY=1.
func (o LibOptions) FromEnv() LibOptions {
	for _, d := range filepath.SplitList(os.Getenv(EnvLibs)) {
		if d = strings.TrimSpace(d); d != "" {
			o.Dirs = append(o.Dirs, d)
		}
	}
	if os.Getenv(EnvLibsOnly) == "1" {
		o.Only = true
	}
	return o
}

// The search order, documented on the package, is built by these two
// functions from the options and the environment (env and glob are
// injected for tests).
//
// A candidate containing '/' is a file, tried only when it exists; a bare
// name goes to dlopen's own search (LD_LIBRARY_PATH, the ld.so cache,
// /lib and /usr/lib).

// driverCandidates lists where libcuda.so.1 is looked for: the option
// directories, dlopen's search path, then the driver's usual homes. The
// CUDA toolkit's stubs directory is never searched: its libcuda.so only
// fails with CUDA_ERROR_STUB_LIBRARY.
func driverCandidates(o LibOptions) []string {
	var c []string
	for _, d := range o.Dirs {
		c = append(c, filepath.Join(d, driverLib))
	}
	if o.Only {
		return c
	}
	c = append(c, driverLib)
	for _, d := range systemLibDirs() {
		c = append(c, filepath.Join(d, driverLib))
	}
	for _, d := range []string{"/usr/local/nvidia/lib64", "/usr/lib/wsl/lib"} {
		c = append(c, filepath.Join(d, driverLib))
	}
	return c
}

// blasCandidates lists where cuBLAS is looked for: in each option directory
// the newest major version first; then dlopen's search path; then CUDA
// toolkits (/usr/local/cuda, then /usr/local/cuda-X.Y newest first), the
// NVIDIA Python wheels (site-packages/nvidia/*/lib: nvidia/cu13/lib for
// CUDA 13, nvidia/cublas/lib for CUDA 12) of the active virtual or conda
// environment, of the user and of the system, and the system's library
// directories.
//
// It also returns the glob patterns that matched nothing, which the error
// for a missing cuBLAS lists among the places looked.
func blasCandidates(o LibOptions, env func(string) string, glob func(string) ([]string, error)) ([]string, []string) {
	var c, none []string
	inDirs := func(dirs []string) {
		for _, d := range dirs {
			for _, n := range blasLibs {
				c = append(c, filepath.Join(d, n))
			}
		}
	}
	inDirs(o.Dirs)
	if o.Only {
		return c, nil
	}
	c = append(c, blasLibs...)
	var dirs []string
	dirs = append(dirs, "/usr/local/cuda/lib64", "/usr/local/cuda/targets/"+targetDir()+"/lib")
	if m, _ := glob("/usr/local/cuda-*"); len(m) > 0 {
		sort.Sort(sort.Reverse(sort.StringSlice(m))) // cuda-13.0 before cuda-12.8
		for _, t := range m {
			dirs = append(dirs, filepath.Join(t, "lib64"), filepath.Join(t, "targets", targetDir(), "lib"))
		}
	} else {
		none = append(none, "/usr/local/cuda-*")
	}
	var sites []string
	if v := env("VIRTUAL_ENV"); v != "" {
		sites = append(sites, v+"/lib/python3*/site-packages")
	}
	if v := env("CONDA_PREFIX"); v != "" {
		sites = append(sites, v+"/lib/python3*/site-packages")
		dirs = append(dirs, v+"/lib")
	}
	if v := env("HOME"); v != "" {
		sites = append(sites, v+"/.local/lib/python3*/site-packages")
	}
	sites = append(sites, "/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
		"/usr/lib/python3/dist-packages", "/usr/lib/python3*/site-packages", "/opt/conda/lib/python3*/site-packages")
	for _, s := range sites {
		m, _ := glob(s + "/nvidia/*/lib")
		if len(m) == 0 {
			none = append(none, s+"/nvidia/*/lib")
		}
		sort.Strings(m)
		dirs = append(dirs, m...)
	}
	dirs = append(dirs, systemLibDirs()...)
	inDirs(dirs)
	return dedupe(c), none
}

// systemLibDirs are the distributions' library directories for this
// architecture.
func systemLibDirs() []string {
	multiarch := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	d := []string{}
	if multiarch != "" {
		d = append(d, "/usr/lib/"+multiarch)
	}
	return append(d, "/usr/lib64", "/usr/lib")
}

// targetDir is the CUDA toolkit's name for this architecture.
func targetDir() string {
	if runtime.GOARCH == "arm64" {
		return "sbsa-linux"
	}
	return "x86_64-linux"
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// lib is an opened shared library.
type lib interface {
	// sym returns the address of a symbol.
	sym(name string) (uintptr, error)
	// path is where it was loaded from.
	path() string
}

// opener opens a shared library (dlopen), injected for tests.
type opener func(path string) (lib, error)

// attempt records one candidate tried and why it failed.
type attempt struct {
	cand, why string
}

// openFirst tries the candidates in order and returns the first library
// that opens and exports every name in need. stat tells whether a file
// exists. Before a cuBLAS file is opened, its libcublasLt companion of the
// same version is opened from the same directory, so that a library
// outside the loader's path finds its dependency.
func openFirst(cands []string, need []string, open opener, stat func(string) bool) (lib, []attempt) {
	var tried []attempt
	for _, c := range cands {
		if strings.Contains(c, "/") && !stat(c) {
			tried = append(tried, attempt{c, "no such file"})
			continue
		}
		if base := filepath.Base(c); strings.HasPrefix(base, "libcublas.so.") && strings.Contains(c, "/") {
			lt := filepath.Join(filepath.Dir(c), strings.Replace(base, "libcublas.", "libcublasLt.", 1))
			if stat(lt) {
				_, _ = open(lt) // its failure shows up when cuBLAS itself is opened
			}
		}
		l, err := open(c)
		if err != nil {
			tried = append(tried, attempt{c, err.Error()})
			continue
		}
		missing := ""
		for _, n := range need {
			if _, err := l.sym(n); err != nil {
				missing = n
				break
			}
		}
		if missing != "" {
			tried = append(tried, attempt{c, "opened but lacks " + missing})
			continue
		}
		return l, tried
	}
	return nil, tried
}

// MissingError says that CUDA libraries could not be loaded, and every
// place pcx looked for them.
type MissingError struct {
	// Libs has one entry per library that could not be loaded.
	Libs []MissingLib
	// EnvUnset is true when PCX_CUDA_LIBS was not set (nor directories
	// given).
	EnvUnset bool
}

// MissingLib is one library that could not be loaded.
type MissingLib struct {
	// What names it ("libcuda.so.1 (the NVIDIA driver)").
	What string
	// Looked lists the places tried, each with the reason it failed where
	// that is more than a missing file.
	Looked []string
}

// Error is one sentence: what is missing, where pcx looked, and what to do.
func (e *MissingError) Error() string {
	parts := make([]string, len(e.Libs))
	for i, l := range e.Libs {
		if len(l.Looked) == 0 {
			parts[i] = l.What + " was not looked for anywhere (" + EnvLibs + " is empty and " + EnvLibsOnly + "=1)"
			continue
		}
		parts[i] = l.What + " was not found in " + strings.Join(l.Looked, ", ")
	}
	set := "set " + EnvLibs
	if e.EnvUnset {
		set += " (not set now)"
	}
	return "cuda: no GPU can be used: " + strings.Join(parts, "; ") +
		"; install the NVIDIA driver (and CUDA's cuBLAS) or " + set + " to the directories that hold them."
}

// Summary is the short form of the error: what is missing, without where
// pcx looked ("no CUDA driver found (libcuda.so.1)").
// Without the driver, cuBLAS is not mentioned: it is of no use alone.
func (e *MissingError) Summary() string {
	for _, l := range e.Libs {
		if strings.HasPrefix(l.What, driverLib) {
			return "no CUDA driver found (" + driverLib + ")"
		}
	}
	return "no cuBLAS found (" + strings.Join(blasLibs, ", ") + ")"
}

// describe turns attempts into the places of a MissingLib: files missing
// from one directory are grouped, dlopen's own search is spelled out, and
// other failures keep their reason.
func describe(tried []attempt, env func(string) string) []string {
	var out []string
	var dir string
	var names, bare []string
	flush := func() {
		switch {
		case len(names) == 1:
			out = append(out, dir+"/"+names[0])
		case len(names) > 1:
			out = append(out, dir+"/{"+strings.Join(names, ",")+"}")
		}
		if len(bare) > 0 {
			ld := env("LD_LIBRARY_PATH")
			if ld == "" {
				ld = "unset"
			}
			out = append(out, "dlopen's search (LD_LIBRARY_PATH "+ld+", the ld.so cache, /lib, /usr/lib) for "+strings.Join(bare, ", "))
		}
		dir, names, bare = "", nil, nil
	}
	for _, t := range tried {
		notFound := strings.Contains(t.why, "No such file") || strings.Contains(t.why, "cannot open shared object")
		switch {
		case t.why == "no such file":
			if d := filepath.Dir(t.cand); d != dir || len(bare) > 0 {
				flush()
				dir = d
			}
			names = append(names, filepath.Base(t.cand))
		case !strings.Contains(t.cand, "/") && notFound:
			if len(names) > 0 {
				flush()
			}
			bare = append(bare, t.cand)
		default:
			flush()
			out = append(out, t.cand+" ("+t.why+")")
		}
	}
	flush()
	return out
}
