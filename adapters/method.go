package adapters

import (
	"fmt"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/presets"
)

// Model is a backbone with a fine-tuning method's pieces attached: what a
// task trains. Every method builds one: the Point-MAE methods a Net, the
// ViT methods a *ViTNet.
type Model interface {
	// Params lists every parameter and buffer in state-dict order (the
	// order of checkpoints and of the optimiser's state).
	Params() nn.Params
	// Trainable lists the parameters the method trains, from the pieces
	// it holds; buffers are never among them.
	Trainable() nn.Params
	// Forward returns the logits of the backbone's input (Point-MAE:
	// *backbone.Groups; ViT: *backbone.Images).
	Forward(tp *nn.Tape, in backbone.Input, r *rand.Rand) *nn.Tensor
	// ForwardAux returns the logits and the method's auxiliary loss (a
	// scalar, nil for none: DAPT-X's balance loss), which training adds
	// to the task's loss times the method's weight (DAPT-X's Alpha).
	ForwardAux(tp *nn.Tape, in backbone.Input, r *rand.Rand) (logits, aux *nn.Tensor)
}

// Net is a Point-MAE method (full, linear, dapt, dapt-x).
type Net interface {
	Model
	// Backbone is the Point-MAE model the method is built on, for what
	// lies outside the network: classify groups clouds with it and reads
	// its encoder's statistics and its head. The methods' own code sees it
	// only as a backbone.Backbone.
	Backbone() *backbone.PointMAE
}

// builders holds each registered method's code; presets holds its entry.
var builders = map[string]func(cfg DAPTXConfig, r *rand.Rand) (Net, error){
	"full":   func(cfg DAPTXConfig, r *rand.Rand) (Net, error) { return NewFull(cfg.Config, r) },
	"linear": func(cfg DAPTXConfig, r *rand.Rand) (Net, error) { return NewLinear(cfg.Config, r) },
	"dapt":   func(cfg DAPTXConfig, r *rand.Rand) (Net, error) { return NewDAPT(cfg.DAPTConfig, r) },
	"dapt-x": func(cfg DAPTXConfig, r *rand.Rand) (Net, error) { return NewDAPTX(cfg, r) },
}

// Build builds a registered method (presets.MethodNames) with weights drawn
// from r and its trainable parameters set. cfg carries every method's
// settings; each reads its own: full and linear the backbone's Config, dapt
// the DAPTConfig, dapt-x all of it.
func Build(method string, cfg DAPTXConfig, r *rand.Rand) (Net, error) {
	if _, err := presets.LookupMethod(method); err != nil {
		return nil, err
	}
	b, ok := builders[method]
	if !ok {
		return nil, fmt.Errorf("adapters: method %q is registered but pcx has no code for it", method)
	}
	return b(cfg, r)
}

// setTrainable freezes every parameter of n and unfreezes those it
// declares trainable.
func setTrainable(n Model) {
	n.Params().Freeze()
	n.Trainable().Unfreeze()
}

// weights drops the buffers (BatchNorm's running statistics) from ps.
func weights(ps nn.Params) nn.Params {
	var out nn.Params
	for _, p := range ps {
		if !p.Buffer {
			out = append(out, p)
		}
	}
	return out
}
