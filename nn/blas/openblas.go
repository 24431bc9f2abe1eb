//go:build (linux || darwin || freebsd) && (amd64 || arm64)

package blas

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/pcx-dev/pcx/internal/dynlib"
)

// CBLAS enumerations (cblas.h).
const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

// openBLAS calls cblas_sgemm of a dlopen'ed OpenBLAS through purego, so it
// works with CGO_ENABLED=0 too.
type openBLAS struct {
	path  string // the file it was loaded from (or the name dlopen took)
	core  string // openblas_get_corename: the kernels OpenBLAS chose
	gemm  func(order, transA, transB, m, n, k int32, alpha float32, a unsafe.Pointer, lda int32, b unsafe.Pointer, ldb int32, beta float32, c unsafe.Pointer, ldc int32)
	setNT func(n int32) // openblas_set_num_threads; nil when not exported
	nt    int           // threads last set
}

// obCache remembers, per value of PCX_OPENBLAS, the outcome of loading.
var (
	obMu    sync.Mutex
	obCache = map[string]obResult{}
)

type obResult struct {
	ob  *openBLAS
	err error
}

// openBLASCandidates lists the names tried, in order. Bare names go through
// dlopen's own search (LD_LIBRARY_PATH, the ld.so cache, /lib, /usr/lib), so
// they cover the Debian/Ubuntu alternatives (libopenblas.so.0) and Fedora's
// libopenblasp.so.0; the explicit paths catch layouts outside the cache.
func openBLASCandidates() []string {
	if p := strings.TrimSpace(os.Getenv(envOpenBLAS)); p != "" {
		return []string{p}
	}
	names := []string{
		"libopenblas.so.0",
		"libopenblas.so",
		"libopenblasp.so.0",
		"libopenblaso.so.0",
	}
	if runtime.GOOS == "darwin" {
		names = []string{
			"libopenblas.dylib",
			"libopenblas.0.dylib",
			"/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
			"/usr/local/opt/openblas/lib/libopenblas.dylib",
		}
	}
	multiarch := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	dirs := []string{
		"/usr/lib/" + multiarch + "/openblas-pthread",
		"/usr/lib/" + multiarch + "/openblas-openmp",
		"/usr/lib/" + multiarch + "/openblas-serial",
		"/usr/lib/" + multiarch,
		"/usr/lib64",
		"/usr/lib",
		"/usr/local/lib",
		"/opt/OpenBLAS/lib",
	}
	for _, d := range dirs {
		names = append(names, d+"/libopenblas.so.0", d+"/libopenblas.so")
		// Versioned names such as libopenblasp-r0.3.21.so.
		for _, pat := range []string{"/libopenblasp-r0*.so", "/libopenblas-r0*.so", "/libopenblaso-r0*.so"} {
			if m, _ := filepath.Glob(d + pat); len(m) > 0 {
				names = append(names, m...)
			}
		}
	}
	return names
}

// loadOpenBLAS loads the library named by PCX_OPENBLAS, or the first one
// found, once per value of PCX_OPENBLAS.
func loadOpenBLAS() (backend, error) {
	key := strings.TrimSpace(os.Getenv(envOpenBLAS))
	obMu.Lock()
	defer obMu.Unlock()
	r, ok := obCache[key]
	if !ok {
		r.ob, r.err = openOpenBLAS(openBLASCandidates())
		obCache[key] = r
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.ob, nil
}

// openOpenBLAS tries each candidate until one exports cblas_sgemm.
func openOpenBLAS(cands []string) (*openBLAS, error) {
	var ob *openBLAS
	errs, ok := dynlib.First(cands, dlopenQuiet, func(p string, h uintptr) error {
		sym, err := purego.Dlsym(h, "cblas_sgemm")
		if err != nil || sym == 0 {
			return errors.New("no cblas_sgemm")
		}
		ob = &openBLAS{path: mappedFile(sym, p)}
		purego.RegisterFunc(&ob.gemm, sym)
		if s, err := purego.Dlsym(h, "openblas_set_num_threads"); err == nil && s != 0 {
			purego.RegisterFunc(&ob.setNT, s)
		}
		if s, err := purego.Dlsym(h, "openblas_get_corename"); err == nil && s != 0 {
			var corename func() string
			purego.RegisterFunc(&corename, s)
			ob.core = strings.TrimSpace(corename())
		}
		return nil
	})
	if ok {
		return ob, nil
	}
	if len(errs) == 0 {
		return nil, errors.New("blas: OpenBLAS not found (no candidates)")
	}
	return nil, fmt.Errorf("blas: OpenBLAS not found; tried %s (set %s to the library's path)",
		strings.Join(errs, "; "), envOpenBLAS)
}

// threadTimeout is the OPENBLAS_THREAD_TIMEOUT given to OpenBLAS unless the
// environment sets one: after each call its worker threads spin for 2^n
// cycles before sleeping. OpenBLAS's default, 2^28 cycles (about 0.1 s),
// leaves a spinning thread beside the goroutines that run between the
// products; on a 2-core machine that halved the speed of the Go code (the
// batched attention products among it) right after an OpenBLAS call. 2^18
// cycles (about 0.1 ms) measured no slower for back-to-back products.
const threadTimeout = "18"

// dlopenQuiet opens the library with OPENBLAS_THREAD_TIMEOUT set (OpenBLAS
// reads it when it is loaded) unless the environment already sets it, and
// restores the environment afterwards.
func dlopenQuiet(path string) (uintptr, error) {
	const key = "OPENBLAS_THREAD_TIMEOUT"
	if _, ok := os.LookupEnv(key); !ok {
		os.Setenv(key, threadTimeout)
		defer os.Unsetenv(key)
	}
	return purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
}

func (o *openBLAS) name() string {
	if o.core != "" {
		return fmt.Sprintf("openblas (%s, %s, %d threads)", o.path, o.core, o.nt)
	}
	return fmt.Sprintf("openblas (%s, %d threads)", o.path, o.nt)
}

// mappedFile returns the file mapped at address addr according to
// /proc/self/maps (Linux), so that Backend names the library actually loaded;
// otherwise name.
func mappedFile(addr uintptr, name string) string {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return name
	}
	for line := range strings.Lines(string(maps)) {
		// start-end perms offset dev inode path
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasPrefix(f[5], "/") {
			continue
		}
		var lo, hi uintptr
		if _, err := fmt.Sscanf(f[0], "%x-%x", &lo, &hi); err == nil && lo <= addr && addr < hi {
			return f[5]
		}
	}
	return name
}

func (o *openBLAS) setThreads(n int) {
	o.nt = n
	if o.setNT != nil {
		o.setNT(int32(n))
	}
}

func trans(t bool) int32 {
	if t {
		return cblasTrans
	}
	return cblasNoTrans
}

func (o *openBLAS) sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if k == 0 || alpha == 0 {
		// Leave the trivial cases to the Go code: the pointers may be nil.
		scaleC(m, n, beta, c, ldc)
		return
	}
	o.gemm(cblasRowMajor, trans(tA), trans(tB), int32(m), int32(n), int32(k),
		alpha, unsafe.Pointer(&a[0]), int32(lda), unsafe.Pointer(&b[0]), int32(ldb),
		beta, unsafe.Pointer(&c[0]), int32(ldc))
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
}

func (o *openBLAS) batched(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, batch, sA, sB, sC int) {
	if k == 0 || alpha == 0 {
		for i := range batch {
			scaleC(m, n, beta, c[i*sC:], ldc)
		}
		return
	}
	if nt := numThreads(); batch > 1 && perProduct(m, n, k, batch, nt) {
		// OpenBLAS 0.3.21 has no batched GEMM, and one call per small
		// product costs more in overhead (purego, OpenBLAS threading) than
		// it computes: such batches run faster on the Go kernels, spread
		// across the batch.
		goImpl.batched(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, batch, sA, sB, sC)
		return
	}
	for i := range batch {
		o.sgemm(tA, tB, m, n, k, alpha, a[i*sA:], lda, b[i*sB:], ldb, beta, c[i*sC:], ldc)
	}
}
