package nn

import (
	"fmt"
	"math"

	"github.com/pcx-dev/pcx/nn/blas"
	"github.com/pcx-dev/pcx/nn/cpu"
)

// Attention is the core of multi-head self-attention on the output of a
// fused qkv projection: qkv is B×T×3C laid out per token as [q | k | v],
// each split into heads of C/heads channels (timm's reshape(B, T, 3, H, D)).
// It returns softmax(q·kᵀ·scale)·v with the heads concatenated, B×T×C.
// scale ≤ 0 means 1/√D. Attention dropout is not applied (Point-MAE's is 0).
func Attention(tp *Tape, qkv *Tensor, heads int, scale float32) *Tensor {
	b, t, c3 := qkv.Dim(0), qkv.Dim(1), qkv.Dim(2)
	c := c3 / 3
	if c3%3 != 0 || c%heads != 0 {
		panic(fmt.Sprintf("nn: Attention with %d heads on %v", heads, qkv.Shape))
	}
	d := c / heads
	if scale <= 0 {
		scale = float32(1 / math.Sqrt(float64(d)))
	}
	out := tp.newOut([]int{b, t, c}, qkv)
	probs := tp.alloc(b * heads * t * t) // kept for backward
	parallelFor(b*heads, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			i, h := bh/heads, bh%heads
			base := i * t * c3
			q, k, v := qkv.Data[base+h*d:], qkv.Data[base+c+h*d:], qkv.Data[base+2*c+h*d:]
			p := probs[bh*t*t : (bh+1)*t*t]
			blas.Sgemm(false, true, t, t, d, scale, q, c3, k, c3, 0, p, t)
			cpu.SoftmaxRows(p, p, t, t)
			blas.Sgemm(false, false, t, d, t, 1, p, t, v, c3, 0, out.Data[i*t*c+h*d:], c)
		}
	})
	tp.record(out, func() {
		g := qkv.grad()
		parallelFor(b*heads, 1, func(lo, hi int) {
			dp := make([]float32, t*t)
			for bh := lo; bh < hi; bh++ {
				i, h := bh/heads, bh%heads
				base := i * t * c3
				q, k, v := qkv.Data[base+h*d:], qkv.Data[base+c+h*d:], qkv.Data[base+2*c+h*d:]
				dq, dk, dv := g[base+h*d:], g[base+c+h*d:], g[base+2*c+h*d:]
				do := out.Grad[i*t*c+h*d:]
				p := probs[bh*t*t : (bh+1)*t*t]
				blas.Sgemm(false, true, t, t, d, 1, do, c, v, c3, 0, dp, t) // dP = dO·Vᵀ
				blas.Sgemm(true, false, t, d, t, 1, p, t, do, c, 1, dv, c3) // dV += Pᵀ·dO
				for r := 0; r < t; r++ {                                    // dS = P⊙(dP - Σ dP⊙P)
					pr, dr := p[r*t:(r+1)*t], dp[r*t:(r+1)*t]
					var dot float32
					for j, pv := range pr {
						dot += pv * dr[j]
					}
					for j, pv := range pr {
						dr[j] = pv * (dr[j] - dot)
					}
				}
				blas.Sgemm(false, false, t, d, t, scale, dp, t, k, c3, 1, dq, c3) // dQ += s·dS·K
				blas.Sgemm(true, false, t, d, t, scale, dp, t, q, c3, 1, dk, c3)  // dK += s·dSᵀ·Q
			}
		})
	})
	return out
}
