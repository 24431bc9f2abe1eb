//go:build amd64 && !purego

#include "textflag.h"

// func gather4x4(d *float32, dstride int, src *float32, sstride int, n int, alpha float32)
//
// For g < n, q < 4 and r < 4 (strides in bytes):
//
//	d[(4g+q)·dstride + 4r] = alpha · src[r·sstride + 4(4g+q)]
//
// that is, four rows of src become 4n columns of four values in d, one 4×4
// SSE transpose at a time.
TEXT ·gather4x4(SB), NOSPLIT, $0-44
	MOVQ   d+0(FP), DI
	MOVQ   dstride+8(FP), DX
	MOVQ   src+16(FP), SI
	MOVQ   sstride+24(FP), R8
	MOVQ   n+32(FP), CX
	MOVSS  alpha+40(FP), X8
	SHUFPS $0, X8, X8
	LEAQ   (R8)(R8*2), R9   // 3·sstride
	LEAQ   (DX)(DX*2), R10  // 3·dstride
	MOVQ   DX, R11
	SHLQ   $2, R11          // 4·dstride
	TESTQ  CX, CX
	JZ     done

loop:
	MOVUPS   (SI), X0        // a0 a1 a2 a3
	MOVUPS   (SI)(R8*1), X1  // b0 b1 b2 b3
	MOVUPS   (SI)(R8*2), X2  // c0 c1 c2 c3
	MOVUPS   (SI)(R9*1), X3  // d0 d1 d2 d3
	MULPS    X8, X0
	MULPS    X8, X1
	MULPS    X8, X2
	MULPS    X8, X3
	MOVAPS   X0, X4
	UNPCKLPS X1, X4          // a0 b0 a1 b1
	UNPCKHPS X1, X0          // a2 b2 a3 b3
	MOVAPS   X2, X5
	UNPCKLPS X3, X5          // c0 d0 c1 d1
	UNPCKHPS X3, X2          // c2 d2 c3 d3
	MOVAPS   X4, X6
	UNPCKLPD X5, X6          // a0 b0 c0 d0
	UNPCKHPD X5, X4          // a1 b1 c1 d1
	MOVAPS   X0, X7
	UNPCKLPD X2, X7          // a2 b2 c2 d2
	UNPCKHPD X2, X0          // a3 b3 c3 d3
	MOVUPS   X6, (DI)
	MOVUPS   X4, (DI)(DX*1)
	MOVUPS   X7, (DI)(DX*2)
	MOVUPS   X0, (DI)(R10*1)
	ADDQ     $16, SI
	ADDQ     R11, DI
	DECQ     CX
	JNZ      loop

done:
	RET

// func copyScale(d *float32, dstride int, src *float32, sstride int, rows, n int, alpha float32)
//
// For i < rows and j < 4n (strides in bytes):
//
//	d[i·dstride + 4j] = alpha · src[i·sstride + 4j]
TEXT ·copyScale(SB), NOSPLIT, $0-52
	MOVQ   d+0(FP), DI
	MOVQ   dstride+8(FP), DX
	MOVQ   src+16(FP), SI
	MOVQ   sstride+24(FP), R8
	MOVQ   rows+32(FP), CX
	MOVQ   n+40(FP), R9
	MOVSS  alpha+48(FP), X8
	SHUFPS $0, X8, X8
	TESTQ  CX, CX
	JZ     cdone
	TESTQ  R9, R9
	JZ     cdone

crow:
	XORQ AX, AX
	MOVQ R9, BX

ccol:
	MOVUPS (SI)(AX*1), X0
	MULPS  X8, X0
	MOVUPS X0, (DI)(AX*1)
	ADDQ   $16, AX
	DECQ   BX
	JNZ    ccol
	ADDQ   R8, SI
	ADDQ   DX, DI
	DECQ   CX
	JNZ    crow

cdone:
	RET

// func gather8x4(d *float32, dstride int, src *float32, sstride int, n int, alpha float32)
//
// As gather4x4, eight columns at a time (n groups of 8) with AVX: the two
// 128-bit lanes transpose columns j and j+4 side by side.
TEXT ·gather8x4(SB), NOSPLIT, $0-44
	MOVQ         d+0(FP), DI
	MOVQ         dstride+8(FP), DX
	MOVQ         src+16(FP), SI
	MOVQ         sstride+24(FP), R8
	MOVQ         n+32(FP), CX
	VBROADCASTSS alpha+40(FP), Y8
	LEAQ         (R8)(R8*2), R9   // 3·sstride
	LEAQ         (DX)(DX*2), R10  // 3·dstride
	MOVQ         DX, R11
	SHLQ         $2, R11          // 4·dstride
	LEAQ         (DI)(R11*1), R12 // d + 4·dstride: columns 4..7
	TESTQ        CX, CX
	JZ           done8

loop8:
	VMULPS       (SI), Y8, Y0        // a0..a7
	VMULPS       (SI)(R8*1), Y8, Y1  // b0..b7
	VMULPS       (SI)(R8*2), Y8, Y2  // c0..c7
	VMULPS       (SI)(R9*1), Y8, Y3  // d0..d7
	VUNPCKLPS    Y1, Y0, Y4          // a0 b0 a1 b1 | a4 b4 a5 b5
	VUNPCKHPS    Y1, Y0, Y5          // a2 b2 a3 b3 | a6 b6 a7 b7
	VUNPCKLPS    Y3, Y2, Y6          // c0 d0 c1 d1 | c4 d4 c5 d5
	VUNPCKHPS    Y3, Y2, Y7          // c2 d2 c3 d3 | c6 d6 c7 d7
	VUNPCKLPD    Y6, Y4, Y0          // column 0 | column 4
	VUNPCKHPD    Y6, Y4, Y1          // column 1 | column 5
	VUNPCKLPD    Y7, Y5, Y2          // column 2 | column 6
	VUNPCKHPD    Y7, Y5, Y3          // column 3 | column 7
	VMOVUPS      X0, (DI)
	VMOVUPS      X1, (DI)(DX*1)
	VMOVUPS      X2, (DI)(DX*2)
	VMOVUPS      X3, (DI)(R10*1)
	VEXTRACTF128 $1, Y0, (R12)
	VEXTRACTF128 $1, Y1, (R12)(DX*1)
	VEXTRACTF128 $1, Y2, (R12)(DX*2)
	VEXTRACTF128 $1, Y3, (R12)(R10*1)
	ADDQ         $32, SI
	LEAQ         (DI)(R11*2), DI
	LEAQ         (R12)(R11*2), R12
	DECQ         CX
	JNZ          loop8

done8:
	VZEROUPPER
	RET

// TRANSPOSE4 loads four rows of eight values at base (rows sstride = R8
// bytes apart, R9 = 3·sstride), scaled by Y15, and transposes each half:
// r0 = a0 b0 c0 d0 | a4 b4 c4 d4, r1 = a1 b1 c1 d1 | a5 b5 c5 d5, and so
// on. It overwrites Y8-Y11.
#define TRANSPOSE4(base, r0, r1, r2, r3) \
	VMULPS    (base), Y15, r0; \
	VMULPS    (base)(R8*1), Y15, r1; \
	VMULPS    (base)(R8*2), Y15, r2; \
	VMULPS    (base)(R9*1), Y15, r3; \
	VUNPCKLPS r1, r0, Y8; \
	VUNPCKHPS r1, r0, Y9; \
	VUNPCKLPS r3, r2, Y10; \
	VUNPCKHPS r3, r2, Y11; \
	VSHUFPS   $0x44, Y10, Y8, r0; \
	VSHUFPS   $0xEE, Y10, Y8, r1; \
	VSHUFPS   $0x44, Y11, Y9, r2; \
	VSHUFPS   $0xEE, Y11, Y9, r3

// COLUMNS4 joins the halves of Y0-Y3 and Y4-Y7 that sel picks ($0x20 the
// lower, $0x31 the upper) into four columns of the block, stores them at
// DI, DI + dstride, … (DX = dstride, R10 = 3·dstride) and advances DI by
// four rows. It overwrites Y8-Y11.
#define COLUMNS4(sel) \
	VPERM2F128 sel, Y4, Y0, Y8; \
	VPERM2F128 sel, Y5, Y1, Y9; \
	VPERM2F128 sel, Y6, Y2, Y10; \
	VPERM2F128 sel, Y7, Y3, Y11; \
	VMOVUPS    Y8, (DI); \
	VMOVUPS    Y9, (DI)(DX*1); \
	VMOVUPS    Y10, (DI)(DX*2); \
	VMOVUPS    Y11, (DI)(R10*1); \
	LEAQ       (DI)(DX*4), DI

// func gather8x8(d *float32, dstride int, src *float32, sstride int, n int, alpha float32)
//
// As gather8x4 for eight rows of src at a time (strides in bytes), n groups
// of 8 columns: the 8×8 block is transposed in registers and each row of d
// gets 8 values in one store.
//
//	d[(8g+i)·dstride + 4q] = alpha · src[q·sstride + 4(8g+i)],  i, q < 8
TEXT ·gather8x8(SB), NOSPLIT, $0-44
	MOVQ         d+0(FP), DI
	MOVQ         dstride+8(FP), DX
	MOVQ         src+16(FP), SI
	MOVQ         sstride+24(FP), R8
	MOVQ         n+32(FP), CX
	VBROADCASTSS alpha+40(FP), Y15
	LEAQ         (R8)(R8*2), R9  // 3·sstride
	LEAQ         (DX)(DX*2), R10 // 3·dstride
	LEAQ         (SI)(R8*4), R11 // rows 4..7
	TESTQ        CX, CX
	JZ           done88

loop88:
	// Rows 0..3 (a, b, c, d) into Y0-Y3 as a0 b0 c0 d0 | a4 b4 c4 d4, …,
	// rows 4..7 (e, f, g, h) into Y4-Y7 likewise.
	TRANSPOSE4(SI, Y0, Y1, Y2, Y3)
	TRANSPOSE4(R11, Y4, Y5, Y6, Y7)
	// Columns 0..3 of the block (the lower halves), then 4..7.
	COLUMNS4($0x20)
	COLUMNS4($0x31)
	ADDQ       $32, SI
	ADDQ       $32, R11
	DECQ       CX
	JNZ        loop88

done88:
	VZEROUPPER
	RET
