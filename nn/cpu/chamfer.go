package cpu

import "math"

// Chamfer kernels: nearest neighbours between two batched point sets q
// (batch×n×dim) and r (batch×m×dim), and the gradient of a Chamfer loss
// through them. Every squared distance is formed in float64 from the
// float32 coordinates, Σ_d (q_d − r_d)² in coordinate order, each product
// and sum rounded once (no fused multiply-add), exactly as nn/cuda's
// pcx_chamfer_nn kernel computes it.

// ChamferNearest writes, for every point i of q (batch×n×dim), the squared
// distance to its nearest point of r (batch×m×dim, the same batch element)
// to dist[i] and that point's index in [0, m) to idx[i]. On ties the lowest
// index wins; a NaN distance counts as the smallest (the first NaN wins),
// so NaN inputs give NaN distances. m must be at least 1. Rows run in
// parallel; each row's result does not depend on how they are split.
func ChamferNearest(dist []float64, idx []int32, q, r []float32, batch, n, m, dim int) {
	grain := max(1, 32768/max(1, m*dim))
	ParallelRows(batch*n, grain, func(lo, hi int) {
		for row := lo; row < hi; row++ {
			b := row / n
			qp := q[row*dim : (row+1)*dim]
			rs := r[b*m*dim : (b+1)*m*dim]
			best, arg := math.Inf(1), 0
			if dim == 3 {
				x, y, z := float64(qp[0]), float64(qp[1]), float64(qp[2])
				for k := 0; k < m; k++ {
					p := rs[3*k : 3*k+3 : 3*k+3]
					dx, dy, dz := x-float64(p[0]), y-float64(p[1]), z-float64(p[2])
					d := float64(float64(dx*dx)+float64(dy*dy)) + float64(dz*dz)
					if d < best || (d != d && best == best) {
						best, arg = d, k
					}
				}
			} else {
				for k := 0; k < m; k++ {
					p := rs[k*dim : (k+1)*dim]
					var d float64
					for j, v := range qp {
						t := float64(v) - float64(p[j])
						d += float64(t * t)
					}
					if d < best || (d != d && best == best) {
						best, arg = d, k
					}
				}
			}
			dist[row], idx[row] = best, int32(arg)
		}
	})
}

// ChamferBackward adds to dq (batch×n×dim) the gradient of
// cq·Σ_i |q_i − r_{near_q(i)}|² + cr·Σ_k |q_{near_r(k)} − r_k|² with
// respect to q, where nearQ (batch×n, indices into r) and nearR (batch×m,
// indices into q) are ChamferNearest's indices of q in r and of r in q:
//
//	dq_i += cq·2(q_i − r_{near_q(i)}) + Σ_{k: near_r(k) = i} cr·2(q_i − r_k),
//
// the terms summed in float64 in that order (k ascending) and rounded to
// float32 once. The gradient with respect to r is the same call with the
// sets (and the indices and coefficients) swapped. Rows run in parallel;
// each row is computed alone, so the result does not depend on the split.
func ChamferBackward(dq []float32, q, r []float32, nearQ, nearR []int32, batch, n, m, dim int, cq, cr float64) {
	grain := max(1, 32768/max(1, m*dim))
	ParallelRows(batch*n, grain, func(lo, hi int) {
		for row := lo; row < hi; row++ {
			b, i := row/n, int32(row%n)
			qp := q[row*dim : (row+1)*dim]
			own := r[(b*m+int(nearQ[row]))*dim:]
			near := nearR[b*m : (b+1)*m]
			g := dq[row*dim : (row+1)*dim]
			for j, v := range qp {
				acc := cq * (2 * (float64(v) - float64(own[j])))
				for k, t := range near {
					if t == i {
						acc += float64(cr * (2 * (float64(v) - float64(r[(b*m+k)*dim+j]))))
					}
				}
				g[j] += float32(acc)
			}
		}
	})
}
