//go:build amd64 && !purego

package blas

import "golang.org/x/sys/cpu"

var hasAVX = cpu.X86.HasAVX

// The SSE packing helpers of pack_amd64.s; strides are in bytes.

//go:noescape
func gather4x4(d *float32, dstride int, src *float32, sstride int, n int, alpha float32)

//go:noescape
func gather8x4(d *float32, dstride int, src *float32, sstride int, n int, alpha float32)

//go:noescape
func gather8x8(d *float32, dstride int, src *float32, sstride int, n int, alpha float32)

//go:noescape
func copyScale(d *float32, dstride int, src *float32, sstride int, rows, n int, alpha float32)

// gather4 sets d[i*w+q] = alpha·src[q*ld+i] for i < kc, q < 4.
func gather4(d []float32, w int, src []float32, ld, kc int, alpha float32) {
	if kc <= 0 {
		return
	}
	// Bounds for the assembly: the last element read and written.
	_ = src[3*ld+kc-1]
	_ = d[(kc-1)*w+3]
	done := 0
	if n := kc / 8; n > 0 && hasAVX {
		gather8x4(&d[0], 4*w, &src[0], 4*ld, n, alpha)
		done = 8 * n
	}
	if n := (kc - done) / 4; n > 0 {
		gather4x4(&d[done*w], 4*w, &src[done], 4*ld, n, alpha)
		done += 4 * n
	}
	for i := done; i < kc; i++ {
		q := d[i*w : i*w+4 : i*w+4]
		q[0], q[1], q[2], q[3] = alpha*src[i], alpha*src[ld+i], alpha*src[2*ld+i], alpha*src[3*ld+i]
	}
}

// gather8 sets d[i*w+q] = alpha·src[q*ld+i] for i < kc, q < 8: eight
// columns of d at a time, eight values of each row in one store.
func gather8(d []float32, w int, src []float32, ld, kc int, alpha float32) {
	if kc <= 0 {
		return
	}
	_ = src[7*ld+kc-1]
	_ = d[(kc-1)*w+7]
	done := 0
	if n := kc / 8; n > 0 && hasAVX {
		gather8x8(&d[0], 4*w, &src[0], 4*ld, n, alpha)
		done = 8 * n
	}
	if done < kc {
		gather4(d[done*w:], w, src[done:], ld, kc-done, alpha)
		gather4(d[done*w+4:], w, src[4*ld+done:], ld, kc-done, alpha)
	}
}

// copyRows sets d[i*w+j] = alpha·src[i*ld+j] for i < kc, j < cols.
func copyRows(d []float32, w int, src []float32, ld, cols, kc int, alpha float32) {
	if kc <= 0 || cols <= 0 {
		return
	}
	_ = src[(kc-1)*ld+cols-1]
	_ = d[(kc-1)*w+cols-1]
	n := cols / 4
	if n > 0 {
		copyScale(&d[0], 4*w, &src[0], 4*ld, kc, n, alpha)
	}
	if 4*n < cols {
		for i := range kc {
			row := d[i*w+4*n : i*w+cols]
			for j, v := range src[i*ld+4*n : i*ld+cols] {
				row[j] = alpha * v
			}
		}
	}
}
