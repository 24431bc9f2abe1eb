#include "textflag.h"

DATA lanes<>+0(SB)/4, $0
DATA lanes<>+4(SB)/4, $1
DATA lanes<>+8(SB)/4, $2
DATA lanes<>+12(SB)/4, $3
DATA lanes<>+16(SB)/4, $4
DATA lanes<>+20(SB)/4, $5
DATA lanes<>+24(SB)/4, $6
DATA lanes<>+28(SB)/4, $7
GLOBL lanes<>(SB), RODATA|NOPTR, $32

DATA eight<>+0(SB)/4, $8
GLOBL eight<>(SB), RODATA|NOPTR, $4

DATA minusone<>+0(SB)/4, $0xbf800000
GLOBL minusone<>(SB), RODATA|NOPTR, $4

// func stepAVX2(x, y, z, d *float32, n int, cx, cy, cz float32, best *[8]float32, idx *[8]int32)
// For each point k: t = min(d[k], (x-cx)²+(y-cy)²+(z-cz)²) summed as
// ((dx·dx + dy·dy) + dz·dz); d[k] = t; per lane keep the first index of the
// strictly largest t.
TEXT ·stepAVX2(SB), NOSPLIT, $0-72
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ z+16(FP), R8
	MOVQ d+24(FP), R9
	MOVQ n+32(FP), CX
	VBROADCASTSS cx+40(FP), Y0
	VBROADCASTSS cy+44(FP), Y1
	VBROADCASTSS cz+48(FP), Y2
	VBROADCASTSS minusone<>(SB), Y3
	VPXOR Y4, Y4, Y4
	VMOVDQU lanes<>(SB), Y5
	VPBROADCASTD eight<>(SB), Y6
	XORQ AX, AX

loop:
	VMOVUPS (SI)(AX*4), Y7
	VSUBPS Y0, Y7, Y7
	VMULPS Y7, Y7, Y7
	VMOVUPS (DI)(AX*4), Y8
	VSUBPS Y1, Y8, Y8
	VMULPS Y8, Y8, Y8
	VADDPS Y8, Y7, Y7
	VMOVUPS (R8)(AX*4), Y8
	VSUBPS Y2, Y8, Y8
	VMULPS Y8, Y8, Y8
	VADDPS Y8, Y7, Y7
	VMINPS (R9)(AX*4), Y7, Y7
	VMOVUPS Y7, (R9)(AX*4)
	VCMPPS $0x1e, Y3, Y7, Y9
	VBLENDVPS Y9, Y7, Y3, Y3
	VBLENDVPS Y9, Y5, Y4, Y4
	VPADDD Y6, Y5, Y5
	ADDQ $8, AX
	CMPQ AX, CX
	JLT loop

	MOVQ best+56(FP), R10
	MOVQ idx+64(FP), R11
	VMOVUPS Y3, (R10)
	VMOVDQU Y4, (R11)
	VZEROUPPER
	RET
