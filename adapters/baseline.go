package adapters

import (
	"math/rand/v2"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
)

// Full is full fine-tuning: Point-MAE with every parameter trained.
type Full struct{ *backbone.PointMAE }

// NewFull builds Point-MAE (cfg as given, positions before every block)
// with every parameter trainable.
func NewFull(cfg backbone.Config, r *rand.Rand) (*Full, error) {
	pm, err := backbone.NewPointMAE(cfg, r)
	if err != nil {
		return nil, err
	}
	f := &Full{pm}
	setTrainable(f)
	return f, nil
}

// Trainable is every parameter.
func (f *Full) Trainable() nn.Params { return weights(f.Params()) }

// ForwardAux returns the logits; full fine-tuning has no auxiliary loss.
func (f *Full) ForwardAux(tp *nn.Tape, in backbone.Input, r *rand.Rand) (logits, aux *nn.Tensor) {
	return f.Forward(tp, in, r), nil
}

// Backbone is the model itself.
func (f *Full) Backbone() *backbone.PointMAE { return f.PointMAE }

// Linear is linear probing: Point-MAE with only its classification head
// trained.
type Linear struct{ *backbone.PointMAE }

// NewLinear builds Point-MAE with only the head trainable.
func NewLinear(cfg backbone.Config, r *rand.Rand) (*Linear, error) {
	pm, err := backbone.NewPointMAE(cfg, r)
	if err != nil {
		return nil, err
	}
	l := &Linear{pm}
	setTrainable(l)
	return l, nil
}

// Trainable is the head's weights (cls_head_finetune.*).
func (l *Linear) Trainable() nn.Params { return weights(l.Classifier().Params()) }

// ForwardAux returns the logits; linear probing has no auxiliary loss.
func (l *Linear) ForwardAux(tp *nn.Tape, in backbone.Input, r *rand.Rand) (logits, aux *nn.Tensor) {
	return l.Forward(tp, in, r), nil
}

// Backbone is the model itself.
func (l *Linear) Backbone() *backbone.PointMAE { return l.PointMAE }
