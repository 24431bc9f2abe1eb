package cuda

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// sources returns the kernels' .cu files by base name.
func sources(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("kernels/*.cu")
	if err != nil || len(files) == 0 {
		t.Fatalf("no kernel sources: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".cu")] = b
	}
	return out
}

var (
	hashRE    = regexp.MustCompile(`(?m)^// pcx-sources-sha256: ([0-9a-f]{64}) `)
	includeRE = regexp.MustCompile(`(?m)^\s*#\s*include\s*[<"]([^>"]+)[>"]`)
)

// pointsKernels is the folder of the point operations' kernels (package
// points/cuda, which registers them), compiled by the same script.
const pointsKernels = "../../points/cuda/kernels"

// TestPointsPTXMatchesSources: every .cu of points/cuda/kernels has its
// .ptx, recording the SHA-256 of nn/cuda's pcx.cuh followed by the .cu.
func TestPointsPTXMatchesSources(t *testing.T) {
	header, err := os.ReadFile("kernels/pcx.cuh")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(pointsKernels, "*.cu"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no kernel sources in %s: %v", pointsKernels, err)
	}
	ptxs, _ := filepath.Glob(filepath.Join(pointsKernels, "*.ptx"))
	if len(ptxs) != len(files) {
		t.Errorf("PTX %v for sources %v", ptxs, files)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range includeRE.FindAllSubmatch(src, -1) {
			if string(m[1]) != "pcx.cuh" {
				t.Errorf("%s includes %s: the recorded hash covers pcx.cuh only", f, m[1])
			}
		}
		ptx, err := os.ReadFile(strings.TrimSuffix(f, ".cu") + ".ptx")
		if err != nil {
			t.Errorf("%s has no PTX (run go generate ./points/cuda/)", f)
			continue
		}
		m := hashRE.FindSubmatch(ptx)
		if m == nil {
			t.Errorf("%s.ptx records no source hash", f)
			continue
		}
		sum := sha256.Sum256(append(append([]byte{}, header...), src...))
		if want := hex.EncodeToString(sum[:]); string(m[1]) != want {
			t.Errorf("the PTX of %s was generated from other sources (recorded %s, sources %s): run go generate ./points/cuda/", f, m[1], want)
		}
	}
}

// TestPTXMatchesSources: every embedded .ptx records the SHA-256 of
// pcx.cuh followed by its .cu, and that hash is the sources' now; so a
// source changed without running scripts/gen_ptx.sh fails here.
func TestPTXMatchesSources(t *testing.T) {
	header, err := os.ReadFile("kernels/pcx.cuh")
	if err != nil {
		t.Fatal(err)
	}
	srcs := sources(t)
	mods := modules()
	if len(mods) != len(srcs) {
		t.Errorf("embedded PTX %v for sources %v", mods, srcs)
	}
	for name, src := range srcs {
		for _, m := range includeRE.FindAllSubmatch(src, -1) {
			if string(m[1]) != "pcx.cuh" {
				t.Errorf("%s.cu includes %s: the recorded hash covers pcx.cuh only", name, m[1])
			}
		}
		ptx, err := ptxFS.ReadFile("kernels/" + name + ".ptx")
		if err != nil {
			t.Errorf("%s.cu has no embedded PTX (run go generate ./nn/cuda/)", name)
			continue
		}
		m := hashRE.FindSubmatch(ptx)
		if m == nil {
			t.Errorf("%s.ptx records no source hash", name)
			continue
		}
		sum := sha256.Sum256(append(append([]byte{}, header...), src...))
		if want := hex.EncodeToString(sum[:]); string(m[1]) != want {
			t.Errorf("%s.ptx was generated from other sources (recorded %s, sources %s): run go generate ./nn/cuda/", name, m[1], want)
		}
	}
}

// ptxEntries parses the .entry lines of every embedded module.
func ptxEntries(t *testing.T) map[string]kernelSig {
	t.Helper()
	out := map[string]kernelSig{}
	for _, m := range modules() {
		ptx, err := ptxOf(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(ptx, []byte("\n.target sm_80")) {
			t.Errorf("%s.ptx does not target sm_80", m)
		}
		v := regexp.MustCompile(`(?m)^\.version (\d+)\.(\d+)`).FindSubmatch(ptx)
		if major, _ := strconv.Atoi(string(v[1])); v == nil || major > 8 {
			t.Errorf("%s.ptx has PTX ISA %s.%s; CUDA 13 drivers JIT ≤ 9.0, pcx targets ≤ 8.x", m, v[1], v[2])
		}
		sigs, err := ptxParams(ptx)
		if err != nil {
			t.Errorf("%s.ptx: %v", m, err)
		}
		for name, params := range sigs {
			out[name] = kernelSig{module: m, params: params}
		}
	}
	return out
}

// TestPTXEntries: the kernels table matches the PTX's entry points, their
// modules and parameter lists, so every launch passes what the kernel takes.
func TestPTXEntries(t *testing.T) {
	got := ptxEntries(t)
	for name, sig := range kernelSigs {
		if g, ok := got[name]; !ok {
			t.Errorf("%s is not in the PTX", name)
		} else if g != sig {
			t.Errorf("%s: table says %+v, PTX has %+v", name, sig, g)
		}
	}
	for name := range got {
		if _, ok := kernelSigs[name]; !ok {
			t.Errorf("PTX entry %s is missing from the kernels table", name)
		}
	}
	if len(Kernels()) != len(kernelSigs) || !sort.StringsAreSorted(Kernels()) {
		t.Error("Kernels()")
	}
}

// ptxas returns a ptxas to assemble with: $PCX_PTXAS or ptxas on PATH.
func ptxas() string {
	if p := os.Getenv("PCX_PTXAS"); p != "" {
		return p
	}
	p, _ := exec.LookPath("ptxas")
	return p
}

// TestPTXAssembles assembles every module for sm_80 and sm_90 (H100) with
// ptxas when one is available (Debian's nvidia-cuda-toolkit has it; set
// PCX_PTXAS), checking that the PTX is valid for the GPUs it targets.
func TestPTXAssembles(t *testing.T) {
	as := ptxas()
	if as == "" {
		t.Skip("no ptxas (set PCX_PTXAS)")
	}
	for _, m := range modules() {
		for _, arch := range []string{"sm_80", "sm_90"} {
			out := filepath.Join(t.TempDir(), m+".cubin")
			cmd := exec.Command(as, "--gpu-name", arch, "-o", out, filepath.Join("kernels", m+".ptx"))
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s %s: %v\n%s", m, arch, err, b)
			}
		}
	}
}

// TestGenerateReproduces regenerates the PTX into a temporary directory
// with scripts/gen_ptx.sh and compares it with the committed files, when
// the compiler recorded in them is installed.
func TestGenerateReproduces(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles every kernel")
	}
	ptx, _ := ptxFS.ReadFile("kernels/" + modules()[0] + ".ptx")
	m := regexp.MustCompile(`(?m)^// pcx-compiler: (.*)$`).FindSubmatch(ptx)
	if m == nil {
		t.Fatal("no compiler recorded")
	}
	recorded := string(m[1])
	var cc string
	for _, c := range []string{"clang-16", "clang-17", "clang-18", "clang-19", "clang", "nvcc"} {
		if p, err := exec.LookPath(c); err == nil {
			if v, err := exec.Command(p, "--version").Output(); err == nil && strings.Contains(string(v), recorded) {
				cc = p
				break
			}
		}
	}
	if cc == "" {
		t.Skipf("the compiler that generated the PTX (%s) is not installed", recorded)
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", "../../scripts/gen_ptx.sh")
	cmd.Env = append(os.Environ(), "PCX_PTX_OUT="+dir, "PCX_CUDA_CC="+cc)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, mod := range modules() {
		want, _ := ptxFS.ReadFile("kernels/" + mod + ".ptx")
		got, err := os.ReadFile(filepath.Join(dir, "nn/cuda/kernels", mod+".ptx"))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s.ptx differs from what gen_ptx.sh produces now (%v)", mod, err)
		}
	}
	ptxs, _ := filepath.Glob(filepath.Join(pointsKernels, "*.ptx"))
	if len(ptxs) == 0 {
		t.Errorf("no PTX in %s", pointsKernels)
	}
	for _, f := range ptxs {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join(dir, "points/cuda/kernels", filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from what gen_ptx.sh produces now (%v)", f, err)
		}
	}
}

// TestNoInit: importing the package must do nothing (no dlopen, no
// driver call): it has no init function and its package-level variables
// are plain data.
func TestNoInit(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		for name, f := range p.Files {
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if d.Name.Name == "init" && d.Recv == nil {
						t.Errorf("%s has an init function", name)
					}
				case *ast.GenDecl:
					if d.Tok != token.VAR {
						continue
					}
					for _, s := range d.Specs {
						for _, v := range s.(*ast.ValueSpec).Values {
							ast.Inspect(v, func(n ast.Node) bool {
								if c, ok := n.(*ast.CallExpr); ok {
									if sel, ok := c.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "New" && fmt.Sprint(sel.X) == "errors" {
										return true
									}
									t.Errorf("%s: package variable initialised by a call at %v", name, fset.Position(c.Pos()))
								}
								return true
							})
						}
					}
				}
			}
		}
	}
}
