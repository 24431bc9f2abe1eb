//go:build amd64 && !purego

package blas

import "golang.org/x/sys/cpu"

// The assembly micro-kernels of kernel_amd64.s (see gen_amd64.go).
//
//go:generate go run gen_amd64.go

//go:noescape
func kernAVX2x6x16(kc int, a, b, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX2x6x16A(kc int, a *float32, lda int, b, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX2x6x8A(kc int, a *float32, lda int, b, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX512x13x32A(kc int, a *float32, lda int, b, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX512x13x16A(kc int, a *float32, lda int, b, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX2x6x16B(kc int, a, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX2x6x8B(kc int, a, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX512x13x32B(kc int, a, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX512x13x16B(kc int, a, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX2x6x16AB(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX2x6x8AB(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX512x13x32AB(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX512x13x16AB(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX2x6x8(kc int, a, b, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX512x13x32(kc int, a, b, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX512x13x16(kc int, a, b, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX2x6x16T(kc int, a *float32, lda int, b, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX2x6x8T(kc int, a *float32, lda int, b, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX512x13x32T(kc int, a *float32, lda int, b, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX512x13x16T(kc int, a *float32, lda int, b, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX2x6x16TB(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX2x6x8TB(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX512x13x32TB(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)

//go:noescape
func kernAVX512x13x16TB(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)

var (
	kernelAVX2 = &kernel{
		name: "avx2+fma", mr: 6, nr: 16, mc: 144, kc: 256, nc: 3072,
		full: kernAVX2x6x16, half: kernAVX2x6x8,
		fullA: kernAVX2x6x16A, halfA: kernAVX2x6x8A,
		fullB: kernAVX2x6x16B, halfB: kernAVX2x6x8B,
		fullAB: kernAVX2x6x16AB, halfAB: kernAVX2x6x8AB,
		fullT: kernAVX2x6x16T, halfT: kernAVX2x6x8T,
		fullTB: kernAVX2x6x16TB, halfTB: kernAVX2x6x8TB,
	}
	kernelAVX512 = &kernel{
		name: "avx512", mr: 13, nr: 32, mc: 195, kc: 384, nc: 3072,
		full: kernAVX512x13x32, half: kernAVX512x13x16,
		fullA: kernAVX512x13x32A, halfA: kernAVX512x13x16A,
		fullB: kernAVX512x13x32B, halfB: kernAVX512x13x16B,
		fullAB: kernAVX512x13x32AB, halfAB: kernAVX512x13x16AB,
		fullT: kernAVX512x13x32T, halfT: kernAVX512x13x16T,
		fullTB: kernAVX512x13x32TB, halfTB: kernAVX512x13x16TB,
	}
)

// kernels lists the kernels this CPU can run, best first.
func kernels() []*kernel { return kernelList }

var kernelList = func() []*kernel {
	var ks []*kernel
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, kernelAVX512)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, kernelAVX2)
	}
	return append(ks, kernelGeneric)
}()
