// Package optim holds pcx's optimisers (AdamW, SGD with momentum), global
// gradient-norm clipping and learning-rate schedules, with PyTorch's and
// timm's semantics.
package optim

import (
	"math"
	"strings"

	"github.com/pcx-dev/pcx/nn"
)

// Optimizer updates trainable parameters from their gradients.
type Optimizer interface {
	// Step applies one update with learning rate lr.
	Step(lr float64)
	// State returns the optimiser's buffers by name, for checkpoints.
	State() map[string][]float32
	// Steps is the number of updates taken.
	Steps() int
	// SetSteps restores the update count when resuming.
	SetSteps(n int)
	// Load restores buffers saved by State.
	Load(map[string][]float32)
}

// NoDecay reports whether Point-MAE's rule exempts a parameter from weight
// decay: 1-D parameters, biases and names containing "token".
func NoDecay(p *nn.Param) bool {
	return len(p.Shape) == 1 || strings.HasSuffix(p.Name, ".bias") || strings.Contains(p.Name, "token")
}

// AdamW is torch.optim.AdamW with decoupled weight decay, applied only to the
// parameters for which Decays returns true (by default !NoDecay).
type AdamW struct {
	Params                         nn.Params
	Beta1, Beta2, Eps, WeightDecay float64
	// Decays selects the parameters that get weight decay.
	Decays func(*nn.Param) bool
	m, v   map[*nn.Param][]float32
	// dev holds the moments of parameters on a device (m and v then hold
	// the host copies State downloads and Load restores), with the device
	// that allocated them: ToHost frees them, and so does the first Step or
	// State after their parameter went back to the host.
	dev map[*nn.Param]devMoments
	t   int
}

// devMoments are one parameter's moments on device d.
type devMoments struct {
	d    nn.Device
	m, v nn.DeviceBuffer
}

// NewAdamW returns AdamW over the trainable parameters of ps with betas
// (0.9, 0.999), eps 1e-8 and the given weight decay.
func NewAdamW(ps nn.Params, weightDecay float64) *AdamW {
	return &AdamW{Params: ps.Trainable(), Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay,
		Decays: func(p *nn.Param) bool { return !NoDecay(p) },
		m:      map[*nn.Param][]float32{}, v: map[*nn.Param][]float32{}}
}

// Step implements Optimizer.
func (o *AdamW) Step(lr float64) {
	o.t++
	bc1 := 1 - math.Pow(o.Beta1, float64(o.t))
	bc2 := 1 - math.Pow(o.Beta2, float64(o.t))
	for _, p := range o.Params {
		if d := p.Device(); d != nil {
			o.stepDevice(d, p, lr, bc1, bc2)
			continue
		}
		if dm, ok := o.dev[p]; ok { // the parameter came back from its device
			o.fetch(p, dm, true)
		}
		if p.Grad == nil {
			continue
		}
		m, v := o.m[p], o.v[p]
		if m == nil {
			m, v = make([]float32, p.Len()), make([]float32, p.Len())
			o.m[p], o.v[p] = m, v
		}
		decay := 1.0
		if o.Decays(p) {
			decay = 1 - lr*o.WeightDecay
		}
		// 1-β is taken in float64 before rounding to float32, as torch
		// does (float32(1)-float32(0.999) is 1.3e-5 off 0.001).
		b1, b2 := float32(o.Beta1), float32(o.Beta2)
		c1, c2 := float32(1-o.Beta1), float32(1-o.Beta2)
		step := lr / bc1
		sbc2 := math.Sqrt(bc2)
		for i, g := range p.Grad {
			m[i] = b1*m[i] + c1*g
			v[i] = b2*v[i] + c2*g*g
			denom := math.Sqrt(float64(v[i]))/sbc2 + o.Eps
			p.Data[i] = float32(float64(p.Data[i])*decay - step*float64(m[i])/denom)
		}
	}
}

// stepDevice is Step for a parameter on a device: the same arithmetic
// (nn/cuda's pcx_adamw), the moments resident on the device.
func (o *AdamW) stepDevice(d nn.Device, p *nn.Param, lr, bc1, bc2 float64) {
	g := p.DeviceGrad()
	if g == nil {
		return
	}
	dm, ok := o.dev[p]
	if ok && dm.d != d { // moved to another device since
		o.fetch(p, dm, true)
		ok = false
	}
	if !ok {
		dm = devMoments{d: d, m: d.Alloc(p.Len()), v: d.Alloc(p.Len())}
		if hm, hv := o.m[p], o.v[p]; hm != nil { // from a checkpoint or an earlier device
			d.Upload(dm.m, hm)
			d.Upload(dm.v, hv)
		}
		if o.dev == nil {
			o.dev = map[*nn.Param]devMoments{}
		}
		o.dev[p] = dm
	}
	m, v := dm.m, dm.v
	decay := 1.0
	if o.Decays(p) {
		decay = 1 - lr*o.WeightDecay
	}
	d.AdamW(p.DeviceData(), g, m, v, o.Beta1, o.Beta2, o.Eps, lr/bc1, decay, math.Sqrt(bc2))
}

// fetch downloads a parameter's device moments into its host copies and,
// when free is set, frees them on the device.
func (o *AdamW) fetch(p *nn.Param, dm devMoments, free bool) {
	if o.m[p] == nil {
		o.m[p], o.v[p] = make([]float32, p.Len()), make([]float32, p.Len())
	}
	dm.d.Download(o.m[p], dm.m)
	dm.d.Download(o.v[p], dm.v)
	if free {
		o.drop(p, dm)
	}
}

// drop frees a parameter's device moments without reading them.
func (o *AdamW) drop(p *nn.Param, dm devMoments) {
	delete(o.dev, p)
	dm.d.Free(dm.m)
	dm.d.Free(dm.v)
}

// ToHost copies the moments held on devices to the host and frees them
// there, as nn.Params.ToHost does for the parameters; a later Step on a
// device uploads them again. Call it when a run on a device ends.
func (o *AdamW) ToHost() {
	for _, p := range o.Params {
		if dm, ok := o.dev[p]; ok {
			o.fetch(p, dm, true)
		}
	}
}

// Detach frees the moments held on devices without reading them back, for
// use after a device failure (as nn.Params.Detach): the host copies keep
// the values of the last State or Load. A failing Free is ignored.
func (o *AdamW) Detach() {
	for _, p := range o.Params {
		if dm, ok := o.dev[p]; ok {
			nn.CatchDevice(func() { o.drop(p, dm) })
			delete(o.dev, p)
		}
	}
}

// State implements Optimizer: "<param>.exp_avg" and "<param>.exp_avg_sq".
// Moments on a device are downloaded first (and freed there when their
// parameter is no longer on that device).
func (o *AdamW) State() map[string][]float32 {
	for _, p := range o.Params {
		if dm, ok := o.dev[p]; ok {
			o.fetch(p, dm, p.Device() != dm.d)
		}
	}
	s := map[string][]float32{}
	for _, p := range o.Params {
		if o.m[p] != nil {
			s[p.Name+".exp_avg"], s[p.Name+".exp_avg_sq"] = o.m[p], o.v[p]
		}
	}
	return s
}

// Load restores buffers saved by State.
func (o *AdamW) Load(s map[string][]float32) {
	for _, p := range o.Params {
		m, v := s[p.Name+".exp_avg"], s[p.Name+".exp_avg_sq"]
		if len(m) == p.Len() && len(v) == p.Len() {
			o.m[p] = append([]float32(nil), m...)
			o.v[p] = append([]float32(nil), v...)
			if dm, ok := o.dev[p]; ok {
				dm.d.Upload(dm.m, o.m[p])
				dm.d.Upload(dm.v, o.v[p])
			}
		}
	}
}

// Steps implements Optimizer.
func (o *AdamW) Steps() int { return o.t }

// SetSteps implements Optimizer.
func (o *AdamW) SetSteps(n int) { o.t = n }

// SGD is torch.optim.SGD with momentum (dampening 0), optional Nesterov
// momentum and L2 weight decay added to the gradient.
type SGD struct {
	Params                nn.Params
	Momentum, WeightDecay float64
	Nesterov              bool
	buf                   map[*nn.Param][]float32
	t                     int
}

// NewSGD returns SGD over the trainable parameters of ps.
func NewSGD(ps nn.Params, momentum, weightDecay float64) *SGD {
	return &SGD{Params: ps.Trainable(), Momentum: momentum, WeightDecay: weightDecay, buf: map[*nn.Param][]float32{}}
}

// Step implements Optimizer.
func (o *SGD) Step(lr float64) {
	o.t++
	mu, wd := float32(o.Momentum), float32(o.WeightDecay)
	for _, p := range o.Params {
		if p.Grad == nil {
			continue
		}
		b := o.buf[p]
		first := b == nil
		if first && mu != 0 {
			b = make([]float32, p.Len())
			o.buf[p] = b
		}
		for i, g := range p.Grad {
			d := g + wd*p.Data[i]
			if mu != 0 {
				if first {
					b[i] = d
				} else {
					b[i] = mu*b[i] + d
				}
				if o.Nesterov {
					d += mu * b[i]
				} else {
					d = b[i]
				}
			}
			p.Data[i] -= float32(lr) * d
		}
	}
}

// State implements Optimizer: "<param>.momentum_buffer".
func (o *SGD) State() map[string][]float32 {
	s := map[string][]float32{}
	for _, p := range o.Params {
		if o.buf[p] != nil {
			s[p.Name+".momentum_buffer"] = o.buf[p]
		}
	}
	return s
}

// Load restores buffers saved by State.
func (o *SGD) Load(s map[string][]float32) {
	for _, p := range o.Params {
		if b, ok := s[p.Name+".momentum_buffer"]; ok && len(b) == p.Len() {
			o.buf[p] = append([]float32(nil), b...)
		}
	}
}

// Steps implements Optimizer.
func (o *SGD) Steps() int { return o.t }

// SetSteps implements Optimizer.
func (o *SGD) SetSteps(n int) { o.t = n }

// ClipGradNorm scales the gradients of ps so that their global L2 norm is at
// most maxNorm (torch.nn.utils.clip_grad_norm_: factor maxNorm/(norm+1e-6)
// when below 1) and returns the norm before clipping.
//
// Gradients on a device are summed there (in double, parameter by
// parameter) and scaled there; only the norm comes back.
func ClipGradNorm(ps nn.Params, maxNorm float64) float64 {
	var s float64
	var dev nn.Device
	var dgs []nn.DeviceBuffer
	for _, p := range ps {
		if d := p.Device(); d != nil {
			if g := p.DeviceGrad(); g != nil {
				dev = d
				dgs = append(dgs, g)
			}
		}
	}
	if dev != nil {
		s = dev.SumSquares(dgs)
	}
	for _, p := range ps {
		for _, g := range p.Grad {
			s += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(s)
	if c := maxNorm / (norm + 1e-6); c < 1 {
		for _, g := range dgs {
			dev.Scale(g, g, float32(c))
		}
		for _, p := range ps {
			for i := range p.Grad {
				p.Grad[i] *= float32(c)
			}
		}
	}
	return norm
}
