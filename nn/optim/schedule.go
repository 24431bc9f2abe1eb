package optim

import "math"

// Cosine is timm's CosineLRScheduler as Point-MAE configures it: linear
// warm-up from WarmupInit over Warmup units, then a half cosine from Base
// down to Min at Total, and Min after that (one cycle, no warm-up prefix:
// the cosine is measured from 0, so it starts part-way when warm-up ends).
// Units are epochs or steps, whichever the caller counts.
//
// Point-MAE's runner calls scheduler.step(epoch) after each epoch, so epoch
// e ≥ 1 trains with LR(e-1) and epoch 0 with LR(0); the training core
// reproduces that, not this type.
type Cosine struct {
	Base, Min, WarmupInit float64
	Warmup, Total         float64
}

// PointMAECosine is Point-MAE's schedule: 10 warm-up epochs from 1e-6, 300
// epochs in all, minimum 1e-6.
func PointMAECosine(base float64) Cosine {
	return Cosine{Base: base, Min: 1e-6, WarmupInit: 1e-6, Warmup: 10, Total: 300}
}

// LR returns the learning rate at time t.
func (c Cosine) LR(t float64) float64 {
	if t < c.Warmup {
		return c.WarmupInit + t*(c.Base-c.WarmupInit)/c.Warmup
	}
	if t >= c.Total {
		return c.Min
	}
	return c.Min + 0.5*(c.Base-c.Min)*(1+math.Cos(math.Pi*t/c.Total))
}
