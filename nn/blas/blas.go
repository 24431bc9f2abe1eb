package blas

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// backend is one implementation of the strided-batched SGEMM.
type backend interface {
	name() string
	sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	batched(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, batch, sA, sB, sC int)
	setThreads(n int)
}

var (
	selectOnce sync.Once
	mu         sync.Mutex              // serialises Use and SetThreads
	current    atomic.Pointer[backend] // the backend in use
	threads    atomic.Int64            // 0: runtime.GOMAXPROCS(0)
	goImpl     = &goBackend{}          // the pure-Go backend (always available)
	envErr     error                   // why PCX_BLAS could not be honoured, if it could not
)

// Env variable names.
const (
	envBackend  = "PCX_BLAS"     // auto | openblas | go
	envOpenBLAS = "PCX_OPENBLAS" // path of the OpenBLAS shared library
)

// active returns the backend in use, choosing it from PCX_BLAS on first use.
func active() backend {
	if p := current.Load(); p != nil {
		return *p
	}
	selectOnce.Do(func() {
		mu.Lock()
		defer mu.Unlock()
		if current.Load() != nil { // Use was called first
			return
		}
		choice := strings.ToLower(strings.TrimSpace(os.Getenv(envBackend)))
		be, err := pick(choice)
		if err != nil {
			// An explicit PCX_BLAS=openblas that cannot be honoured must not
			// crash the program: fall back to Go and remember why.
			envErr = fmt.Errorf("blas: %s=%q: %w (using the Go backend)", envBackend, choice, err)
			be = goImpl
		}
		be.setThreads(numThreads())
		current.Store(&be)
	})
	return *current.Load()
}

// pick resolves a backend name ("", "auto", "openblas", "go").
func pick(name string) (backend, error) {
	switch name {
	case "", "auto", "default":
		// With a SIMD micro-kernel the Go backend wins the whole training
		// step: OpenBLAS's spinning threads compete with pcx's goroutines
		// between products (measured on a 2-core EPYC, one frozen block
		// with an adapter, forward+backward: Go/AVX-512 188-215 ms, OpenBLAS
		// 232-335 ms; 12 blocks, 129 tokens: 4.2 s against 9.7 s). OpenBLAS
		// stays the choice where only the generic Go kernel would run.
		if goImpl.kernel().name != "generic" {
			return goImpl, nil
		}
		if ob, err := loadOpenBLAS(); err == nil {
			return ob, nil
		}
		return goImpl, nil
	case "openblas":
		ob, err := loadOpenBLAS()
		if err != nil {
			return nil, err
		}
		return ob, nil
	case "go", "pure-go", "purego", "native":
		return goImpl, goImpl.useKernel("")
	}
	if kern, ok := strings.CutPrefix(name, "go:"); ok {
		// A particular kernel of the Go backend: go:avx512, go:avx2,
		// go:generic.
		return goImpl, goImpl.useKernel(kern)
	}
	return nil, fmt.Errorf("blas: unknown backend %q (want auto, openblas or go)", name)
}

// Use selects the backend: "auto" (OpenBLAS when it loads, else Go), "openblas"
// (an error when the library cannot be loaded, listing where it was looked
// for) or "go". It overrides the PCX_BLAS environment variable. Use must not be
// called concurrently with running products.
func Use(name string) error {
	mu.Lock()
	defer mu.Unlock()
	be, err := pick(strings.ToLower(strings.TrimSpace(name)))
	if err != nil {
		return err
	}
	selectOnce.Do(func() {}) // the environment no longer matters
	be.setThreads(numThreads())
	current.Store(&be)
	return nil
}

// EnvError reports why the PCX_BLAS environment variable could not be
// honoured (for example PCX_BLAS=openblas without the library); nil when it
// was, or when it was not set.
func EnvError() error {
	active()
	mu.Lock()
	defer mu.Unlock()
	return envErr
}

// Backend describes the backend in use, e.g.
// "openblas (/usr/lib/x86_64-linux-gnu/libopenblas.so.0, 2 threads)" or
// "go (avx2+fma, 2 threads)".
func Backend() string {
	be := active()
	return be.name()
}

// SetThreads sets the number of threads the products may use; n <= 0 restores
// the default, runtime.GOMAXPROCS(0) at the time of each call. It applies to
// both backends (openblas_set_num_threads for OpenBLAS).
func SetThreads(n int) {
	if n < 0 {
		n = 0
	}
	mu.Lock()
	defer mu.Unlock()
	threads.Store(int64(n))
	if p := current.Load(); p != nil {
		(*p).setThreads(numThreads())
	}
}

// numThreads is the number of threads to use now.
func numThreads() int {
	if n := int(threads.Load()); n > 0 {
		return n
	}
	return max(1, runtime.GOMAXPROCS(0))
}

// Sgemm computes the row-major single-precision matrix product
//
//	C = alpha·op(A)·op(B) + beta·C,  op(X) = X, or Xᵀ when transX,
//
// where op(A) is m×k, op(B) is k×n and C is m×n. A is stored row-major with
// leading dimension lda (the distance between rows: lda >= k when !transA, lda
// >= m when transA), likewise B with ldb and C with ldc >= n. As in BLAS, beta
// == 0 means C is not read (NaNs in it do not propagate) and alpha == 0 means A
// and B are not read. Sgemm panics when a slice is too short for its shape.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, 1, 0, 0, 0)
	if m == 0 || n == 0 {
		return
	}
	active().sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmBias computes
//
//	C = bias + alpha·op(A)·op(B),
//
// bias (n values) added to every row of C, whose values are not read. The
// results are bit for bit those of copying bias into each row of C and
// calling Sgemm with beta 1 (a layer's bias before its product, as
// PyTorch's addmm); the Go kernels write the bias into each tile of C just
// before its first product, rather than in a pass of its own over C.
func SgemmBias(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, 1, 0, 0, 0)
	if len(bias) < n {
		panic(fmt.Sprintf("blas: bias of %d values for %d columns", len(bias), n))
	}
	if m == 0 || n == 0 {
		return
	}
	if g, ok := active().(*goBackend); ok && k > 0 && alpha != 0 {
		g.sgemmBias(transA, transB, m, n, k, alpha, a, lda, b, ldb, bias[:n], c, ldc)
		return
	}
	parts := max(1, min(numThreads(), m*n/(1<<16)))
	parallel(parts, func(w int) {
		for i := split(m, parts, w); i < split(m, parts, w+1); i++ {
			copy(c[i*ldc:i*ldc+n], bias[:n])
		}
	})
	active().sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, 1, c, ldc)
}

// SgemmBatched computes batch independent products
//
//	C_i = alpha·op(A_i)·op(B_i) + beta·C_i,  i = 0..batch-1,
//
// where A_i starts at a[i*strideA], B_i at b[i*strideB] and C_i at
// c[i*strideC], each laid out as in [Sgemm]. A stride of 0 shares the operand
// between all products (not allowed for C). When each product is small the
// work is spread across the batch, one product per thread at a time;
// otherwise the products run one after the other, each using all threads.
func SgemmBatched(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, batch int, strideA, strideB, strideC int) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, batch, strideA, strideB, strideC)
	if m == 0 || n == 0 || batch == 0 {
		return
	}
	active().batched(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, batch, strideA, strideB, strideC)
}

// checkArgs panics with a descriptive message on inconsistent arguments.
func checkArgs(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, batch, sA, sB, sC int) {
	if m < 0 || n < 0 || k < 0 || batch < 0 {
		panic(fmt.Sprintf("blas: negative dimension m=%d n=%d k=%d batch=%d", m, n, k, batch))
	}
	if sA < 0 || sB < 0 || sC < 0 {
		panic(fmt.Sprintf("blas: negative stride %d, %d, %d", sA, sB, sC))
	}
	if m == 0 || n == 0 || batch == 0 {
		return
	}
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	if lda < max(1, ac) {
		panic(fmt.Sprintf("blas: lda=%d < %d", lda, max(1, ac)))
	}
	if ldb < max(1, bc) {
		panic(fmt.Sprintf("blas: ldb=%d < %d", ldb, max(1, bc)))
	}
	if ldc < max(1, n) {
		panic(fmt.Sprintf("blas: ldc=%d < %d", ldc, n))
	}
	for i := 1; i < batch; i++ {
		if overlaps(i*sC, m, n, ldc) {
			panic(fmt.Sprintf("blas: strideC=%d makes C matrices %d and 0 overlap (%d×%d, ldc=%d)", sC, i, m, n, ldc))
		}
	}
	need := func(rows, cols, ld, stride int) int {
		if rows == 0 || cols == 0 {
			return 0
		}
		return (batch-1)*stride + (rows-1)*ld + cols
	}
	if k > 0 {
		if n := need(ar, ac, lda, sA); len(a) < n {
			panic(fmt.Sprintf("blas: len(a)=%d < %d", len(a), n))
		}
		if n := need(br, bc, ldb, sB); len(b) < n {
			panic(fmt.Sprintf("blas: len(b)=%d < %d", len(b), n))
		}
	}
	if n := need(m, n, ldc, sC); len(c) < n {
		panic(fmt.Sprintf("blas: len(c)=%d < %d", len(c), n))
	}
}

// overlaps reports whether two m×n matrices with leading dimension ld, the
// second starting delta >= 0 elements after the first, share an element:
// whether delta = q·ld + r for some |q| < m, |r| < n. Heads interleaved
// within rows (delta < ld, n <= delta) do not.
func overlaps(delta, m, n, ld int) bool {
	q := delta / ld
	for _, q := range []int{q, q + 1} {
		if q < m && abs(delta-q*ld) < n {
			return true
		}
	}
	return false
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
