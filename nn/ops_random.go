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
	out := tp.newOut(x.Shape, x)
	mask := tp.alloc(x.Len())
	scale := 1 / (1 - p)
	for i := range mask {
		if r.Float32() >= p {
			mask[i] = scale
		}
		out.Data[i] = x.Data[i] * mask[i]
	}
	tp.record(out, func() {
		g := x.grad()
		for i, m := range mask {
			g[i] += out.Grad[i] * m
		}
	})
	return out
}

// DropPath is per-sample stochastic depth (timm's drop_path): in training
// each of the B samples of x (B×...) is zeroed with probability p and the
// kept ones scaled by 1/(1-p); in evaluation it is the identity.
func DropPath(tp *Tape, x *Tensor, p float32, r *rand.Rand) *Tensor {
	if !tp.training() || p == 0 {
		return x
	}
	b := x.Dim(0)
	per := x.Len() / b
	keep := make([]float32, b)
	for i := range keep {
		if r.Float32() >= p {
			keep[i] = 1 / (1 - p)
		}
	}
	if d := x.dev; d != nil {
		return dropPathDev(tp, d, x, keep)
	}
	out := tp.newOut(x.Shape, x)
	for i := 0; i < b; i++ {
		for k := 0; k < per; k++ {
			out.Data[i*per+k] = x.Data[i*per+k] * keep[i]
		}
	}
	tp.record(out, func() {
		g := x.grad()
		for i := 0; i < b; i++ {
			for k := 0; k < per; k++ {
				g[i*per+k] += out.Grad[i*per+k] * keep[i]
			}
		}
	})
	return out
}
