package blas

import "unsafe"

// kernelGeneric is the portable pure-Go micro-kernel, used on CPUs without
// AVX2+FMA and on other architectures.
var kernelGeneric = &kernel{
	name: "generic", mr: 4, nr: 4, mc: 128, kc: 256, nc: 2048,
	full: kernGeneric4x4,
}

// kernGeneric4x4 computes the 4×4 tile C = [Add +] Ap·Bp (see gen_amd64.go
// for the layout and add).
func kernGeneric4x4(kc int, a, b, c *float32, ldc int, add *float32, ldadd int) {
	ap := unsafe.Slice(a, 4*kc)
	bp := unsafe.Slice(b, 4*kc)
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	for len(ap) >= 4 && len(bp) >= 4 {
		a0, a1, a2, a3 := ap[0], ap[1], ap[2], ap[3]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
		ap, bp = ap[4:], bp[4:]
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	r0, r1, r2, r3 := cs[0:4:4], cs[ldc:ldc+4:ldc+4], cs[2*ldc:2*ldc+4:2*ldc+4], cs[3*ldc:3*ldc+4:3*ldc+4]
	if add != nil {
		as := unsafe.Slice(add, 3*ldadd+4)
		s0, s1, s2, s3 := as[0:4:4], as[ldadd:ldadd+4:ldadd+4], as[2*ldadd:2*ldadd+4:2*ldadd+4], as[3*ldadd:3*ldadd+4:3*ldadd+4]
		c00 += s0[0]
		c01 += s0[1]
		c02 += s0[2]
		c03 += s0[3]
		c10 += s1[0]
		c11 += s1[1]
		c12 += s1[2]
		c13 += s1[3]
		c20 += s2[0]
		c21 += s2[1]
		c22 += s2[2]
		c23 += s2[3]
		c30 += s3[0]
		c31 += s3[1]
		c32 += s3[2]
		c33 += s3[3]
	}
	r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
	r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
	r2[0], r2[1], r2[2], r2[3] = c20, c21, c22, c23
	r3[0], r3[1], r3[2], r3[3] = c30, c31, c32, c33
}
