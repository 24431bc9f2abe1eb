package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// backendsUnderTest lists the backends to compare against the reference: the
// Go backend with each kernel this CPU runs, and OpenBLAS when it loads.
func backendsUnderTest(t testing.TB) []string {
	var names []string
	for _, k := range kernels() {
		names = append(names, "go:"+k.name)
	}
	return append(names, "openblas")
}

// withBackend runs f with the named backend selected, restoring the previous
// selection afterwards; OpenBLAS is skipped when it cannot be loaded.
func withBackend(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		prev := active()
		prevKern := goImpl.kern.Load()
		defer func() {
			goImpl.kern.Store(prevKern)
			prev.setThreads(numThreads())
			current.Store(&prev)
		}()
		if err := Use(name); err != nil {
			if name == "openblas" {
				t.Skipf("OpenBLAS not available: %v", err)
			}
			t.Fatal(err)
		}
		f(t)
	})
}

// gemmCase is one product to check.
type gemmCase struct {
	tA, tB        bool
	m, n, k       int
	alpha, beta   float32
	padA, padB    int // extra elements per row beyond the minimum
	padC          int
	batch         int // 0: a plain Sgemm
	sharedA       bool
	intValues     bool // small integers: the result is exact
	extraStrideAB int  // batched: extra distance between matrices
}

func (c gemmCase) String() string {
	s := fmt.Sprintf("%s%s/%dx%dx%d/a=%g,b=%g", tc(c.tA), tc(c.tB), c.m, c.n, c.k, c.alpha, c.beta)
	if c.padA+c.padB+c.padC > 0 {
		s += fmt.Sprintf("/ld+%d,%d,%d", c.padA, c.padB, c.padC)
	}
	if c.batch > 0 {
		s += fmt.Sprintf("/batch=%d", c.batch)
		if c.sharedA {
			s += "/sharedA"
		}
	}
	if c.intValues {
		s += "/int"
	}
	return s
}

func tc(t bool) string {
	if t {
		return "T"
	}
	return "N"
}

func fill(rng *rand.Rand, s []float32, intValues bool) {
	for i := range s {
		if intValues {
			s[i] = float32(rng.IntN(9) - 4)
		} else {
			s[i] = rng.Float32()*2 - 1
		}
	}
}

// check runs the case on the current backend and compares every element of C
// (and the padding around it, which must be untouched) with a float64
// reference.
func check(t *testing.T, c gemmCase) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(c.m*1000003+c.n*1009+c.k), 7))
	ar, ac := c.m, c.k
	if c.tA {
		ar, ac = c.k, c.m
	}
	br, bc := c.k, c.n
	if c.tB {
		br, bc = c.n, c.k
	}
	lda, ldb, ldc := max(1, ac)+c.padA, max(1, bc)+c.padB, c.n+c.padC
	batch := max(1, c.batch)
	sA := ar*lda + c.extraStrideAB
	sB := br*ldb + c.extraStrideAB
	sC := c.m*ldc + 5
	if c.sharedA {
		sA = 0
	}
	a := make([]float32, max(1, (batch-1)*sA+ar*lda))
	b := make([]float32, max(1, (batch-1)*sB+br*ldb))
	cc := make([]float32, (batch-1)*sC+c.m*ldc)
	fill(rng, a, c.intValues)
	fill(rng, b, c.intValues)
	fill(rng, cc, c.intValues)
	if c.beta == 0 {
		for i := range cc {
			cc[i] = float32(math.NaN())
		}
	}
	orig := append([]float32(nil), cc...)
	if c.batch == 0 {
		Sgemm(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, cc, ldc)
	} else {
		SgemmBatched(c.tA, c.tB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, cc, ldc, c.batch, sA, sB, sC)
	}
	const eps = 1.0 / (1 << 23)
	bad := 0
	inside := make([]bool, len(cc))
	for q := range batch {
		A, B, C0, C := a[q*sA:], b[q*sB:], orig[q*sC:], cc[q*sC:]
		for i := range c.m {
			for j := range c.n {
				inside[q*sC+i*ldc+j] = true
				var sum, abs float64
				for p := range c.k {
					var x, y float64
					if c.tA {
						x = float64(A[p*lda+i])
					} else {
						x = float64(A[i*lda+p])
					}
					if c.tB {
						y = float64(B[j*ldb+p])
					} else {
						y = float64(B[p*ldb+j])
					}
					sum += x * y
					abs += math.Abs(x * y)
				}
				want := float64(c.alpha) * sum
				scale := math.Abs(float64(c.alpha)) * abs
				if c.beta != 0 {
					want += float64(c.beta) * float64(C0[i*ldc+j])
					scale += math.Abs(float64(c.beta) * float64(C0[i*ldc+j]))
				}
				got := float64(C[i*ldc+j])
				// Worst-case float32 rounding of a k-term sum, plus the
				// alpha and beta operations.
				tol := 2 * eps * float64(c.k+3) * scale
				if c.intValues {
					tol = 0
				}
				if d := math.Abs(got - want); !(d <= tol) {
					if bad < 5 {
						t.Errorf("%v: batch %d C[%d][%d] = %g, want %g (tolerance %g)", c, q, i, j, got, want, tol)
					}
					bad++
				}
			}
		}
	}
	for i, v := range cc {
		if !inside[i] && math.Float32bits(v) != math.Float32bits(orig[i]) {
			if bad < 5 {
				t.Errorf("%v: element %d outside C changed from %g to %g", c, i, orig[i], v)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%v: %d bad elements", c, bad)
	}
}

// sizes used by the table tests: tiny, odd, attention-like, and around the
// micro-tile and cache-block boundaries of every kernel.
var testSizes = [][3]int{
	{1, 1, 1}, {7, 13, 5}, {65, 64, 65}, {65, 65, 64}, {64, 65, 65}, {97, 33, 129},
	{2, 3, 0}, {1, 40, 3}, {40, 1, 3}, {5, 2100, 400}, {13, 3100, 105}, {2100, 5, 400},
	{6, 16, 256}, {12, 32, 257}, {11, 31, 255}, {13, 33, 384}, {143, 17, 385},
	{145, 47, 130}, {191, 8, 64}, {193, 48, 512}, {289, 100, 600}, {300, 200, 530},
	{195, 33, 256}, {196, 40, 513}, {391, 20, 64}, {129, 65, 1},
}

// sizesFor drops the larger sizes in -short mode.
func sizesFor(t *testing.T, sizes [][3]int) [][3]int {
	if !testing.Short() {
		return sizes
	}
	var out [][3]int
	for _, s := range sizes {
		if s[0]*s[1]*s[2] <= 1<<20 {
			out = append(out, s)
		}
	}
	return out
}

func TestSgemm(t *testing.T) {
	for _, be := range backendsUnderTest(t) {
		withBackend(t, be, func(t *testing.T) {
			for _, sz := range sizesFor(t, testSizes) {
				for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
					for _, ab := range [][2]float32{{1, 0}, {-0.5, 1}, {1.5, 0.75}} {
						check(t, gemmCase{tA: tr[0], tB: tr[1], m: sz[0], n: sz[1], k: sz[2], alpha: ab[0], beta: ab[1]})
					}
				}
			}
		})
	}
}

func TestSgemmExact(t *testing.T) {
	// Small integers make every product exact: any lost, doubled or
	// misplaced term shows.
	for _, be := range backendsUnderTest(t) {
		withBackend(t, be, func(t *testing.T) {
			for _, sz := range sizesFor(t, testSizes) {
				for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
					check(t, gemmCase{tA: tr[0], tB: tr[1], m: sz[0], n: sz[1], k: sz[2], alpha: 1, beta: 1, intValues: true})
					check(t, gemmCase{tA: tr[0], tB: tr[1], m: sz[0], n: sz[1], k: sz[2], alpha: 2, beta: 0, intValues: true, padA: 3, padB: 1, padC: 2})
				}
			}
		})
	}
}

func TestSgemmAlphaBeta(t *testing.T) {
	for _, be := range backendsUnderTest(t) {
		withBackend(t, be, func(t *testing.T) {
			for _, ab := range [][2]float32{{0, 0}, {0, 1}, {0, -2}, {1, 0}, {1, 1}, {-1, 0.5}, {0.25, -1}} {
				for _, sz := range [][3]int{{7, 13, 5}, {97, 33, 129}, {300, 200, 530}} {
					check(t, gemmCase{tA: true, tB: false, m: sz[0], n: sz[1], k: sz[2], alpha: ab[0], beta: ab[1], padA: 2, padB: 5, padC: 3})
				}
			}
		})
	}
}

func TestSgemmLeadingDims(t *testing.T) {
	for _, be := range backendsUnderTest(t) {
		withBackend(t, be, func(t *testing.T) {
			for _, sz := range [][3]int{{1, 1, 1}, {7, 13, 5}, {65, 64, 65}, {97, 33, 129}, {300, 200, 530}} {
				for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
					check(t, gemmCase{tA: tr[0], tB: tr[1], m: sz[0], n: sz[1], k: sz[2], alpha: 0.5, beta: 0, padA: 7, padB: 3, padC: 11})
				}
			}
		})
	}
}

func TestSgemmBatched(t *testing.T) {
	for _, be := range backendsUnderTest(t) {
		withBackend(t, be, func(t *testing.T) {
			for _, sz := range [][3]int{{1, 1, 1}, {65, 64, 65}, {65, 65, 64}, {7, 13, 5}, {130, 150, 120}, {97, 33, 129}} {
				for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
					for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-1, 0.25}} {
						check(t, gemmCase{tA: tr[0], tB: tr[1], m: sz[0], n: sz[1], k: sz[2], alpha: ab[0], beta: ab[1], batch: 5, padA: 1, padC: 2, extraStrideAB: 3})
					}
					check(t, gemmCase{tA: tr[0], tB: tr[1], m: sz[0], n: sz[1], k: sz[2], alpha: 1, beta: 0, batch: 3, sharedA: true, intValues: true})
				}
			}
			check(t, gemmCase{m: 300, n: 200, k: 530, alpha: 1, beta: 0.5, batch: 2})
			check(t, gemmCase{m: 65, n: 64, k: 65, alpha: 1, beta: 0, batch: 1})
		})
	}
}

func TestThreads(t *testing.T) {
	defer SetThreads(0)
	for _, be := range backendsUnderTest(t) {
		withBackend(t, be, func(t *testing.T) {
			for _, n := range []int{1, 2, 3, 5} {
				SetThreads(n)
				if !strings.Contains(Backend(), fmt.Sprintf("%d threads", n)) {
					t.Errorf("SetThreads(%d): Backend() = %q", n, Backend())
				}
				check(t, gemmCase{m: 300, n: 200, k: 530, alpha: 1, beta: 0})
				check(t, gemmCase{tA: true, tB: true, m: 5, n: 2100, k: 400, alpha: 1, beta: 1, intValues: true})
				check(t, gemmCase{tB: true, m: 65, n: 65, k: 64, alpha: 1, beta: 0, batch: 7})
				check(t, gemmCase{tA: true, m: 65, n: 64, k: 65, alpha: 1, beta: 1, batch: 20, intValues: true})
			}
			SetThreads(0)
		})
	}
}

// TestForcedParallel runs small products through the parallel code paths of
// the Go backend (normally kept for large ones) with an odd thread count.
func TestForcedParallel(t *testing.T) {
	defer func(p, s int) { parallelMin, smallMax = p, s }(parallelMin, smallMax)
	defer SetThreads(0)
	for _, k := range kernels() {
		withBackend(t, "go:"+k.name, func(t *testing.T) {
			for _, nt := range []int{2, 3} {
				SetThreads(nt)
				parallelMin, smallMax = 1, 1<<22
				for _, sz := range sizesFor(t, testSizes) {
					for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
						check(t, gemmCase{tA: tr[0], tB: tr[1], m: sz[0], n: sz[1], k: sz[2], alpha: 1, beta: 1, intValues: true, padA: 1, padC: 2})
					}
				}
				// Batches: one product per thread, then each split.
				for _, small := range []int{1 << 22, 0} {
					smallMax = small
					check(t, gemmCase{tB: true, m: 65, n: 65, k: 64, alpha: 1, beta: 0, batch: 7, intValues: true})
					check(t, gemmCase{tA: true, m: 37, n: 20, k: 9, alpha: 2, beta: 1, batch: 3, intValues: true})
				}
			}
		})
	}
}

func TestUse(t *testing.T) {
	prev := active()
	defer current.Store(&prev)
	if err := Use("go"); err != nil {
		t.Fatal(err)
	}
	if got := Backend(); !strings.HasPrefix(got, "go (") {
		t.Errorf("Use(go): Backend() = %q", got)
	}
	if err := Use("nonsense"); err == nil {
		t.Error("Use(nonsense) succeeded")
	}
	if err := Use("go:nonsense"); err == nil {
		t.Error("Use(go:nonsense) succeeded")
	}
	if err := Use("auto"); err != nil {
		t.Fatal(err)
	}
	t.Logf("auto: %s", Backend())
	if err := Use("openblas"); err == nil {
		if got := Backend(); !strings.HasPrefix(got, "openblas (") {
			t.Errorf("Use(openblas): Backend() = %q", got)
		}
	} else {
		t.Logf("no OpenBLAS: %v", err)
	}
}

func TestOpenBLASMissing(t *testing.T) {
	prev := active()
	defer current.Store(&prev)
	missing := filepath.Join(t.TempDir(), "libopenblas-missing.so")
	t.Setenv(envOpenBLAS, missing)
	err := Use("openblas")
	if err == nil {
		t.Fatalf("Use(openblas) with %s=%s succeeded", envOpenBLAS, missing)
	}
	if !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), envOpenBLAS) {
		t.Errorf("error does not say where it looked: %v", err)
	}
	t.Logf("error: %v", err)
	// auto falls back to Go.
	if err := Use("auto"); err != nil {
		t.Fatal(err)
	}
	if got := Backend(); !strings.HasPrefix(got, "go (") {
		t.Errorf("auto without OpenBLAS: Backend() = %q", got)
	}
	// A file that is not a library.
	bogus := filepath.Join(t.TempDir(), "libopenblas.so")
	if err := os.WriteFile(bogus, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envOpenBLAS, bogus)
	if err := Use("openblas"); err == nil || !strings.Contains(err.Error(), bogus) {
		t.Errorf("Use(openblas) with a bogus library: %v", err)
	}
}

func TestPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	a, b, c := make([]float32, 12), make([]float32, 12), make([]float32, 12)
	mustPanic("short c", func() { Sgemm(false, false, 4, 4, 3, 1, a, 3, b, 4, 0, c, 4) })
	mustPanic("lda", func() { Sgemm(false, false, 3, 4, 3, 1, a, 2, b, 4, 0, c, 4) })
	mustPanic("ldb", func() { Sgemm(false, true, 3, 4, 3, 1, a, 3, b, 2, 0, c, 4) })
	mustPanic("ldc", func() { Sgemm(false, false, 3, 4, 3, 1, a, 3, b, 4, 0, c, 3) })
	mustPanic("negative", func() { Sgemm(false, false, -1, 4, 3, 1, a, 3, b, 4, 0, c, 4) })
	mustPanic("overlapping C", func() { SgemmBatched(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2, 2, 4, 4, 2) })
	mustPanic("shared C", func() { SgemmBatched(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2, 2, 4, 4, 0) })
	// Heads interleaved within the rows of C do not overlap.
	c2 := make([]float32, 2*6)
	SgemmBatched(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c2, 6, 3, 4, 4, 2)
	// Empty products touch nothing.
	Sgemm(false, false, 0, 4, 3, 1, nil, 3, nil, 4, 0, nil, 4)
}

// TestEnv checks the PCX_BLAS / PCX_OPENBLAS selection in fresh processes
// (the environment is read once, at the first product).
func TestEnv(t *testing.T) {
	if os.Getenv("PCX_BLAS_ENV_HELPER") != "" {
		a, b, c := []float32{2}, []float32{3}, []float32{0}
		Sgemm(false, false, 1, 1, 1, 1, a, 1, b, 1, 0, c, 1)
		fmt.Printf("backend=%s\nresult=%g\nenverr=%v\n", Backend(), c[0], EnvError())
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	missing := filepath.Join(t.TempDir(), "nothere.so")
	for _, tc := range []struct {
		env        []string
		backend    string // prefix of Backend()
		envErr     bool
		needsLibOK bool
	}{
		{[]string{"PCX_BLAS=go"}, "go (", false, false},
		{[]string{"PCX_BLAS=go:generic"}, "go (generic", false, false},
		{[]string{"PCX_BLAS=auto", "PCX_OPENBLAS=" + missing}, "go (", false, false},
		{[]string{"PCX_BLAS=openblas", "PCX_OPENBLAS=" + missing}, "go (", true, false},
		{[]string{"PCX_BLAS=bogus"}, "go (", true, false},
		{[]string{"PCX_BLAS=openblas"}, "openblas (", false, true},
	} {
		cmd := exec.Command(exe, "-test.run=^TestEnv$")
		cmd.Env = append(os.Environ(), "PCX_BLAS_ENV_HELPER=1", "PCX_BLAS=", "PCX_OPENBLAS=")
		cmd.Env = append(cmd.Env, tc.env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%v: %v\n%s", tc.env, err, out)
			continue
		}
		s := string(out)
		if tc.needsLibOK && strings.Contains(s, "enverr=blas") {
			t.Logf("%v: no OpenBLAS here: %s", tc.env, s)
			continue
		}
		if !strings.Contains(s, "backend="+tc.backend) || !strings.Contains(s, "result=6") {
			t.Errorf("%v: got\n%s", tc.env, s)
		}
		if hasErr := !strings.Contains(s, "enverr=<nil>"); hasErr != tc.envErr {
			t.Errorf("%v: EnvError: got\n%s", tc.env, s)
		}
	}
}

// TestConcurrent runs products from several goroutines at once, as the
// engine may.
func TestConcurrent(t *testing.T) {
	for _, be := range backendsUnderTest(t) {
		withBackend(t, be, func(t *testing.T) {
			done := make(chan bool)
			for g := range 4 {
				go func() {
					defer func() { done <- true }()
					check(t, gemmCase{tA: g%2 == 1, m: 200 + g, n: 150, k: 70, alpha: 1, beta: 1, intValues: true})
					check(t, gemmCase{tB: true, m: 65, n: 65, k: 64, alpha: 1, beta: 0, batch: 9, intValues: true})
				}()
			}
			for range 4 {
				<-done
			}
		})
	}
}

// TestInterleavedHeads checks batches laid out as nn.Attention lays them out:
// the heads' operands interleaved within the rows of one fused buffer, and
// the heads' outputs side by side in the rows of C.
func TestInterleavedHeads(t *testing.T) {
	const tk, heads, d = 65, 6, 16
	const c = heads * d
	const c3 = 3 * c
	rng := rand.New(rand.NewPCG(3, 4))
	qkv := make([]float32, tk*c3)
	fill(rng, qkv, true)
	for _, be := range backendsUnderTest(t) {
		withBackend(t, be, func(t *testing.T) {
			for _, nt := range []int{1, 2} {
				SetThreads(nt)
				// S_h = Q_h·K_hᵀ, then O_h = S_h·V_h written side by side.
				s := make([]float32, heads*tk*tk)
				SgemmBatched(false, true, tk, tk, d, 1, qkv, c3, qkv[c:], c3, 0, s, tk, heads, d, d, tk*tk)
				o := make([]float32, tk*c)
				SgemmBatched(false, false, tk, d, tk, 1, s, tk, qkv[2*c:], c3, 0, o, c, heads, tk*tk, d, d)
				for h := range heads {
					for i := range tk {
						for j := range d {
							var want float64
							for l := range tk {
								var sv float64
								for p := range d {
									sv += float64(qkv[i*c3+h*d+p]) * float64(qkv[l*c3+c+h*d+p])
								}
								if got := s[h*tk*tk+i*tk+l]; j == 0 && float64(got) != sv {
									t.Fatalf("threads %d: S[%d][%d][%d] = %g, want %g", nt, h, i, l, got, sv)
								}
								want += sv * float64(qkv[l*c3+2*c+h*d+j])
							}
							if got := o[i*c+h*d+j]; float64(got) != want {
								t.Fatalf("threads %d: O[%d][%d][%d] = %g, want %g", nt, h, i, j, got, want)
							}
						}
					}
				}
			}
			SetThreads(0)
		})
	}
}

// TestThreadsRepeat: the Go backend gives the same bits on any number of
// threads for products large enough to be split (by rows, by columns, and
// with the shared dimension cut into several blocks, B's columns too, with
// and without a narrow last panel), on values whose sums do round.
func TestThreadsRepeat(t *testing.T) {
	defer SetThreads(0)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range kernels() {
		withBackend(t, "go:"+k.name, func(t *testing.T) {
			for _, sz := range [][3]int{{700, 96, 1100}, {40, 900, 700}, {64, 384, 2080}, {30, 3136, 500}} {
				m, n, kk := sz[0], sz[1], sz[2]
				a, b := make([]float32, m*kk), make([]float32, kk*n)
				fill(rng, a, false)
				fill(rng, b, false)
				var first []float32
				for _, nt := range []int{1, 2, 3, 4, 8} {
					SetThreads(nt)
					c := make([]float32, m*n)
					Sgemm(true, false, m, n, kk, 1, a, m, b, n, 0, c, n)
					if first == nil {
						first = c
					} else if !slices.Equal(c, first) {
						t.Fatalf("%v: %d threads differ from 1", sz, nt)
					}
				}
			}
		})
	}
}

// TestSgemmBias: SgemmBias gives bit for bit the values of copying the bias
// into every row of C and calling Sgemm with beta 1, on every backend, for
// every transposition, sizes across the kernels' tiles and blocks (edge
// tiles, several k blocks, the parallel paths), leading dimensions wider
// than n (elements outside C untouched), and k = 0 or alpha = 0.
func TestSgemmBias(t *testing.T) {
	for _, be := range backendsUnderTest(t) {
		withBackend(t, be, func(t *testing.T) {
			r := rand.New(rand.NewPCG(19, 20))
			fill := func(n int) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				return x
			}
			for _, sz := range append(sizesFor(t, testSizes), [3]int{2080, 384, 1536}) {
				m, n, k := sz[0], sz[1], sz[2]
				for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
					for _, alpha := range []float32{1, -0.5, 0} {
						lda, ldb, ldc := k+1, n+2, n+3
						if tr[0] {
							lda = m + 1
						}
						if tr[1] {
							ldb = k + 2
						}
						rowsA, rowsB := m, k
						if tr[0] {
							rowsA = k
						}
						if tr[1] {
							rowsB = n
						}
						a, b, bias := fill(rowsA*lda+1), fill(rowsB*ldb+1), fill(n)
						c0 := fill(m * ldc)
						want := append([]float32(nil), c0...)
						for i := 0; i < m; i++ {
							copy(want[i*ldc:i*ldc+n], bias)
						}
						Sgemm(tr[0], tr[1], m, n, k, alpha, a, lda, b, ldb, 1, want, ldc)
						got := append([]float32(nil), c0...)
						SgemmBias(tr[0], tr[1], m, n, k, alpha, a, lda, b, ldb, bias, got, ldc)
						for i := range want {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%dx%dx%d trans %v alpha %v: element %d is %v, want %v", m, n, k, tr, alpha, i, got[i], want[i])
							}
						}
					}
				}
			}
		})
	}
}

// TestInPlaceOperands checks that the kernels reading A, B or both in place
// give bit for bit what packing both gives, for every Go kernel that has
// them: full and edge tiles, several k blocks, serial, parallel and batched
// products, beta 0, 1 and 0.5, a bias, and A holding ±0, infinities, NaN
// and subnormals.
func TestInPlaceOperands(t *testing.T) {
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-40, -3e-39}
	for _, kn := range kernels() {
		if kn.fullA == nil && kn.fullB == nil {
			continue
		}
		packed := *kn
		packed.fullA, packed.halfA, packed.fullB, packed.halfB, packed.fullAB, packed.halfAB = nil, nil, nil, nil, nil, nil
		packed.fullT, packed.halfT, packed.fullTB, packed.halfTB = nil, nil, nil, nil
		onlyA, onlyB := *kn, *kn
		onlyA.fullB, onlyA.halfB, onlyA.fullAB, onlyA.halfAB, onlyA.fullTB, onlyA.halfTB = nil, nil, nil, nil, nil, nil
		onlyB.fullA, onlyB.halfA, onlyB.fullAB, onlyB.halfAB = nil, nil, nil, nil
		onlyB.fullT, onlyB.halfT, onlyB.fullTB, onlyB.halfTB = nil, nil, nil, nil
		variants := map[string]*kernel{"A": &onlyA, "B": &onlyB, "A and B": kn}
		t.Run(kn.name, func(t *testing.T) {
			prevKern := goImpl.kern.Load()
			defer goImpl.kern.Store(prevKern)
			r := rand.New(rand.NewPCG(23, 24))
			fill := func(n int, special bool) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(r.NormFloat64())
					if special && r.IntN(50) == 0 {
						x[i] = specials[r.IntN(len(specials))]
					}
				}
				return x
			}
			for _, sz := range append(sizesFor(t, testSizes), [3]int{2080, 384, 1152}, [3]int{2080, 96, 1536}) {
				m, n, k := sz[0], sz[1], sz[2]
				for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
					tA, tB := tr[0], tr[1]
					for _, beta := range []float32{0, 1, 0.5} {
						for _, special := range []bool{false, true} {
							lda, ldb, ldc := k+3, n+2, n+1
							rowsA := m
							if tA {
								lda, rowsA = m+3, k
							}
							if tB {
								ldb = k + 2
							}
							rowsB := k
							if tB {
								rowsB = n
							}
							a, b, bias, c0 := fill(rowsA*lda+1, special), fill(rowsB*ldb+1, special), fill(n, false), fill(m*ldc, false)
							run := func(kern *kernel, withBias bool) []float32 {
								goImpl.kern.Store(kern)
								c := append([]float32(nil), c0...)
								if withBias {
									SgemmBias(tA, tB, m, n, k, 1, a, lda, b, ldb, bias, c, ldc)
								} else {
									Sgemm(tA, tB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
								}
								return c
							}
							withBias := beta == 1 && special
							want := run(&packed, withBias)
							for name, v := range variants {
								got := run(v, withBias)
								for i := range want {
									if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(want[i] != want[i] && got[i] != got[i]) {
										t.Fatalf("%s in place, %dx%dx%d tA %v tB %v beta %v bias %v: element %d is %v, want %v", name, m, n, k, tA, tB, beta, withBias, i, got[i], want[i])
									}
								}
							}
						}
					}
				}
			}
			// A batch of attention-sized products, spread one per thread.
			const batch, m, n, k = 12, 65, 65, 64
			a, b := fill(batch*m*k, true), fill(batch*n*k, true)
			for _, tr := range [][2]bool{{false, true}, {false, false}, {true, false}} {
				tA, tB := tr[0], tr[1]
				lda, ldb := k, k
				if tA {
					lda = m
				}
				if !tB {
					ldb = n
				}
				batched := func(kern *kernel) []float32 {
					goImpl.kern.Store(kern)
					c := make([]float32, batch*m*n)
					SgemmBatched(tA, tB, m, n, k, 1, a, lda, b, ldb, 0, c, n, batch, m*k, n*k, m*n)
					return c
				}
				want := batched(&packed)
				for name, v := range variants {
					got := batched(v)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(want[i] != want[i] && got[i] != got[i]) {
							t.Fatalf("%s in place, batched, tA %v tB %v: element %d is %v, want %v", name, tA, tB, i, got[i], want[i])
						}
					}
				}
			}
		})
	}
}

// TestPackGather: the transposing packer gives d[i*w+r] = alpha·src[r*ld+i]
// and zeros past the last row, bit for bit, for every row count around its
// blocks of eight and four and lengths around its groups of eight.
func TestPackGather(t *testing.T) {
	r := rand.New(rand.NewPCG(71, 72))
	for _, alpha := range []float32{1, 0.37} {
		for rows := 1; rows <= 34; rows++ {
			for _, kc := range []int{1, 7, 8, 9, 16, 23, 64, 65} {
				w, ld := rows+r.IntN(3), kc+r.IntN(5)
				src := make([]float32, (rows-1)*ld+kc)
				for i := range src {
					src[i] = float32(r.NormFloat64())
				}
				d := make([]float32, w*kc)
				for i := range d {
					d[i] = 42
				}
				packGather(d, w, src, ld, rows, kc, alpha)
				for i := range kc {
					for q := range w {
						want := float32(0)
						if q < rows {
							want = alpha * src[q*ld+i]
						}
						if got := d[i*w+q]; math.Float32bits(got) != math.Float32bits(want) {
							t.Fatalf("alpha %v rows %d kc %d w %d: d[%d][%d] = %v, want %v", alpha, rows, kc, w, i, q, got, want)
						}
					}
				}
			}
		}
	}
}
