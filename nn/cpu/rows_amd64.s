//go:build amd64 && !purego

#include "textflag.h"

// func maxRowsAVX(out, x *float32, m, c int)
//
// out[k] = x[k], then for each row j = 1..m-1 of x (c values apart),
// out[k] = x[j·c+k] if x[j·c+k] > out[k]: VMAXPS with the row first returns
// the row's value only where it compares greater (never for NaN or equal
// zeros), as the scalar loop does. c is a multiple of 8.
TEXT ·maxRowsAVX(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ m+16(FP), DX
	MOVQ c+24(FP), CX
	MOVQ CX, R8
	SHLQ $2, R8 // row stride in bytes
	XORQ AX, AX // column
cols32:
	MOVQ CX, BX
	SUBQ AX, BX
	CMPQ BX, $32
	JLT  cols8
	LEAQ (SI)(AX*4), R9
	VMOVUPS 0(R9), Y0
	VMOVUPS 32(R9), Y1
	VMOVUPS 64(R9), Y2
	VMOVUPS 96(R9), Y3
	MOVQ DX, R10
	DECQ R10
rows32:
	TESTQ R10, R10
	JE    store32
	ADDQ  R8, R9
	VMOVUPS 0(R9), Y4
	VMAXPS Y0, Y4, Y0
	VMOVUPS 32(R9), Y5
	VMAXPS Y1, Y5, Y1
	VMOVUPS 64(R9), Y6
	VMAXPS Y2, Y6, Y2
	VMOVUPS 96(R9), Y7
	VMAXPS Y3, Y7, Y3
	DECQ R10
	JMP  rows32
store32:
	VMOVUPS Y0, 0(DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ $32, AX
	JMP  cols32
cols8:
	CMPQ AX, CX
	JGE  done
	LEAQ (SI)(AX*4), R9
	VMOVUPS 0(R9), Y0
	MOVQ DX, R10
	DECQ R10
rows8:
	TESTQ R10, R10
	JE    store8
	ADDQ  R8, R9
	VMOVUPS 0(R9), Y4
	VMAXPS Y0, Y4, Y0
	DECQ R10
	JMP  rows8
store8:
	VMOVUPS Y0, 0(DI)(AX*4)
	ADDQ $8, AX
	JMP  cols8
done:
	VZEROUPPER
	RET

// func colSumsAVX(sum *float64, x *float32, rows, ld, n int)
//
// sum[k] += float64(x[r·ld+k]) for r = 0..rows-1 in order, k < n (a
// multiple of 16): each channel's additions in row order, four channels a
// lane group, as the scalar loop adds them.
TEXT ·colSumsAVX(SB), NOSPLIT, $0-40
	MOVQ sum+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ rows+16(FP), DX
	MOVQ ld+24(FP), R8
	SHLQ $2, R8
	MOVQ n+32(FP), CX
	XORQ AX, AX
sblock:
	CMPQ AX, CX
	JGE  sdone
	VMOVUPD 0(DI)(AX*8), Y0
	VMOVUPD 32(DI)(AX*8), Y1
	VMOVUPD 64(DI)(AX*8), Y2
	VMOVUPD 96(DI)(AX*8), Y3
	LEAQ (SI)(AX*4), R9
	MOVQ DX, R10
srow:
	TESTQ R10, R10
	JE    sstore
	VCVTPS2PD 0(R9), Y4
	VADDPD Y4, Y0, Y0
	VCVTPS2PD 16(R9), Y5
	VADDPD Y5, Y1, Y1
	VCVTPS2PD 32(R9), Y6
	VADDPD Y6, Y2, Y2
	VCVTPS2PD 48(R9), Y7
	VADDPD Y7, Y3, Y3
	ADDQ R8, R9
	DECQ R10
	JMP  srow
sstore:
	VMOVUPD Y0, 0(DI)(AX*8)
	VMOVUPD Y1, 32(DI)(AX*8)
	VMOVUPD Y2, 64(DI)(AX*8)
	VMOVUPD Y3, 96(DI)(AX*8)
	ADDQ $16, AX
	JMP  sblock
sdone:
	VZEROUPPER
	RET

// func colSqDevAVX(sq, mean *float64, x *float32, rows, ld, n int)
//
// sq[k] += d·d with d = float64(x[r·ld+k]) - mean[k], for r in order, k <
// n (a multiple of 16); the product and the sum rounded one by one.
TEXT ·colSqDevAVX(SB), NOSPLIT, $0-48
	MOVQ sq+0(FP), DI
	MOVQ mean+8(FP), BX
	MOVQ x+16(FP), SI
	MOVQ rows+24(FP), DX
	MOVQ ld+32(FP), R8
	SHLQ $2, R8
	MOVQ n+40(FP), CX
	XORQ AX, AX
qblock:
	CMPQ AX, CX
	JGE  qdone
	VMOVUPD 0(DI)(AX*8), Y0
	VMOVUPD 32(DI)(AX*8), Y1
	VMOVUPD 64(DI)(AX*8), Y2
	VMOVUPD 96(DI)(AX*8), Y3
	VMOVUPD 0(BX)(AX*8), Y8
	VMOVUPD 32(BX)(AX*8), Y9
	VMOVUPD 64(BX)(AX*8), Y10
	VMOVUPD 96(BX)(AX*8), Y11
	LEAQ (SI)(AX*4), R9
	MOVQ DX, R10
qrow:
	TESTQ R10, R10
	JE    qstore
	VCVTPS2PD 0(R9), Y4
	VSUBPD Y8, Y4, Y4
	VMULPD Y4, Y4, Y4
	VADDPD Y4, Y0, Y0
	VCVTPS2PD 16(R9), Y5
	VSUBPD Y9, Y5, Y5
	VMULPD Y5, Y5, Y5
	VADDPD Y5, Y1, Y1
	VCVTPS2PD 32(R9), Y6
	VSUBPD Y10, Y6, Y6
	VMULPD Y6, Y6, Y6
	VADDPD Y6, Y2, Y2
	VCVTPS2PD 48(R9), Y7
	VSUBPD Y11, Y7, Y7
	VMULPD Y7, Y7, Y7
	VADDPD Y7, Y3, Y3
	ADDQ R8, R9
	DECQ R10
	JMP  qrow
qstore:
	VMOVUPD Y0, 0(DI)(AX*8)
	VMOVUPD Y1, 32(DI)(AX*8)
	VMOVUPD Y2, 64(DI)(AX*8)
	VMOVUPD Y3, 96(DI)(AX*8)
	ADDQ $16, AX
	JMP  qblock
qdone:
	VZEROUPPER
	RET

// func affineRowAVX(out, x *float32, mean, rstd, w, b *float64, n int)
//
// out[k] = float32((float64(x[k]) - mean[k])·rstd[k]·w[k] + b[k]) for k <
// n (a multiple of 4), each operation rounded in float64 in that order.
TEXT ·affineRowAVX(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ mean+16(FP), R8
	MOVQ rstd+24(FP), R9
	MOVQ w+32(FP), R10
	MOVQ b+40(FP), R11
	MOVQ n+48(FP), CX
	XORQ AX, AX
aloop:
	CMPQ AX, CX
	JGE  adone
	VCVTPS2PD 0(SI)(AX*4), Y0
	VSUBPD 0(R8)(AX*8), Y0, Y0
	VMULPD 0(R9)(AX*8), Y0, Y0
	VMULPD 0(R10)(AX*8), Y0, Y0
	VADDPD 0(R11)(AX*8), Y0, Y0
	VCVTPD2PSY Y0, X0
	VMOVUPS X0, 0(DI)(AX*4)
	ADDQ $4, AX
	JMP  aloop
adone:
	VZEROUPPER
	RET

// func scaleShiftBackAVX(dx, d, x, gamma *float32, sdx, sdg *float64, n int, wantDx int)
//
// For k < n (a multiple of 4): dx[k] += d[k]·g[k] (float32, when wantDx is
// 1), sdx[k] += float64(d[k])·float64(x[k]) and sdg[k] += float64(d[k]),
// each operation rounded as in the scalar loop.
TEXT ·scaleShiftBackAVX(SB), NOSPLIT, $0-64
	MOVQ dx+0(FP), DI
	MOVQ d+8(FP), SI
	MOVQ x+16(FP), R8
	MOVQ gamma+24(FP), R9
	MOVQ sdx+32(FP), R10
	MOVQ sdg+40(FP), R11
	MOVQ n+48(FP), CX
	MOVQ wantDx+56(FP), DX
	XORQ AX, AX
ssloop:
	CMPQ AX, CX
	JGE  ssdone
	VMOVUPS 0(SI)(AX*4), X0 // d
	TESTQ DX, DX
	JE    ssacc
	VMULPS 0(R9)(AX*4), X0, X1
	VADDPS 0(DI)(AX*4), X1, X1
	VMOVUPS X1, 0(DI)(AX*4)
ssacc:
	VCVTPS2PD X0, Y2
	VCVTPS2PD 0(R8)(AX*4), Y3
	VMULPD Y3, Y2, Y3
	VADDPD 0(R10)(AX*8), Y3, Y3
	VMOVUPD Y3, 0(R10)(AX*8)
	VADDPD 0(R11)(AX*8), Y2, Y2
	VMOVUPD Y2, 0(R11)(AX*8)
	ADDQ $4, AX
	JMP  ssloop
ssdone:
	VZEROUPPER
	RET

// TRANSPOSE4 turns X0-X3, four values of rows a-d, into X0-X3, the four
// rows' values of columns 0-3 (lane l is row l). Clobbers X4-X7.
#define TRANSPOSE4 \
	VUNPCKLPS X1, X0, X4; \
	VUNPCKHPS X1, X0, X5; \
	VUNPCKLPS X3, X2, X6; \
	VUNPCKHPS X3, X2, X7; \
	VMOVLHPS X6, X4, X0; \
	VMOVHLPS X4, X6, X1; \
	VMOVLHPS X7, X5, X2; \
	VMOVHLPS X5, X7, X3

// LOAD4(p) loads four values at column AX of the four rows from p (row
// stride R8 bytes, R9 = 3·R8) into X0-X3.
#define LOAD4(p) \
	VMOVUPS (p)(AX*4), X0; \
	LEAQ (p)(R8*1), R10; \
	VMOVUPS (R10)(AX*4), X1; \
	LEAQ (p)(R8*2), R10; \
	VMOVUPS (R10)(AX*4), X2; \
	LEAQ (p)(R9*1), R10; \
	VMOVUPS (R10)(AX*4), X3

// SUMS4(p, acc) adds to the four lanes of acc, in column order, the four
// values at column AX of the four rows from p (LOAD4), each converted to
// float64. Clobbers X0-X7 (Y0-Y3) and R10.
#define SUMS4(p, acc) \
	LOAD4(p); \
	TRANSPOSE4; \
	VCVTPS2PD X0, Y0; \
	VADDPD Y0, acc, acc; \
	VCVTPS2PD X1, Y1; \
	VADDPD Y1, acc, acc; \
	VCVTPS2PD X2, Y2; \
	VADDPD Y2, acc, acc; \
	VCVTPS2PD X3, Y3; \
	VADDPD Y3, acc, acc

// SQDEV4(p, mean, acc) adds to the four lanes of acc, in column order, the
// squares of the four values at column AX of the four rows from p minus
// mean's lanes, in float64, the difference, square and sum each rounded.
// Clobbers X0-X7 (Y0-Y3) and R10.
#define SQDEV4(p, mean, acc) \
	LOAD4(p); \
	TRANSPOSE4; \
	VCVTPS2PD X0, Y0; \
	VSUBPD mean, Y0, Y0; \
	VMULPD Y0, Y0, Y0; \
	VADDPD Y0, acc, acc; \
	VCVTPS2PD X1, Y1; \
	VSUBPD mean, Y1, Y1; \
	VMULPD Y1, Y1, Y1; \
	VADDPD Y1, acc, acc; \
	VCVTPS2PD X2, Y2; \
	VSUBPD mean, Y2, Y2; \
	VMULPD Y2, Y2, Y2; \
	VADDPD Y2, acc, acc; \
	VCVTPS2PD X3, Y3; \
	VSUBPD mean, Y3, Y3; \
	VMULPD Y3, Y3, Y3; \
	VADDPD Y3, acc, acc

// func rowSums8AVX(x *float32, ld, c int, sum *[8]float64)
//
// sum[l] = Σ float64(x[l·ld+i]) over i < c (a multiple of 4) in order, for
// the eight rows l: each row's sum a lane of one of two vectors (rows 0-3,
// rows 4-7), added column by column as the scalar loop adds them. The two
// vectors' chains of additions are independent, so each fills the other's
// latency.
TEXT ·rowSums8AVX(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ ld+8(FP), R8
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (SI)(R8*4), R11 // rows 4-7
	MOVQ c+16(FP), CX
	MOVQ sum+24(FP), DI
	VXORPD Y8, Y8, Y8
	VXORPD Y10, Y10, Y10
	XORQ AX, AX
r8loop:
	CMPQ AX, CX
	JGE  r8done
	SUMS4(SI, Y8)
	SUMS4(R11, Y10)
	ADDQ $4, AX
	JMP  r8loop
r8done:
	VMOVUPD Y8, (DI)
	VMOVUPD Y10, 32(DI)
	VZEROUPPER
	RET

// func rowDots4AVX(x, y *float32, ld, c int, sum *[4]float64)
//
// sum[l] = Σ float64(x[l·ld+i])·float64(y[l·ld+i]) over i < c (a multiple
// of 4) in order, for the four rows l, as Dot computes it: each product
// exact, each row's sum a lane, rounded after each addition.
TEXT ·rowDots4AVX(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DX
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	MOVQ c+24(FP), CX
	MOVQ sum+32(FP), DI
	VXORPD Y8, Y8, Y8
	XORQ AX, AX
d4loop:
	CMPQ AX, CX
	JGE  d4done
	LOAD4(SI)
	TRANSPOSE4
	VCVTPS2PD X0, Y10
	VCVTPS2PD X1, Y11
	VCVTPS2PD X2, Y12
	VCVTPS2PD X3, Y13
	LOAD4(DX)
	TRANSPOSE4
	VCVTPS2PD X0, Y0
	VMULPD Y10, Y0, Y0
	VADDPD Y0, Y8, Y8
	VCVTPS2PD X1, Y1
	VMULPD Y11, Y1, Y1
	VADDPD Y1, Y8, Y8
	VCVTPS2PD X2, Y2
	VMULPD Y12, Y2, Y2
	VADDPD Y2, Y8, Y8
	VCVTPS2PD X3, Y3
	VMULPD Y13, Y3, Y3
	VADDPD Y3, Y8, Y8
	ADDQ $4, AX
	JMP  d4loop
d4done:
	VMOVUPD Y8, (DI)
	VZEROUPPER
	RET

// func softmaxGradRowAVX(d, y *float32, n int, dot, scale float32)
//
// d[i] = (y[i]·(d[i] - dot))·scale for i < n (a multiple of 8), each
// operation rounded to float32 as softmaxGradRow rounds it.
TEXT ·softmaxGradRowAVX(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS dot+24(FP), Y1
	VBROADCASTSS scale+28(FP), Y2
	XORQ AX, AX
sgloop:
	CMPQ AX, CX
	JGE  sgdone
	VMOVUPS (DI)(AX*4), Y0
	VSUBPS  Y1, Y0, Y0
	VMOVUPS (SI)(AX*4), Y3
	VMULPS  Y0, Y3, Y0
	VMULPS  Y2, Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	JMP  sgloop
sgdone:
	VZEROUPPER
	RET

// func rowSqDev8AVX(x *float32, ld, c int, mean, sq *[8]float64)
//
// sq[l] = Σ d·d, d = float64(x[l·ld+i]) - mean[l], over i < c (a multiple
// of 4) in order, for the eight rows l, in two vectors as rowSums8AVX; the
// product and the sum rounded one by one.
TEXT ·rowSqDev8AVX(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ ld+8(FP), R8
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (SI)(R8*4), R11 // rows 4-7
	MOVQ c+16(FP), CX
	MOVQ mean+24(FP), BX
	MOVQ sq+32(FP), DI
	VMOVUPD (BX), Y9
	VMOVUPD 32(BX), Y11
	VXORPD Y8, Y8, Y8
	VXORPD Y10, Y10, Y10
	XORQ AX, AX
q8loop:
	CMPQ AX, CX
	JGE  q8done
	SQDEV4(SI, Y9, Y8)
	SQDEV4(R11, Y11, Y10)
	ADDQ $4, AX
	JMP  q8loop
q8done:
	VMOVUPD Y8, (DI)
	VMOVUPD Y10, 32(DI)
	VZEROUPPER
	RET

// func normAffineRowAVX(out, x *float32, n int, m, s float32, w, b *float32)
//
// out[i] = (x[i] - m)·s·w[i] + b[i] in float32, each operation rounded in
// that order, for i < n (a multiple of 8).
TEXT ·normAffineRowAVX(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS m+24(FP), Y14
	VBROADCASTSS s+28(FP), Y15
	MOVQ w+32(FP), R8
	MOVQ b+40(FP), R9
	XORQ AX, AX
nloop:
	CMPQ AX, CX
	JGE  ndone
	VMOVUPS (SI)(AX*4), Y0
	VSUBPS Y14, Y0, Y0
	VMULPS Y15, Y0, Y0
	VMULPS (R8)(AX*4), Y0, Y0
	VADDPS (R9)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	JMP  nloop
ndone:
	VZEROUPPER
	RET

// LNROWD is LNROW without the column sums (pdw, pdb): n of row l into X8,
// g into X10, dn and dn·n into the registers named.
#define LNROWD(l, dn, p) \
	VMOVUPS (R10)(AX*4), X8; \
	VBROADCASTSS (4*l)(BX), X9; \
	VSUBPS X9, X8, X8; \
	VBROADCASTSS (4*l)(DX), X9; \
	VMULPS X9, X8, X8; \
	VMOVUPS (R11)(AX*4), X10; \
	VMULPS X15, X10, dn; \
	VMULPS X8, dn, p

// LNROW computes, for row l (x at R10, g at R11, the column block at AX,
// its mean and rstd at BX+4l and DX+4l), n = (x - mean)·rstd and dn = g·w
// (w in X15) into X(dn), p = dn·n into X(p), and adds float64(g·n) and
// float64(g) to the column sums at R13 and R12 (in memory, row after row).
// Clobbers X8-X11.
#define LNROW(l, dn, p) \
	LNROWD(l, dn, p); \
	VMULPS X8, X10, X11; \
	VCVTPS2PD X11, Y11; \
	VADDPD (R13)(AX*8), Y11, Y11; \
	VMOVUPD Y11, (R13)(AX*8); \
	VCVTPS2PD X10, Y10; \
	VADDPD (R12)(AX*8), Y10, Y10; \
	VMOVUPD Y10, (R12)(AX*8)

// LNSUMS adds the four rows' dn (X0-X3) and dn·n (X4-X6, X12), turned
// into columns, to their sums, a row in each lane (Y14 and Y7).
#define LNSUMS \
	VUNPCKLPS X1, X0, X9; \
	VUNPCKHPS X1, X0, X10; \
	VUNPCKLPS X3, X2, X11; \
	VUNPCKHPS X3, X2, X13; \
	VMOVLHPS X11, X9, X0; \
	VMOVHLPS X9, X11, X1; \
	VMOVLHPS X13, X10, X2; \
	VMOVHLPS X10, X13, X3; \
	VCVTPS2PD X0, Y0; \
	VADDPD Y0, Y14, Y14; \
	VCVTPS2PD X1, Y1; \
	VADDPD Y1, Y14, Y14; \
	VCVTPS2PD X2, Y2; \
	VADDPD Y2, Y14, Y14; \
	VCVTPS2PD X3, Y3; \
	VADDPD Y3, Y14, Y14; \
	VUNPCKLPS X5, X4, X9; \
	VUNPCKHPS X5, X4, X10; \
	VUNPCKLPS X12, X6, X11; \
	VUNPCKHPS X12, X6, X13; \
	VMOVLHPS X11, X9, X0; \
	VMOVHLPS X9, X11, X1; \
	VMOVLHPS X13, X10, X2; \
	VMOVHLPS X10, X13, X3; \
	VCVTPS2PD X0, Y0; \
	VADDPD Y0, Y7, Y7; \
	VCVTPS2PD X1, Y1; \
	VADDPD Y1, Y7, Y7; \
	VCVTPS2PD X2, Y2; \
	VADDPD Y2, Y7, Y7; \
	VCVTPS2PD X3, Y3; \
	VADDPD Y3, Y7, Y7

// func lnBack4AVX(x, gr *float32, ld, c int, mean, rstd *[4]float32, w *float32, sums *[8]float64, pdw, pdb *float64)
//
// LayerNorm's backward sums for four rows (x and g rows ld apart, c a
// multiple of 4 values each): per row, sums[l] += float64(dn) and
// sums[4+l] += float64(dn·n) over the columns in order, with n = (x -
// mean)·rstd and dn = g·w in float32; per column, pdw += float64(g·n) and
// pdb += float64(g) over the four rows in order (when pdw is nil, neither).
TEXT ·lnBack4AVX(SB), NOSPLIT, $0-80
	MOVQ x+0(FP), SI
	MOVQ gr+8(FP), DI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ c+24(FP), CX
	MOVQ mean+32(FP), BX
	MOVQ rstd+40(FP), DX
	MOVQ w+48(FP), R9
	MOVQ sums+56(FP), R12
	VMOVUPD 0(R12), Y14 // Σ dn, a lane a row
	VMOVUPD 32(R12), Y7 // Σ dn·n
	MOVQ pdw+64(FP), R13
	MOVQ pdb+72(FP), R12
	XORQ AX, AX
	TESTQ R13, R13
	JZ   ldloop // no column sums wanted
lbloop:
	CMPQ AX, CX
	JGE  lbdone
	VMOVUPS (R9)(AX*4), X15
	MOVQ SI, R10
	MOVQ DI, R11
	LNROW(0, X0, X4)
	ADDQ R8, R10
	ADDQ R8, R11
	LNROW(1, X1, X5)
	ADDQ R8, R10
	ADDQ R8, R11
	LNROW(2, X2, X6)
	ADDQ R8, R10
	ADDQ R8, R11
	LNROW(3, X3, X12)
	LNSUMS
	ADDQ $4, AX
	JMP  lbloop
ldloop:
	CMPQ AX, CX
	JGE  lbdone
	VMOVUPS (R9)(AX*4), X15
	MOVQ SI, R10
	MOVQ DI, R11
	LNROWD(0, X0, X4)
	ADDQ R8, R10
	ADDQ R8, R11
	LNROWD(1, X1, X5)
	ADDQ R8, R10
	ADDQ R8, R11
	LNROWD(2, X2, X6)
	ADDQ R8, R10
	ADDQ R8, R11
	LNROWD(3, X3, X12)
	LNSUMS
	ADDQ $4, AX
	JMP  ldloop
lbdone:
	MOVQ sums+56(FP), R12
	VMOVUPD Y14, 0(R12)
	VMOVUPD Y7, 32(R12)
	VZEROUPPER
	RET

// func lnBackDxAVX(dx, x, gr, w *float32, n int, m, rs, mD, mDN float32)
//
// dx[i] += rs·((g[i]·w[i] - mD) - n·mDN), n = (x[i] - m)·rs, in float32 in
// that order, for i < n (a multiple of 8).
TEXT ·lnBackDxAVX(SB), NOSPLIT, $0-56
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gr+16(FP), R8
	MOVQ w+24(FP), R9
	MOVQ n+32(FP), CX
	VBROADCASTSS m+40(FP), Y12
	VBROADCASTSS rs+44(FP), Y13
	VBROADCASTSS mD+48(FP), Y14
	VBROADCASTSS mDN+52(FP), Y15
	XORQ AX, AX
dxloop:
	CMPQ AX, CX
	JGE  dxdone
	VMOVUPS (SI)(AX*4), Y0
	VSUBPS Y12, Y0, Y0
	VMULPS Y13, Y0, Y0 // n
	VMOVUPS (R8)(AX*4), Y1
	VMULPS (R9)(AX*4), Y1, Y1 // dn
	VSUBPS Y14, Y1, Y1
	VMULPS Y15, Y0, Y0
	VSUBPS Y0, Y1, Y1
	VMULPS Y13, Y1, Y1
	VADDPS (DI)(AX*4), Y1, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ $8, AX
	JMP  dxloop
dxdone:
	VZEROUPPER
	RET

// func addAVX(out, a, b *float32, n int, zero bool)
//
// out[i] = a[i] + b[i] for i < n, n a multiple of 32; with zero set, b is
// not read and out[i] = a[i] + 0 (which turns -0 into +0).
TEXT ·addAVX(SB), NOSPLIT, $0-33
	MOVQ    out+0(FP), DI
	MOVQ    a+8(FP), SI
	MOVQ    b+16(FP), DX
	MOVQ    n+24(FP), CX
	MOVBLZX zero+32(FP), R9
	XORQ    AX, AX
	VXORPS  Y8, Y8, Y8
	TESTQ   R9, R9
	JNZ     addzero

addloop:
	VMOVUPS (SI)(AX*4), Y0
	VMOVUPS 32(SI)(AX*4), Y1
	VMOVUPS 64(SI)(AX*4), Y2
	VMOVUPS 96(SI)(AX*4), Y3
	VADDPS  (DX)(AX*4), Y0, Y0
	VADDPS  32(DX)(AX*4), Y1, Y1
	VADDPS  64(DX)(AX*4), Y2, Y2
	VADDPS  96(DX)(AX*4), Y3, Y3
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ    $32, AX
	CMPQ    AX, CX
	JLT     addloop
	VZEROUPPER
	RET

addzero:
	VADDPS  (SI)(AX*4), Y8, Y0
	VADDPS  32(SI)(AX*4), Y8, Y1
	VADDPS  64(SI)(AX*4), Y8, Y2
	VADDPS  96(SI)(AX*4), Y8, Y3
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ    $32, AX
	CMPQ    AX, CX
	JLT     addzero
	VZEROUPPER
	RET
