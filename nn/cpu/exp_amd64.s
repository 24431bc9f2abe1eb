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

	// exponent = round(x·log2e), x -= exponent·ln2 (upper, then lower half)
	VMULPD.BCST LOG2E, Z0, Z1
	VCVTPD2DQ Z1, Y2
	VCVTDQ2PD Y2, Z1
	VBROADCASTSD LN2U, Z3
	VFNMADD231PD Z3, Z1, Z0
	VBROADCASTSD LN2L, Z3
	VFNMADD231PD Z3, Z1, Z0
	// reduce the argument, Taylor series (Horner)
	VMULPD.BCST SIXTEENTH, Z0, Z0
	VBROADCASTSD C8, Z1
	VFMADD213PD.BCST C7, Z0, Z1
	VFMADD213PD.BCST C6, Z0, Z1
	VFMADD213PD.BCST C5, Z0, Z1
	VFMADD213PD.BCST C4, Z0, Z1
	VFMADD213PD.BCST C3, Z0, Z1
	VFMADD213PD.BCST HALF, Z0, Z1
	VFMADD213PD.BCST ONE, Z0, Z1
	VMULPD  Z1, Z0, Z0
	// square four times: (1+r)^16 - 1 as archExp forms it
	VADDPD.BCST TWO, Z0, Z1
	VMULPD  Z1, Z0, Z0
	VADDPD.BCST TWO, Z0, Z1
	VMULPD  Z1, Z0, Z0
	VADDPD.BCST TWO, Z0, Z1
	VMULPD  Z1, Z0, Z0
	VADDPD.BCST TWO, Z0, Z1
	VFMADD213PD.BCST ONE, Z1, Z0
	// times 2^exponent (a normal number in this range)
	VPMOVSXDQ Y2, Z2
	VPADDQ.BCST BIAS, Z2, Z2
	VPSLLQ  $52, Z2, Z2
	VMULPD  Z2, Z0, Z0
	VCVTPD2PS Z0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	JMP     loop8

done8:
	VZEROUPPER
	MOVQ AX, ret+32(FP)
	RET
