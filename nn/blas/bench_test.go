package blas

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// benchShapes are the engine's hot products: forward (X·W), and the two
// backward products (dX = dY·Wᵀ, dW = Xᵀ·dY).
var benchShapes = []struct {
	name    string
	tA, tB  bool
	m, n, k int
}{
	{"2080x384x1152", false, false, 2080, 1152, 384},
	{"XWt_2080x384x1152T", false, true, 2080, 1152, 384}, // X·Wᵀ, W stored out×in as in nn.Linear
	{"XWt_2080x384x1536T", false, true, 2080, 1536, 384},
	{"2080x384x1536", false, false, 2080, 1536, 384},
	{"2080x1536x384", false, false, 2080, 384, 1536},
	{"dX_2080x1536x384T", false, true, 2080, 384, 1536}, // dY(2080×1536)·W(384×1536)ᵀ
	{"dW_384x2080x1536T", true, false, 384, 1536, 2080}, // X(2080×384)ᵀ·dY(2080×1536)
	{"dW_1536x2080x384T", true, false, 1536, 384, 2080}, // H(2080×1536)ᵀ·dY(2080×384)
	{"dX_2080x384x1152T", false, true, 2080, 384, 1152}, // dY(2080×1152)·W(384×1152)ᵀ
	{"square_512", false, false, 512, 512, 512},
}

// benchBatched are the attention products: 192 head-batches of
// Q·Kᵀ (65×64·64×65) and P·V (65×65·65×64), and their backward forms.
var benchBatched = []struct {
	name           string
	tA, tB         bool
	m, n, k, batch int
}{
	{"QKt_192x65x64x65", false, true, 65, 65, 64, 192},
	{"PV_192x65x65x64", false, false, 65, 64, 65, 192},
	{"dP_192x65x64x65T", false, true, 65, 65, 64, 192}, // dO·Vᵀ
	{"dV_192x65x65x64T", true, false, 65, 64, 65, 192}, // Pᵀ·dO
}

func benchBackends() []string {
	names := []string{"openblas", "go"}
	if n := os.Getenv("PCX_BENCH_BACKENDS"); n != "" {
		return strings.Split(n, ",")
	}
	for _, k := range kernels() {
		names = append(names, "go:"+k.name)
	}
	return names
}

// loopBatched is SgemmBatched as one call of the backend per product.
func loopBatched(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, batch int, sA, sB, sC int) {
	be := active()
	for i := range batch {
		be.sgemm(tA, tB, m, n, k, alpha, a[i*sA:], lda, b[i*sB:], ldb, beta, c[i*sC:], ldc)
	}
}

func withBench(b *testing.B, name string, f func(b *testing.B)) {
	b.Run(name, func(b *testing.B) {
		use := name
		if name == "openblas-loop" {
			use = "openblas"
		}
		prev := active()
		prevKern := goImpl.kern.Load()
		defer func() {
			goImpl.kern.Store(prevKern)
			prev.setThreads(numThreads())
			current.Store(&prev)
		}()
		if err := Use(use); err != nil {
			b.Skip(err)
		}
		f(b)
	})
}

func randSlice(n int) []float32 {
	s := make([]float32, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}

// BenchmarkSgemm reports GFLOP/s (2·m·n·k per product) of the hot shapes:
//
//	go test ./nn/blas -run XXX -bench Sgemm -benchtime 2s
func BenchmarkSgemm(b *testing.B) {
	for _, be := range benchBackends() {
		withBench(b, be, func(b *testing.B) {
			for _, s := range benchShapes {
				b.Run(s.name, func(b *testing.B) {
					lda, ldb := s.k, s.n
					if s.tA {
						lda = s.m
					}
					if s.tB {
						ldb = s.k
					}
					a, bb, c := randSlice(s.m*s.k), randSlice(s.k*s.n), make([]float32, s.m*s.n)
					b.ResetTimer()
					for b.Loop() {
						Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
					}
					b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		})
	}
}

// BenchmarkSgemmBatched reports GFLOP/s of the attention-sized batches.
// "openblas" hands such small products to the Go kernels, spread across the
// batch; "openblas-loop" calls cblas_sgemm once per product, for comparison.
func BenchmarkSgemmBatched(b *testing.B) {
	for _, be := range append(benchBackends(), "openblas-loop") {
		withBench(b, be, func(b *testing.B) {
			for _, s := range benchBatched {
				b.Run(s.name, func(b *testing.B) {
					lda, ldb := s.k, s.n
					if s.tA {
						lda = s.m
					}
					if s.tB {
						ldb = s.k
					}
					sA, sB, sC := s.m*s.k, s.k*s.n, s.m*s.n
					a, bb, c := randSlice(sA*s.batch), randSlice(sB*s.batch), make([]float32, sC*s.batch)
					batched := SgemmBatched
					if be == "openblas-loop" {
						batched = loopBatched
					}
					b.ResetTimer()
					for b.Loop() {
						batched(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n, s.batch, sA, sB, sC)
					}
					b.ReportMetric(2*float64(s.m*s.n*s.k*s.batch)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		})
	}
}

// BenchmarkKernel measures a micro-kernel alone on data in L1: the ceiling of
// the Go backend (on the Zen 5 VM: avx512 ≈ 200, avx2+fma ≈ 100, generic ≈ 4
// GFLOP/s on one core).
func BenchmarkKernel(b *testing.B) {
	for _, kn := range kernels() {
		b.Run(kn.name, func(b *testing.B) {
			const kc = 256
			a := alignedFloats(kn.mr * kc)
			bb := alignedFloats(kn.nr * kc)
			c := alignedFloats(kn.mr * kn.nr)
			for b.Loop() {
				kn.full(kc, &a[0], &bb[0], &c[0], kn.nr, &c[0], kn.nr)
			}
			b.ReportMetric(2*float64(kn.mr*kn.nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkGather measures the transposing packer on a 12×64 panel of A
// (a 13-row panel's first 12 rows) and on a 32×384 panel of a transposed
// B (a linear layer's weight in the forward pass).
func BenchmarkGather(b *testing.B) {
	for _, s := range []struct{ rows, kc, ld int }{{12, 64, 64}, {32, 384, 384}} {
		b.Run(fmt.Sprintf("%dx%d", s.rows, s.kc), func(b *testing.B) {
			src := alignedFloats(s.rows * s.ld)
			d := alignedFloats(s.rows * s.kc)
			for b.Loop() {
				packGather(d, s.rows, src, s.ld, s.rows, s.kc, 1)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(s.rows*s.kc), "ns/elem")
		})
	}
}

// BenchmarkAttention runs the attention products as nn.Attention issues
// them: per sample (32 of 65 tokens), one batch over 6 heads of 64 channels
// read in place from the fused qkv rows (leading dimension 3·384).
func BenchmarkAttention(b *testing.B) {
	const samples, t, heads, d = 32, 65, 6, 64
	const c = heads * d
	const c3, tt = 3 * c, t * t
	qkv := randSlice(samples * t * c3)
	probs := randSlice(samples * heads * tt)
	out := make([]float32, samples*t*c)
	for _, be := range benchBackends() {
		withBench(b, be, func(b *testing.B) {
			b.Run("QKt", func(b *testing.B) {
				for b.Loop() {
					for i := range samples {
						q, k := qkv[i*t*c3:], qkv[i*t*c3+c:]
						SgemmBatched(false, true, t, t, d, 0.125, q, c3, k, c3, 0, probs[i*heads*tt:], t, heads, d, d, tt)
					}
				}
				b.ReportMetric(2*float64(samples*heads*t*t*d)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
			b.Run("PV", func(b *testing.B) {
				for b.Loop() {
					for i := range samples {
						v := qkv[i*t*c3+2*c:]
						SgemmBatched(false, false, t, d, t, 1, probs[i*heads*tt:], t, v, c3, 0, out[i*t*c:], c, heads, tt, d, d)
					}
				}
				b.ReportMetric(2*float64(samples*heads*t*t*d)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		})
	}
}
