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
	if dv := qkv.dev; dv != nil {
		return attentionDev(tp, dv, qkv, b, t, c, heads, scale)
	}
	// Both products have beta 0 and write every value.
	out := tp.newOutRaw([]int{b, t, c}, qkv)
	probs := tp.allocRaw(b * heads * t * t) // kept for backward
	tt := t * t
	// Per sample, one strided batch over the heads: head h's q, k and v
	// start h·d into their third of each token row. Such a batch is too
	// small for blas to split across cores, so the samples are spread over
	// goroutines instead.
	parallelFor(b, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			base := i * t * c3
			q, k, v := qkv.Data[base:], qkv.Data[base+c:], qkv.Data[base+2*c:]
			p := probs[i*heads*tt : (i+1)*heads*tt]
			blas.SgemmBatched(false, true, t, t, d, scale, q, c3, k, c3, 0, p, t, heads, d, d, tt)
			cpu.SoftmaxRowsSerial(p, p, 0, heads*t, t)
			blas.SgemmBatched(false, false, t, d, t, 1, p, t, v, c3, 0, out.Data[i*t*c:], c, heads, tt, d, d)
		}
	})
	tp.record(out, func() {
		g, fresh := qkv.gradFresh() // each sample's dq, dk and dv are written once
		beta := betaFor(fresh)
		parallelFor(b, 1, func(lo, hi int) {
			dp := make([]float32, heads*tt)
			for i := lo; i < hi; i++ {
				base := i * t * c3
				q, k, v := qkv.Data[base:], qkv.Data[base+c:], qkv.Data[base+2*c:]
				dq, dk, dv := g[base:], g[base+c:], g[base+2*c:]
				do := out.Grad[i*t*c:]
				p := probs[i*heads*tt : (i+1)*heads*tt]
				blas.SgemmBatched(false, true, t, t, d, 1, do, c, v, c3, 0, dp, t, heads, d, d, tt)      // dP = dO·Vᵀ
				blas.SgemmBatched(true, false, t, d, t, 1, p, t, do, c, beta, dv, c3, heads, tt, d, d)   // dV += Pᵀ·dO
				cpu.SoftmaxGradRowsSerial(dp, p, 0, heads*t, t, scale)                                   // s·dS = s·P⊙(dP - Σ dP⊙P)
				blas.SgemmBatched(false, false, t, d, t, 1, dp, t, k, c3, beta, dq, c3, heads, tt, d, d) // dQ += s·dS·K
				blas.SgemmBatched(true, false, t, d, t, 1, dp, t, q, c3, beta, dk, c3, heads, tt, d, d)  // dK += s·dSᵀ·Q
			}
		})
	})
	return out
}
