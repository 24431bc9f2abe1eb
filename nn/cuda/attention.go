package cuda

import (
	"fmt"
	"math"
)

// attnShape validates an attention's sizes and returns the head width and
// the buffer sizes.
func attnShape(op string, b, t, c, heads int) (d, nqkv, nout, nprobs int, err error) {
	if heads <= 0 || c <= 0 || c%heads != 0 {
		return 0, 0, 0, 0, fmt.Errorf("cuda: %s with %d heads over %d channels", op, heads, c)
	}
	if nqkv, err = shape(op, "b×t×3c", b, t, 3*c); err != nil {
		return
	}
	if nprobs, err = shape(op, "b×heads×t×t", b, heads, t, t); err != nil {
		return
	}
	return c / heads, nqkv, b * t * c, nprobs, nil
}

// Attention is nn.Attention on the GPU: qkv is B×T×3C laid out per token as
// [q | k | v], each split into heads of C/heads channels; out (B×T×C)
// receives softmax(q·kᵀ·scale)·v with the heads concatenated, and probs
// (B×heads×T×T) the probabilities for backward. scale ≤ 0 means 1/√D. The
// products are cuBLAS strided-batched calls, one per head, batched over the
// samples; the softmax is pcx_softmax_fwd over all rows at once.
func (s *Stream) Attention(out, probs, qkv *Buffer, b, t, c, heads int, scale float32) error {
	const op = "Attention"
	d, nqkv, nout, nprobs, err := attnShape(op, b, t, c, heads)
	if err != nil {
		return err
	}
	if err := sameLen(op, map[string]int{"out": out.Len(), "probs": probs.Len(), "qkv": qkv.Len()},
		map[string]int{"out": nout, "probs": nprobs, "qkv": nqkv}); err != nil {
		return err
	}
	if scale <= 0 {
		scale = float32(1 / math.Sqrt(float64(d)))
	}
	if b == 0 || t == 0 {
		return nil
	}
	c3, tt := 3*c, t*t
	for h := 0; h < heads; h++ {
		// S = scale·Q·Kᵀ for every sample.
		if err := s.Gemm(GemmArgs{TransB: true, M: t, N: t, K: d, Alpha: scale,
			A: qkv, OffA: h * d, Lda: c3, StrideA: t * c3,
			B: qkv, OffB: c + h*d, Ldb: c3, StrideB: t * c3,
			C: probs, OffC: h * tt, Ldc: t, StrideC: heads * tt, Batch: b}); err != nil {
			return err
		}
	}
	if err := s.Softmax(probs, probs, b*heads*t, t, 1); err != nil {
		return err
	}
	for h := 0; h < heads; h++ {
		// O = P·V.
		if err := s.Gemm(GemmArgs{M: t, N: d, K: t, Alpha: 1,
			A: probs, OffA: h * tt, Lda: t, StrideA: heads * tt,
			B: qkv, OffB: 2*c + h*d, Ldb: c3, StrideB: t * c3,
			C: out, OffC: h * d, Ldc: c, StrideC: t * c, Batch: b}); err != nil {
			return err
		}
	}
	return nil
}

// AttentionBackward adds to dqkv the gradient of Attention given dout, from
// the forward's qkv and probs.
func (s *Stream) AttentionBackward(dqkv, dout, qkv, probs *Buffer, b, t, c, heads int, scale float32) error {
	const op = "AttentionBackward"
	d, nqkv, nout, nprobs, err := attnShape(op, b, t, c, heads)
	if err != nil {
		return err
	}
	if err := sameLen(op, map[string]int{"dqkv": dqkv.Len(), "dout": dout.Len(), "qkv": qkv.Len(), "probs": probs.Len()},
		map[string]int{"dqkv": nqkv, "dout": nout, "qkv": nqkv, "probs": nprobs}); err != nil {
		return err
	}
	if scale <= 0 {
		scale = float32(1 / math.Sqrt(float64(d)))
	}
	if b == 0 || t == 0 {
		return nil
	}
	dp, err := s.Alloc(nprobs)
	if err != nil {
		return err
	}
	defer dp.Free()
	c3, tt := 3*c, t*t
	for h := 0; h < heads; h++ {
		// dP = dO·Vᵀ.
		if err := s.Gemm(GemmArgs{TransB: true, M: t, N: t, K: d, Alpha: 1,
			A: dout, OffA: h * d, Lda: c, StrideA: t * c,
			B: qkv, OffB: 2*c + h*d, Ldb: c3, StrideB: t * c3,
			C: dp, OffC: h * tt, Ldc: t, StrideC: heads * tt, Batch: b}); err != nil {
			return err
		}
		// dV += Pᵀ·dO.
		if err := s.Gemm(GemmArgs{TransA: true, M: t, N: d, K: t, Alpha: 1, Beta: 1,
			A: probs, OffA: h * tt, Lda: t, StrideA: heads * tt,
			B: dout, OffB: h * d, Ldb: c, StrideB: t * c,
			C: dqkv, OffC: 2*c + h*d, Ldc: c3, StrideC: t * c3, Batch: b}); err != nil {
			return err
		}
	}
	// dS = P⊙(dP - Σ dP⊙P), in place.
	if err := s.SoftmaxBackward(dp, dp, probs, b*heads*t, t, 1, false); err != nil {
		return err
	}
	for h := 0; h < heads; h++ {
		// dQ += scale·dS·K.
		if err := s.Gemm(GemmArgs{M: t, N: d, K: t, Alpha: scale, Beta: 1,
			A: dp, OffA: h * tt, Lda: t, StrideA: heads * tt,
			B: qkv, OffB: c + h*d, Ldb: c3, StrideB: t * c3,
			C: dqkv, OffC: h * d, Ldc: c3, StrideC: t * c3, Batch: b}); err != nil {
			return err
		}
		// dK += scale·dSᵀ·Q.
		if err := s.Gemm(GemmArgs{TransA: true, M: t, N: d, K: t, Alpha: scale, Beta: 1,
			A: dp, OffA: h * tt, Lda: t, StrideA: heads * tt,
			B: qkv, OffB: h * d, Ldb: c3, StrideB: t * c3,
			C: dqkv, OffC: c + h*d, Ldc: c3, StrideC: t * c3, Batch: b}); err != nil {
			return err
		}
	}
	return nil
}

// sameLen checks buffer lengths (a nil buffer has length 0) against the
// expected ones, naming the first that differs.
func sameLen(op string, got, want map[string]int) error {
	for _, k := range sortedKeys(want) {
		if got[k] != want[k] {
			return fmt.Errorf("cuda: %s: %s has %d elements, want %d", op, k, got[k], want[k])
		}
	}
	return nil
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
