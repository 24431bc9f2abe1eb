//go:build amd64 && !purego

#include "textflag.h"

// Rows of geluTab (activation.go): byte offsets of the eight-lane constants.
#define RSQRT2 0(R8)
#define ABS 32(R8)
#define SIGN 64(R8)
#define EXPMIN 96(R8)
#define INVLN2 128(R8)
#define HALF 160(R8)
#define LN2HI 192(R8)
#define LN2LO 224(R8)
#define C720 256(R8)
#define C120 288(R8)
#define C24 320(R8)
#define C6 352(R8)
#define ONE 384(R8)
#define ERFP 416(R8)
#define A5 448(R8)
#define A4 480(R8)
#define A3 512(R8)
#define A2 544(R8)
#define A1 576(R8)
#define RSQRT2PI 608(R8)
#define BIAS 640(R8)

// CDF computes, for the eight x in Y0, Φ(x) into Y10 and exp(-x²/2) into
// Y7, with normCDF's and expf's operations in their order, each rounded to
// float32: z = x/√2 (Y1), |z| (Y2), w = -z·z (Y3), n = floor(w/ln2 + 0.5)
// (Y4), r = w - n·ln2hi - n·ln2lo (Y5), the polynomial p(r) (Y6), e = 0 where
// w < -87, else 2^n·p (Y7), t = 1/(p·|z| + 1) (Y9), erf(|z|) negated where
// z < 0, and Φ = 0.5·(1 + erf) (Y10). Expects Y15 = 1 and Y14 = 0; clobbers
// Y1-Y11.
#define CDF \
	VMULPS RSQRT2, Y0, Y1; \
	VANDPS ABS, Y1, Y2; \
	VMULPS Y1, Y1, Y3; \
	VXORPS SIGN, Y3, Y3; \
	VMULPS INVLN2, Y3, Y4; \
	VADDPS HALF, Y4, Y4; \
	VROUNDPS $1, Y4, Y4; \
	VMULPS LN2HI, Y4, Y5; \
	VSUBPS Y5, Y3, Y5; \
	VMULPS LN2LO, Y4, Y6; \
	VSUBPS Y6, Y5, Y5; \
	VMULPS C720, Y5, Y6; \
	VADDPS C120, Y6, Y6; \
	VMULPS Y5, Y6, Y6; \
	VADDPS C24, Y6, Y6; \
	VMULPS Y5, Y6, Y6; \
	VADDPS C6, Y6, Y6; \
	VMULPS Y5, Y6, Y6; \
	VADDPS HALF, Y6, Y6; \
	VMULPS Y5, Y6, Y6; \
	VADDPS Y15, Y6, Y6; \
	VMULPS Y5, Y6, Y6; \
	VADDPS Y15, Y6, Y6; \
	VCVTTPS2DQ Y4, Y7; \
	VPADDD BIAS, Y7, Y7; \
	VPSLLD $23, Y7, Y7; \
	VMULPS Y6, Y7, Y7; \
	VCMPPS $1, EXPMIN, Y3, Y8; \
	VANDNPS Y7, Y8, Y7; \
	VMULPS ERFP, Y2, Y9; \
	VADDPS Y15, Y9, Y9; \
	VDIVPS Y9, Y15, Y9; \
	VMULPS A5, Y9, Y10; \
	VADDPS A4, Y10, Y10; \
	VMULPS Y9, Y10, Y10; \
	VADDPS A3, Y10, Y10; \
	VMULPS Y9, Y10, Y10; \
	VADDPS A2, Y10, Y10; \
	VMULPS Y9, Y10, Y10; \
	VADDPS A1, Y10, Y10; \
	VMULPS Y9, Y10, Y10; \
	VMULPS Y7, Y10, Y10; \
	VSUBPS Y10, Y15, Y10; \
	VCMPPS $1, Y14, Y1, Y11; \
	VANDPS SIGN, Y11, Y11; \
	VXORPS Y11, Y10, Y10; \
	VADDPS Y15, Y10, Y10; \
	VMULPS HALF, Y10, Y10

// func geluExactAVX2(out, x *float32, n int, tab *[geluTabLen][8]float32)
TEXT ·geluExactAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ tab+24(FP), R8
	VMOVUPS ONE, Y15
	VXORPS Y14, Y14, Y14
	XORQ AX, AX

fwd:
	VMOVUPS (SI)(AX*4), Y0
	CDF
	VMULPS Y10, Y0, Y12
	VMOVUPS Y12, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, CX
	JLT fwd
	VZEROUPPER
	RET

// func geluExactBackAVX2(dx, dout, x *float32, n int, tab *[geluTabLen][8]float32, acc bool)
TEXT ·geluExactBackAVX2(SB), NOSPLIT, $0-41
	MOVQ dx+0(FP), DI
	MOVQ dout+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	MOVQ tab+32(FP), R8
	MOVBLZX acc+40(FP), R9
	VMOVUPS ONE, Y15
	VXORPS Y14, Y14, Y14
	XORQ AX, AX

back:
	VMOVUPS (SI)(AX*4), Y0
	CDF
	VMULPS RSQRT2PI, Y7, Y12    // φ = e/√(2π)
	VMULPS Y12, Y0, Y12         // x·φ
	VADDPS Y12, Y10, Y12        // Φ + x·φ
	VMULPS (DX)(AX*4), Y12, Y12 // ·dout
	TESTQ R9, R9
	JZ set
	VADDPS (DI)(AX*4), Y12, Y12
	JMP store

set:
	VADDPS Y14, Y12, Y12 // 0 + v, as adding to a zeroed dx

store:
	VMOVUPS Y12, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, CX
	JLT back
	VZEROUPPER
	RET

// CDF512 is CDF on the sixteen x in Z0, with the same operations in the
// same order: Φ(x) into Z10, exp(-x²/2) into Z7. The constants are
// broadcast from geluTab's rows; comparisons go through K1-K3. Expects
// Z15 = 1 and Z14 = 0; clobbers Z1-Z11.
#define CDF512 \
	VMULPS.BCST RSQRT2, Z0, Z1; \
	VPANDD.BCST ABS, Z1, Z2; \
	VMULPS Z1, Z1, Z3; \
	VPXORD.BCST SIGN, Z3, Z3; \
	VMULPS.BCST INVLN2, Z3, Z4; \
	VADDPS.BCST HALF, Z4, Z4; \
	VRNDSCALEPS $1, Z4, Z4; \
	VMULPS.BCST LN2HI, Z4, Z5; \
	VSUBPS Z5, Z3, Z5; \
	VMULPS.BCST LN2LO, Z4, Z6; \
	VSUBPS Z6, Z5, Z5; \
	VMULPS.BCST C720, Z5, Z6; \
	VADDPS.BCST C120, Z6, Z6; \
	VMULPS Z5, Z6, Z6; \
	VADDPS.BCST C24, Z6, Z6; \
	VMULPS Z5, Z6, Z6; \
	VADDPS.BCST C6, Z6, Z6; \
	VMULPS Z5, Z6, Z6; \
	VADDPS.BCST HALF, Z6, Z6; \
	VMULPS Z5, Z6, Z6; \
	VADDPS Z15, Z6, Z6; \
	VMULPS Z5, Z6, Z6; \
	VADDPS Z15, Z6, Z6; \
	VCVTTPS2DQ Z4, Z7; \
	VPADDD.BCST BIAS, Z7, Z7; \
	VPSLLD $23, Z7, Z7; \
	VMULPS Z6, Z7, Z7; \
	VCMPPS.BCST $1, EXPMIN, Z3, K1; \
	KNOTW K1, K2; \
	VMOVAPS.Z Z7, K2, Z7; \
	VMULPS.BCST ERFP, Z2, Z9; \
	VADDPS Z15, Z9, Z9; \
	VDIVPS Z9, Z15, Z9; \
	VMULPS.BCST A5, Z9, Z10; \
	VADDPS.BCST A4, Z10, Z10; \
	VMULPS Z9, Z10, Z10; \
	VADDPS.BCST A3, Z10, Z10; \
	VMULPS Z9, Z10, Z10; \
	VADDPS.BCST A2, Z10, Z10; \
	VMULPS Z9, Z10, Z10; \
	VADDPS.BCST A1, Z10, Z10; \
	VMULPS Z9, Z10, Z10; \
	VMULPS Z7, Z10, Z10; \
	VSUBPS Z10, Z15, Z10; \
	VCMPPS $1, Z14, Z1, K3; \
	VPXORD.BCST SIGN, Z10, K3, Z10; \
	VADDPS Z15, Z10, Z10; \
	VMULPS.BCST HALF, Z10, Z10

// func geluExactAVX512(out, x *float32, n int, tab *[geluTabLen][8]float32)
TEXT ·geluExactAVX512(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ tab+24(FP), R8
	VBROADCASTSS ONE, Z15
	VPXORD Z14, Z14, Z14
	XORQ AX, AX

fwd512:
	VMOVUPS (SI)(AX*4), Z0
	CDF512
	VMULPS Z10, Z0, Z12
	VMOVUPS Z12, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, CX
	JLT fwd512
	VZEROUPPER
	RET

// func geluExactBackAVX512(dx, dout, x *float32, n int, tab *[geluTabLen][8]float32, acc bool)
TEXT ·geluExactBackAVX512(SB), NOSPLIT, $0-41
	MOVQ dx+0(FP), DI
	MOVQ dout+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	MOVQ tab+32(FP), R8
	MOVBLZX acc+40(FP), R9
	VBROADCASTSS ONE, Z15
	VPXORD Z14, Z14, Z14
	XORQ AX, AX

back512:
	VMOVUPS (SI)(AX*4), Z0
	CDF512
	VMULPS.BCST RSQRT2PI, Z7, Z12 // φ = e/√(2π)
	VMULPS Z12, Z0, Z12           // x·φ
	VADDPS Z12, Z10, Z12          // Φ + x·φ
	VMULPS (DX)(AX*4), Z12, Z12   // ·dout
	TESTQ R9, R9
	JZ set512
	VADDPS (DI)(AX*4), Z12, Z12
	JMP store512

set512:
	VADDPS Z14, Z12, Z12 // 0 + v, as adding to a zeroed dx

store512:
	VMOVUPS Z12, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, CX
	JLT back512
	VZEROUPPER
	RET
