package nn

import "math/rand/v2"

// Dropout zeroes each element with probability p in training and scales
// the rest by 1/(1-p); in evaluation it is the identity.
func Dropout(tp *Tape, x *Tensor, p float32, r *rand.Rand) *Tensor {
	if !tp.training() || p == 0 {
		return x
	}
	if d := x.dev; d != nil {
		return dropoutDev(tp, d, x, p, r)
	}
	mask := tp.alloc(x.Len())
	scale := 1 / (1 - p)
	for i := range mask {
		if r.Float32() >= p {
			mask[i] = scale
		} else {
			mask[i] = 0
		}
	}
	return applyMask(tp, x, mask)
}

// DropPath is per-sample stochastic depth (timm's drop_path): in training
// each of the B samples of x (B×...) is zeroed with probability p and the
// kept ones scaled by 1/(1-p); in evaluation it is the identity.
func DropPath(tp *Tape, x *Tensor, p float32, r *rand.Rand) *Tensor {
	if !tp.training() || p == 0 {
		return x
	}
	keep := make([]float32, x.Dim(0))
	for i := range keep {
		if r.Float32() >= p {
			keep[i] = 1 / (1 - p)
		}
	}
	if d := x.dev; d != nil {
		return dropPathDev(tp, d, x, keep)
	}
	return applyMask(tp, x, keep)
}

// applyMask returns x⊙mask on the host, where mask has one value per
// element of x (Dropout) or one per sample, covering that sample's
// x.Len()/len(mask) elements (DropPath).
func applyMask(tp *Tape, x *Tensor, mask []float32) *Tensor {
	per := x.Len() / len(mask)
	out := tp.newOut(x.Shape, x)
	for i, m := range mask {
		for k := i * per; k < (i+1)*per; k++ {
			out.Data[k] = x.Data[k] * m
		}
	}
	tp.record(out, func() {
		g := x.grad()
		for i, m := range mask {
			for k := i * per; k < (i+1)*per; k++ {
				g[k] += out.Grad[k] * m
			}
		}
	})
	return out
}
