package cuda

import (
	"fmt"
	"math"
)

// cublasLib holds the cuBLAS functions pcx calls (cublas_api.h; the _v2
// names are what cublas_v2.h maps the plain ones to).
type cublasLib struct {
	create      func(h *uintptr) int32
	destroy     func(h uintptr) int32
	setStream   func(h, s uintptr) int32
	setMathMode func(h uintptr, mode int32) int32
	getVersion  func(h uintptr, v *int32) int32
	sgemm       func(h uintptr, ta, tb int32, m, n, k int32, alpha *float32, a uint64, lda int32, b uint64, ldb int32, beta *float32, c uint64, ldc int32) int32
	sgemmSB     func(h uintptr, ta, tb int32, m, n, k int32, alpha *float32, a uint64, lda int32, sa int64, b uint64, ldb int32, sb int64, beta *float32, c uint64, ldc int32, sc int64, batch int32) int32
}

func (c *cublasLib) bindings() []binding {
	return []binding{
		{"cublasCreate_v2", &c.create},
		{"cublasDestroy_v2", &c.destroy},
		{"cublasSetStream_v2", &c.setStream},
		{"cublasSetMathMode", &c.setMathMode},
		{"cublasGetVersion_v2", &c.getVersion},
		{"cublasSgemm_v2", &c.sgemm},
		{"cublasSgemmStridedBatched", &c.sgemmSB},
	}
}

// cuBLAS enumerations.
const (
	cublasOpN         = 0 // CUBLAS_OP_N
	cublasOpT         = 1 // CUBLAS_OP_T
	cublasDefaultMath = 0 // CUBLAS_DEFAULT_MATH: full float32
	cublasTF32Math    = 3 // CUBLAS_TF32_TENSOR_OP_MATH
)

func op(t bool) int32 {
	if t {
		return cublasOpT
	}
	return cublasOpN
}

// GemmArgs describes a row-major product C = alpha·op(A)·op(B) + beta·C
// with op(A) m×k, op(B) k×n and C m×n, the layout of nn/blas: A is stored
// m×k (k×m when TransA) with row stride Lda, and so on. Batch products
// (Batch > 1) step through A, B and C by StrideA, StrideB and StrideC
// elements. Offsets are in elements from the start of each buffer.
type GemmArgs struct {
	TransA, TransB            bool
	M, N, K                   int
	Alpha, Beta               float32
	A, B, C                   *Buffer
	OffA, OffB, OffC          int
	Lda, Ldb, Ldc             int
	StrideA, StrideB, StrideC int
	Batch                     int
}

// check validates the product against its buffers' lengths, so that a bad
// shape is an error here rather than a fault on the GPU.
func (g *GemmArgs) check() error {
	if g.A == nil || g.B == nil || g.C == nil {
		return fmt.Errorf("cuda: Gemm with a nil buffer (A %v, B %v, C %v)", g.A != nil, g.B != nil, g.C != nil)
	}
	if g.M < 0 || g.N < 0 || g.K < 0 {
		return fmt.Errorf("cuda: Gemm of negative size %d×%d×%d", g.M, g.N, g.K)
	}
	batch := g.Batch
	if batch == 0 {
		batch = 1
	}
	if batch < 0 {
		return fmt.Errorf("cuda: Gemm with batch %d", g.Batch)
	}
	for _, v := range []int{g.M, g.N, g.K, g.Lda, g.Ldb, g.Ldc, batch} {
		if v > math.MaxInt32 {
			return fmt.Errorf("cuda: Gemm size %d exceeds cuBLAS's 32-bit arguments", v)
		}
	}
	ar, ac := g.M, g.K
	if g.TransA {
		ar, ac = g.K, g.M
	}
	br, bc := g.K, g.N
	if g.TransB {
		br, bc = g.N, g.K
	}
	type mat struct {
		name             string
		buf              *Buffer
		off, r, c, ld, s int
	}
	for _, x := range []mat{{"A", g.A, g.OffA, ar, ac, g.Lda, g.StrideA}, {"B", g.B, g.OffB, br, bc, g.Ldb, g.StrideB}, {"C", g.C, g.OffC, g.M, g.N, g.Ldc, g.StrideC}} {
		if x.ld < max(1, x.c) {
			return fmt.Errorf("cuda: Gemm %s is %d×%d with row stride %d (< %d columns)", x.name, x.r, x.c, x.ld, x.c)
		}
		if x.off < 0 || x.s < 0 {
			return fmt.Errorf("cuda: Gemm %s has offset %d, batch stride %d", x.name, x.off, x.s)
		}
		if x.r == 0 || x.c == 0 {
			continue
		}
		end := x.off + (batch-1)*x.s + (x.r-1)*x.ld + x.c
		if end > x.buf.Len() {
			return fmt.Errorf("cuda: Gemm %s (%d×%d, row stride %d, offset %d, %d batches of stride %d) needs %d elements, its buffer has %d",
				x.name, x.r, x.c, x.ld, x.off, batch, x.s, end, x.buf.Len())
		}
	}
	return nil
}

// colMajor maps the row-major product onto cuBLAS's column-major one:
// Cᵀ = op(B)ᵀ·op(A)ᵀ, so B goes first and m and n swap.
func (g *GemmArgs) colMajor() (ta, tb, m, n, k int32, a, b, c uint64, lda, ldb, ldc int32) {
	return op(g.TransB), op(g.TransA), int32(g.N), int32(g.M), int32(g.K),
		g.B.Ptr() + 4*uint64(g.OffB), g.A.Ptr() + 4*uint64(g.OffA), g.C.Ptr() + 4*uint64(g.OffC),
		int32(g.Ldb), int32(g.Lda), int32(g.Ldc)
}
