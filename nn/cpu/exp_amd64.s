//go:build amd64 && !purego

#include "textflag.h"

// Go's math.Exp on amd64 (archExp in math/exp_amd64.s, its fused
// multiply-add path, which it takes on every CPU with AVX2 and FMA) over
// four float64 lanes: the same constants and the same operations in the
// same order, each rounded as there, so each lane is math.Exp's result bit
// for bit. Each constant is repeated in four lanes.
DATA expconst<>+0(SB)/8, $0.5
DATA expconst<>+8(SB)/8, $0.5
DATA expconst<>+16(SB)/8, $0.5
DATA expconst<>+24(SB)/8, $0.5
DATA expconst<>+32(SB)/8, $1.0
DATA expconst<>+40(SB)/8, $1.0
DATA expconst<>+48(SB)/8, $1.0
DATA expconst<>+56(SB)/8, $1.0
DATA expconst<>+64(SB)/8, $2.0
DATA expconst<>+72(SB)/8, $2.0
DATA expconst<>+80(SB)/8, $2.0
DATA expconst<>+88(SB)/8, $2.0
DATA expconst<>+96(SB)/8, $1.6666666666666666667e-1
DATA expconst<>+104(SB)/8, $1.6666666666666666667e-1
DATA expconst<>+112(SB)/8, $1.6666666666666666667e-1
DATA expconst<>+120(SB)/8, $1.6666666666666666667e-1
DATA expconst<>+128(SB)/8, $4.1666666666666666667e-2
DATA expconst<>+136(SB)/8, $4.1666666666666666667e-2
DATA expconst<>+144(SB)/8, $4.1666666666666666667e-2
DATA expconst<>+152(SB)/8, $4.1666666666666666667e-2
DATA expconst<>+160(SB)/8, $8.3333333333333333333e-3
DATA expconst<>+168(SB)/8, $8.3333333333333333333e-3
DATA expconst<>+176(SB)/8, $8.3333333333333333333e-3
DATA expconst<>+184(SB)/8, $8.3333333333333333333e-3
DATA expconst<>+192(SB)/8, $1.3888888888888888889e-3
DATA expconst<>+200(SB)/8, $1.3888888888888888889e-3
DATA expconst<>+208(SB)/8, $1.3888888888888888889e-3
DATA expconst<>+216(SB)/8, $1.3888888888888888889e-3
DATA expconst<>+224(SB)/8, $1.9841269841269841270e-4
DATA expconst<>+232(SB)/8, $1.9841269841269841270e-4
DATA expconst<>+240(SB)/8, $1.9841269841269841270e-4
DATA expconst<>+248(SB)/8, $1.9841269841269841270e-4
DATA expconst<>+256(SB)/8, $2.4801587301587301587e-5
DATA expconst<>+264(SB)/8, $2.4801587301587301587e-5
DATA expconst<>+272(SB)/8, $2.4801587301587301587e-5
DATA expconst<>+280(SB)/8, $2.4801587301587301587e-5
DATA expconst<>+288(SB)/8, $1.4426950408889634073599246810018920
DATA expconst<>+296(SB)/8, $1.4426950408889634073599246810018920
DATA expconst<>+304(SB)/8, $1.4426950408889634073599246810018920
DATA expconst<>+312(SB)/8, $1.4426950408889634073599246810018920
DATA expconst<>+320(SB)/8, $0.69314718055966295651160180568695068359375
DATA expconst<>+328(SB)/8, $0.69314718055966295651160180568695068359375
DATA expconst<>+336(SB)/8, $0.69314718055966295651160180568695068359375
DATA expconst<>+344(SB)/8, $0.69314718055966295651160180568695068359375
DATA expconst<>+352(SB)/8, $0.28235290563031577122588448175013436025525412068e-12
DATA expconst<>+360(SB)/8, $0.28235290563031577122588448175013436025525412068e-12
DATA expconst<>+368(SB)/8, $0.28235290563031577122588448175013436025525412068e-12
DATA expconst<>+376(SB)/8, $0.28235290563031577122588448175013436025525412068e-12
DATA expconst<>+384(SB)/8, $0.0625
DATA expconst<>+392(SB)/8, $0.0625
DATA expconst<>+400(SB)/8, $0.0625
DATA expconst<>+408(SB)/8, $0.0625
DATA expconst<>+416(SB)/8, $-700.0
DATA expconst<>+424(SB)/8, $-700.0
DATA expconst<>+432(SB)/8, $-700.0
DATA expconst<>+440(SB)/8, $-700.0
DATA expconst<>+448(SB)/8, $700.0
DATA expconst<>+456(SB)/8, $700.0
DATA expconst<>+464(SB)/8, $700.0
DATA expconst<>+472(SB)/8, $700.0
DATA expconst<>+480(SB)/8, $0x3FF
DATA expconst<>+488(SB)/8, $0x3FF
DATA expconst<>+496(SB)/8, $0x3FF
DATA expconst<>+504(SB)/8, $0x3FF
GLOBL expconst<>(SB), RODATA|NOPTR, $512

#define HALF expconst<>+0(SB)
#define ONE expconst<>+32(SB)
#define TWO expconst<>+64(SB)
#define C3 expconst<>+96(SB)
#define C4 expconst<>+128(SB)
#define C5 expconst<>+160(SB)
#define C6 expconst<>+192(SB)
#define C7 expconst<>+224(SB)
#define C8 expconst<>+256(SB)
#define LOG2E expconst<>+288(SB)
#define LN2U expconst<>+320(SB)
#define LN2L expconst<>+352(SB)
#define SIXTEENTH expconst<>+384(SB)
#define LO expconst<>+416(SB)
#define HI expconst<>+448(SB)
#define BIAS expconst<>+480(SB)

// func expShiftedAVX2(out, x *float32, n int, m float32) int
//
// out[i] = float32(math.Exp(float64(x[i] - m))) for i < n, n a multiple of
// 4, four at a time; it stops before the first four with a lane outside
// [-700, 700] or NaN (where archExp leaves its common path) and returns how
// many it wrote.
TEXT ·expShiftedAVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS m+24(FP), X15
	XORQ AX, AX

loop:
	CMPQ AX, CX
	JGE  done
	VMOVUPS (SI)(AX*4), X0
	VSUBPS  X15, X0, X0 // x - m in float32
	VCVTPS2PD X0, Y0
	VCMPPD  $0x1D, LO, Y0, Y1 // x >= -700 (false for NaN)
	VCMPPD  $0x12, HI, Y0, Y2 // x <= 700
	VANDPD  Y1, Y2, Y1
	VMOVMSKPD Y1, BX
	CMPQ    BX, $15
	JNE     done

	// exponent = round(x·log2e), x -= exponent·ln2 (upper, then lower half)
	VMULPD  LOG2E, Y0, Y1
	VCVTPD2DQY Y1, X2
	VCVTDQ2PD X2, Y1
	VMOVUPD LN2U, Y3
	VFNMADD231PD Y3, Y1, Y0
	VMOVUPD LN2L, Y3
	VFNMADD231PD Y3, Y1, Y0
	// reduce the argument, Taylor series (Horner)
	VMULPD  SIXTEENTH, Y0, Y0
	VMOVUPD C8, Y1
	VFMADD213PD C7, Y0, Y1
	VFMADD213PD C6, Y0, Y1
	VFMADD213PD C5, Y0, Y1
	VFMADD213PD C4, Y0, Y1
	VFMADD213PD C3, Y0, Y1
	VFMADD213PD HALF, Y0, Y1
	VFMADD213PD ONE, Y0, Y1
	VMULPD  Y1, Y0, Y0
	// square four times: (1+r)^16 - 1 as archExp forms it
	VADDPD  TWO, Y0, Y1
	VMULPD  Y1, Y0, Y0
	VADDPD  TWO, Y0, Y1
	VMULPD  Y1, Y0, Y0
	VADDPD  TWO, Y0, Y1
	VMULPD  Y1, Y0, Y0
	VADDPD  TWO, Y0, Y1
	VFMADD213PD ONE, Y1, Y0
	// times 2^exponent (a normal number in this range)
	VPMOVSXDQ X2, Y2
	VPADDQ  BIAS, Y2, Y2
	VPSLLQ  $52, Y2, Y2
	VMULPD  Y2, Y0, Y0
	VCVTPD2PSY Y0, X0
	VMOVUPS X0, (DI)(AX*4)
	ADDQ    $4, AX
	JMP     loop

done:
	VZEROUPPER
	MOVQ AX, ret+32(FP)
	RET

// EXP8 sets Z0 to math.Exp of its eight float64 lanes, each in [-700,
// 700] (math.Exp's common path): archExp's operations in its order. The
// exponent k = round(x·log2e); x -= k·ln2 (upper, then lower half); the
// Taylor series of x/16 in Horner form, (1+r)^16 - 1 by squaring four
// times, plus 1, times 2^k (a normal number in this range). It overwrites
// Z1, Z2 and Z3.
#define EXP8 \
	VMULPD.BCST LOG2E, Z0, Z1; \
	VCVTPD2DQ Z1, Y2; \
	VCVTDQ2PD Y2, Z1; \
	VBROADCASTSD LN2U, Z3; \
	VFNMADD231PD Z3, Z1, Z0; \
	VBROADCASTSD LN2L, Z3; \
	VFNMADD231PD Z3, Z1, Z0; \
	VMULPD.BCST SIXTEENTH, Z0, Z0; \
	VBROADCASTSD C8, Z1; \
	VFMADD213PD.BCST C7, Z0, Z1; \
	VFMADD213PD.BCST C6, Z0, Z1; \
	VFMADD213PD.BCST C5, Z0, Z1; \
	VFMADD213PD.BCST C4, Z0, Z1; \
	VFMADD213PD.BCST C3, Z0, Z1; \
	VFMADD213PD.BCST HALF, Z0, Z1; \
	VFMADD213PD.BCST ONE, Z0, Z1; \
	VMULPD  Z1, Z0, Z0; \
	VADDPD.BCST TWO, Z0, Z1; \
	VMULPD  Z1, Z0, Z0; \
	VADDPD.BCST TWO, Z0, Z1; \
	VMULPD  Z1, Z0, Z0; \
	VADDPD.BCST TWO, Z0, Z1; \
	VMULPD  Z1, Z0, Z0; \
	VADDPD.BCST TWO, Z0, Z1; \
	VFMADD213PD.BCST ONE, Z1, Z0; \
	VPMOVSXDQ Y2, Z2; \
	VPADDQ.BCST BIAS, Z2, Z2; \
	VPSLLQ  $52, Z2, Z2; \
	VMULPD  Z2, Z0, Z0

// EXP8X2 is EXP8 on two vectors at once, Z0 and Z16, its steps
// interleaved (each instruction followed by the same on Z16-Z19 for
// Z0-Z3): the two chains are independent, so each fills the other's
// latency. It overwrites Z1-Z3 and Z17-Z19.
#define EXP8X2 \
	VMULPD.BCST LOG2E, Z0, Z1; \
	VMULPD.BCST LOG2E, Z16, Z17; \
	VCVTPD2DQ Z1, Y2; \
	VCVTPD2DQ Z17, Y18; \
	VCVTDQ2PD Y2, Z1; \
	VCVTDQ2PD Y18, Z17; \
	VBROADCASTSD LN2U, Z3; \
	VBROADCASTSD LN2U, Z19; \
	VFNMADD231PD Z3, Z1, Z0; \
	VFNMADD231PD Z19, Z17, Z16; \
	VBROADCASTSD LN2L, Z3; \
	VBROADCASTSD LN2L, Z19; \
	VFNMADD231PD Z3, Z1, Z0; \
	VFNMADD231PD Z19, Z17, Z16; \
	VMULPD.BCST SIXTEENTH, Z0, Z0; \
	VMULPD.BCST SIXTEENTH, Z16, Z16; \
	VBROADCASTSD C8, Z1; \
	VBROADCASTSD C8, Z17; \
	VFMADD213PD.BCST C7, Z0, Z1; \
	VFMADD213PD.BCST C7, Z16, Z17; \
	VFMADD213PD.BCST C6, Z0, Z1; \
	VFMADD213PD.BCST C6, Z16, Z17; \
	VFMADD213PD.BCST C5, Z0, Z1; \
	VFMADD213PD.BCST C5, Z16, Z17; \
	VFMADD213PD.BCST C4, Z0, Z1; \
	VFMADD213PD.BCST C4, Z16, Z17; \
	VFMADD213PD.BCST C3, Z0, Z1; \
	VFMADD213PD.BCST C3, Z16, Z17; \
	VFMADD213PD.BCST HALF, Z0, Z1; \
	VFMADD213PD.BCST HALF, Z16, Z17; \
	VFMADD213PD.BCST ONE, Z0, Z1; \
	VFMADD213PD.BCST ONE, Z16, Z17; \
	VMULPD  Z1, Z0, Z0; \
	VMULPD  Z17, Z16, Z16; \
	VADDPD.BCST TWO, Z0, Z1; \
	VADDPD.BCST TWO, Z16, Z17; \
	VMULPD  Z1, Z0, Z0; \
	VMULPD  Z17, Z16, Z16; \
	VADDPD.BCST TWO, Z0, Z1; \
	VADDPD.BCST TWO, Z16, Z17; \
	VMULPD  Z1, Z0, Z0; \
	VMULPD  Z17, Z16, Z16; \
	VADDPD.BCST TWO, Z0, Z1; \
	VADDPD.BCST TWO, Z16, Z17; \
	VMULPD  Z1, Z0, Z0; \
	VMULPD  Z17, Z16, Z16; \
	VADDPD.BCST TWO, Z0, Z1; \
	VADDPD.BCST TWO, Z16, Z17; \
	VFMADD213PD.BCST ONE, Z1, Z0; \
	VFMADD213PD.BCST ONE, Z17, Z16; \
	VPMOVSXDQ Y2, Z2; \
	VPMOVSXDQ Y18, Z18; \
	VPADDQ.BCST BIAS, Z2, Z2; \
	VPADDQ.BCST BIAS, Z18, Z18; \
	VPSLLQ  $52, Z2, Z2; \
	VPSLLQ  $52, Z18, Z18; \
	VMULPD  Z2, Z0, Z0; \
	VMULPD  Z18, Z16, Z16

// func expShiftedAVX512(out, x *float32, n int, m float32) int
//
// expShiftedAVX2 on eight lanes (n a multiple of 8), the constants
// broadcast from the same table and the range test through mask registers.
TEXT ·expShiftedAVX512(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS m+24(FP), Y15
	XORQ AX, AX

loop8:
	CMPQ AX, CX
	JGE  done8
	VMOVUPS (SI)(AX*4), Y0
	VSUBPS  Y15, Y0, Y0 // x - m in float32
	VCVTPS2PD Y0, Z0
	VCMPPD.BCST $0x1D, LO, Z0, K1 // x >= -700 (false for NaN)
	VCMPPD.BCST $0x12, HI, Z0, K2 // x <= 700
	KANDB   K1, K2, K1
	KMOVB   K1, BX
	CMPQ    BX, $255
	JNE     done8

	EXP8
	VCVTPD2PS Z0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	JMP     loop8

done8:
	VZEROUPPER
	MOVQ AX, ret+32(FP)
	RET

DATA smconst<>+0(SB)/4, $0xff800000 // -Inf
DATA smconst<>+4(SB)/4, $0x7f800000 // +Inf
DATA smconst<>+8(SB)/4, $-700.0
DATA smconst<>+16(SB)/8, $1.0
GLOBL smconst<>(SB), RODATA|NOPTR, $24

// REDUCE16 reduces the sixteen lanes of Z (Y and X its lower halves) to
// their maximum or minimum (ins: VMAXPS, VMINPS) in the lowest lane, using
// Z0.
#define REDUCE16(ins, Z, Y, X) \
	VEXTRACTF32X8 $1, Z, Y0; \
	ins Y0, Y, Y; \
	VEXTRACTF128 $1, Y, X0; \
	ins X0, X, X; \
	VPERMILPS $0x4E, X, X0; \
	ins X0, X, X; \
	VPERMILPS $0xB1, X, X0; \
	ins X0, X, X

// func softmax4AVX512(out, x *float32, ld, c int) bool
//
// The softmax of four rows of c values ld apart, as SoftmaxRowsSerial
// computes it: m = the row's maximum; out = float32(math.Exp(float64(x -
// m))) (EXP8); s = the float64 sum of out in the row's order (four rows'
// sums interleaved); out *= float32(1/s). It first checks that every x - m
// lies in EXP8's range and that no x is NaN, and returns false, having
// written nothing, where one does not. out may be x.
TEXT ·softmax4AVX512(SB), NOSPLIT, $16-33
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8             // row stride in bytes
	MOVQ c+24(FP), R9
	// K1: the last c mod 16 lanes of a row; K4: the last c mod 8.
	MOVQ R9, CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	MOVQ R9, CX
	ANDQ $7, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K4
	MOVQ R9, R10
	ANDQ $-16, R10          // end of the whole 16-lane chunks
	MOVQ R9, R11
	ANDQ $-8, R11           // end of the whole 8-lane chunks
	LEAQ m-16(SP), R12      // each row's maximum, then 1/s

	// Maximum, minimum and NaNs of each row; the range check.
	XORQ DX, DX
	MOVQ SI, BX

stats:
	VBROADCASTSS smconst<>+0(SB), Z5 // maximum
	VBROADCASTSS smconst<>+4(SB), Z6 // minimum
	KXORW K3, K3, K3                 // lanes that saw a NaN
	XORQ  AX, AX

stats16:
	CMPQ    AX, R10
	JGE     statsTail
	VMOVUPS (BX)(AX*4), Z0
	VMAXPS  Z0, Z5, Z5
	VMINPS  Z0, Z6, Z6
	VCMPPS  $3, Z0, Z0, K2           // unordered: NaN
	KORW    K2, K3, K3
	ADDQ    $16, AX
	JMP     stats16

statsTail:
	CMPQ      AX, R9
	JGE       statsRow
	VMOVUPS.Z (BX)(AX*4), K1, Z0
	VMAXPS    Z0, Z5, K1, Z5
	VMINPS    Z0, Z6, K1, Z6
	VCMPPS    $3, Z0, Z0, K1, K2
	KORW      K2, K3, K3

statsRow:
	KORTESTW K3, K3
	JNZ      fail
	REDUCE16(VMAXPS, Z5, Y5, X5)
	REDUCE16(VMINPS, Z6, Y6, X6)
	VMOVSS   X5, (R12)(DX*4)
	VSUBSS   X5, X6, X6              // the smallest x - m
	VCMPSS   $0x1D, smconst<>+8(SB), X6, K2 // >= -700 (false for NaN)
	KMOVW    K2, AX
	TESTL    $1, AX
	JZ       fail
	ADDQ     R8, BX
	INCQ     DX
	CMPQ     DX, $4
	JLT      stats

	// out = exp(x - m), sixteen at a time (EXP8X2), then eight.
	XORQ DX, DX
	MOVQ SI, BX
	MOVQ DI, R13

expRow:
	VBROADCASTSS (R12)(DX*4), Y15
	XORQ         AX, AX

exp16:
	CMPQ      AX, R10
	JGE       exp8
	VMOVUPS   (BX)(AX*4), Y0
	VMOVUPS   32(BX)(AX*4), Y16
	VSUBPS    Y15, Y0, Y0            // x - m in float32
	VSUBPS    Y15, Y16, Y16
	VCVTPS2PD Y0, Z0
	VCVTPS2PD Y16, Z16
	EXP8X2
	VCVTPD2PS Z0, Y0
	VCVTPD2PS Z16, Y16
	VMOVUPS   Y0, (R13)(AX*4)
	VMOVUPS   Y16, 32(R13)(AX*4)
	ADDQ      $16, AX
	JMP       exp16

exp8:
	CMPQ      AX, R11
	JGE       expTail
	VMOVUPS   (BX)(AX*4), Y0
	VSUBPS    Y15, Y0, Y0
	VCVTPS2PD Y0, Z0
	EXP8
	VCVTPD2PS Z0, Y0
	VMOVUPS   Y0, (R13)(AX*4)
	ADDQ      $8, AX
	JMP       exp8

expTail:
	CMPQ      AX, R9
	JGE       expNext
	VMOVUPS.Z (BX)(AX*4), K4, Y0
	VSUBPS    Y15, Y0, Y0
	VCVTPS2PD Y0, Z0
	EXP8
	VCVTPD2PS Z0, Y0
	VMOVUPS   Y0, K4, (R13)(AX*4)

expNext:
	ADDQ R8, BX
	ADDQ R8, R13
	INCQ DX
	CMPQ DX, $4
	JLT  expRow

	// The four float64 sums, each in its row's order.
	MOVQ   DI, BX
	LEAQ   (DI)(R8*1), R13
	LEAQ   (R13)(R8*1), R14
	LEAQ   (R14)(R8*1), DX
	VXORPD X4, X4, X4
	VXORPD X5, X5, X5
	VXORPD X6, X6, X6
	VXORPD X7, X7, X7
	XORQ   AX, AX

sum:
	CMPQ      AX, R9
	JGE       sumDone
	VMOVSS    (BX)(AX*4), X8
	VCVTSS2SD X8, X8, X8
	VADDSD    X8, X4, X4
	VMOVSS    (R13)(AX*4), X9
	VCVTSS2SD X9, X9, X9
	VADDSD    X9, X5, X5
	VMOVSS    (R14)(AX*4), X10
	VCVTSS2SD X10, X10, X10
	VADDSD    X10, X6, X6
	VMOVSS    (DX)(AX*4), X11
	VCVTSS2SD X11, X11, X11
	VADDSD    X11, X7, X7
	INCQ      AX
	JMP       sum

sumDone:
	// float32(1/s) per row.
	VMOVSD    smconst<>+16(SB), X12
	VDIVSD    X4, X12, X4
	VCVTSD2SS X4, X4, X4
	VMOVSS    X4, 0(R12)
	VDIVSD    X5, X12, X5
	VCVTSD2SS X5, X5, X5
	VMOVSS    X5, 4(R12)
	VDIVSD    X6, X12, X6
	VCVTSD2SS X6, X6, X6
	VMOVSS    X6, 8(R12)
	VDIVSD    X7, X12, X7
	VCVTSD2SS X7, X7, X7
	VMOVSS    X7, 12(R12)

	// out *= 1/s.
	XORQ DX, DX
	MOVQ DI, R13

scaleRow:
	VBROADCASTSS (R12)(DX*4), Z15
	XORQ         AX, AX

scale16:
	CMPQ    AX, R10
	JGE     scaleTail
	VMULPS  (R13)(AX*4), Z15, Z0
	VMOVUPS Z0, (R13)(AX*4)
	ADDQ    $16, AX
	JMP     scale16

scaleTail:
	CMPQ      AX, R9
	JGE       scaleNext
	VMOVUPS.Z (R13)(AX*4), K1, Z0
	VMULPS    Z15, Z0, Z0
	VMOVUPS   Z0, K1, (R13)(AX*4)

scaleNext:
	ADDQ R8, R13
	INCQ DX
	CMPQ DX, $4
	JLT  scaleRow

	VZEROUPPER
	MOVB $1, ret+32(FP)
	RET

fail:
	VZEROUPPER
	MOVB $0, ret+32(FP)
	RET
