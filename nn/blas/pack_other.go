//go:build !amd64 || purego

package blas

// gather4 sets d[i*w+q] = alpha·src[q*ld+i] for i < kc, q < 4.
func gather4(d []float32, w int, src []float32, ld, kc int, alpha float32) {
	if kc <= 0 {
		return
	}
	s0 := src[0:kc]
	s1 := src[ld : ld+kc]
	s2 := src[2*ld : 2*ld+kc]
	s3 := src[3*ld : 3*ld+kc]
	s1, s2, s3 = s1[:len(s0)], s2[:len(s0)], s3[:len(s0)]
	for i := range s0 {
		q := d[i*w : i*w+4 : i*w+4]
		q[0], q[1], q[2], q[3] = alpha*s0[i], alpha*s1[i], alpha*s2[i], alpha*s3[i]
	}
}

// gather8 sets d[i*w+q] = alpha·src[q*ld+i] for i < kc, q < 8.
func gather8(d []float32, w int, src []float32, ld, kc int, alpha float32) {
	gather4(d, w, src, ld, kc, alpha)
	if kc > 0 {
		gather4(d[4:], w, src[4*ld:], ld, kc, alpha)
	}
}

// copyRows sets d[i*w+j] = alpha·src[i*ld+j] for i < kc, j < cols.
func copyRows(d []float32, w int, src []float32, ld, cols, kc int, alpha float32) {
	for i := range kc {
		row := d[i*w : i*w+cols]
		s := src[i*ld : i*ld+cols]
		if alpha == 1 {
			copy(row, s)
			continue
		}
		for j, v := range s {
			row[j] = alpha * v
		}
	}
}
