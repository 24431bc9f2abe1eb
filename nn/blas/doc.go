// Package blas provides the single-precision matrix products of pcx's
// training engine: [Sgemm] (row-major C = alpha·op(A)·op(B) + beta·C) and
// [SgemmBatched] (the same over a strided batch, as in attention).
//
// # Backends
//
// Two implementations stand behind the same calls:
//
//   - "openblas": cblas_sgemm of a system OpenBLAS, loaded at run time with
//     dlopen through github.com/ebitengine/purego, so it needs no cgo and
//     works in CGO_ENABLED=0 binaries. The library is looked up as
//     libopenblas.so.0, libopenblas.so, libopenblasp.so.0 (Fedora) through
//     dlopen's own search, then in the usual Debian/Ubuntu/Fedora directories
//     (including versioned names such as libopenblasp-r0.3.21.so); the
//     environment variable PCX_OPENBLAS names the file to use instead. A
//     missing library is not an error until the "openblas" backend is asked
//     for explicitly.
//
//   - "go": pure Go (plus Go assembly), no library needed. It follows the
//     GotoBLAS/BLIS scheme: op(B) is packed into kc×nr panels shared by all
//     threads, op(A) into mr×kc panels per thread (transposes and alpha are
//     handled by the packing, with SIMD 4×4/4×8 transposes; an A that is
//     not scaled, transposed or not, and a B that is neither transposed nor
//     scaled, are read in place by variants of the micro-kernel, bit for bit
//     the same, and only a last panel of A with fewer than mr rows, or of B
//     narrower than nr, is packed), and an
//     assembly micro-kernel accumulates an mr×nr tile of C in registers:
//     13×32 with 26 ZMM accumulators on CPUs with AVX-512, 6×16 with 12 YMM
//     accumulators with AVX2+FMA, and a 4×4 pure Go kernel elsewhere
//     (detected with golang.org/x/sys/cpu; the purego build tag forces the
//     pure Go code). Blocks of rows of C (or, for short wide products, of
//     columns) are handed out to runtime.GOMAXPROCS goroutines. Batches of
//     small products are spread across the batch instead, one product per
//     goroutine.
//
// # Selection
//
// The backend is chosen at the first product from the environment variable
// PCX_BLAS: "auto" (the default: the Go backend where it has an AVX-512 or
// AVX2 kernel, which beats OpenBLAS over a whole training step, see blas.go;
// else OpenBLAS when it loads, else Go), "openblas"
// (falls back to Go when it does not load, see [EnvError]) or "go"; "go:avx512",
// "go:avx2" and "go:generic" pin a kernel of the Go backend. [Use] overrides
// the choice at any time, and returns an error, saying where it looked, when
// OpenBLAS is asked for but cannot be loaded. [Backend] describes the choice,
// e.g. "go (avx512, 2 threads)". [SetThreads] sets the number of threads of
// both backends.
//
// Under the "openblas" backend, batches of small products (m·n·k ≤ 2²²)
// also run on the Go kernels: OpenBLAS 0.3.21 has no batched call, and one
// cblas_sgemm call per 65×64 product reaches only 40 GFLOP/s. OpenBLAS is
// loaded with OPENBLAS_THREAD_TIMEOUT=18 unless the environment sets it: its
// default keeps a worker thread spinning for about 0.1 s after every call,
// which halved the speed of the Go code running next to it on 2 cores.
//
// # Threads
//
// A call is split across threads only when it holds at least 2²²
// multiply-adds (m·n·k, summed over a batch; about 40 µs on one core): waking
// a goroutine on an idle core took 10-20 µs on the VM this was tuned on. A
// batched call of 6 attention heads (6×65×65×64) therefore runs on the
// calling goroutine; callers with many such calls (one per sample) get the
// cores busy by issuing them from several goroutines at once, which is safe.
// The threads of a split call are the engine's workers (internal/workers):
// goroutines that watch for the next parallel region for 2 ms before they
// sleep, so that the regions of a training step, one after another, do not
// each wait for a sleeping thread to wake. A split call that packs B takes
// two regions per block of k, one to pack B's block (shared by all threads)
// and one to multiply; one whose B is read in place, every panel, takes a
// single region, each task running its block of C through every block of k
// in order (so the values are the same). A product of fewer than two row
// panels per thread is cut by columns. Small calls never ask
// runtime.GOMAXPROCS for the thread count, which takes the scheduler's lock.
//
// # Performance
//
// GFLOP/s (2·m·n·k per product) on the development machine: a 2-core AMD EPYC
// VM (Zen 5, AVX-512, shared with other work, so the best of 40 runs in a
// quiet spell is given), Go 1.26, Debian's OpenBLAS 0.3.21 (which runs its
// Haswell AVX2 kernels on this CPU), 2 threads, measured with
//
//	PCX_BLAS_MEASURE=1 PCX_MEASURE_REPS=40 go test ./nn/blas -run TestMeasure -v
//
// Shapes are m×k·k×n (op(A) m×k, op(B) k×n); T marks a transposed operand.
//
//	product                                openblas  go:avx512  go:avx2+fma  go:generic
//	X·W      2080×384 · 384×1152                201        433          206           8
//	X·Wᵀ     2080×384 · (1152×384)ᵀ             200        422          217           8
//	X·Wᵀ     2080×384 · (1536×384)ᵀ             207        415          216           8
//	X·W      2080×384 · 384×1536                205        405          195           8
//	H·W      2080×1536 · 1536×384               208        418          207           8
//	dY·Wᵀ    2080×1536 · (384×1536)ᵀ            210        423          217           8
//	Xᵀ·dY    (2080×384)ᵀ · 2080×1536            211        386          190           8
//	Hᵀ·dY    (2080×1536)ᵀ · 2080×384            208        389          186           7
//	dY·Wᵀ    2080×1152 · (384×1152)ᵀ            206        423          216           7
//	square   512×512 · 512×512                  214        417          202           7
//	Q·Kᵀ     192 × 65×64 · (65×64)ᵀ              49*       255          142           6
//	P·V      192 × 65×65 · 65×64                 55*       392          184           7
//	dO·Vᵀ    192 × 65×64 · (65×64)ᵀ              46*       255          143           7
//	Pᵀ·dO    192 × (65×65)ᵀ · 65×64              49*       379          176           7
//
// (*) one cblas_sgemm per product; the "openblas" backend hands such batches
// to the Go kernels instead, and gets the go column. Issued as nn.Attention
// issues them (32 calls of 6 heads read in place from the fused qkv rows,
// BenchmarkAttention), each call runs on one thread: 90-96 GFLOP/s for Q·Kᵀ
// and about 170 for P·V. On one thread the avx512 kernel reaches 204-222,
// avx2+fma 96-111 and OpenBLAS 105-110 on the large shapes
// (PCX_MEASURE_THREADS=1); a loop of independent fused multiply-adds on
// registers alone, the peak of one core's two FMA pipes, reaches about 217
// with AVX-512.
//
// So on CPUs with AVX-512 the Go backend is the faster one (PCX_BLAS=go).
// With the AVX2 kernels (forced here with go:avx2, and OpenBLAS's own are
// AVX2 too) the two are on a par for large products; the Go kernels win for
// the batched attention products either way.
package blas
