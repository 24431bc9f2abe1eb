package classify

import (
	"context"
	"fmt"
	"math"

	"github.com/pcx-dev/pcx/adapters"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/train"
)

// Routing is DAPT-X's routing over a data set: the paper's Fig. 4.
type Routing = adapters.Routing

// RoutingOf runs a DAPT-X model over data's test split and records its
// routing. token chooses the followed token of the first sample: "cls" (the
// class token, index 0 in every block) or "patch" (the last patch token,
// also fixed while prompts are inserted after cls).
func RoutingOf(ctx context.Context, tr *Trained, data *datasets.Dataset, token string, batch, workers int) (*Routing, error) {
	d := tr.Model.DAPTX
	if d == nil {
		return nil, fmt.Errorf("routing exists only for dapt-x (this checkpoint is %s)", tr.Model.Cfg.Method)
	}
	st, err := NewRoutingStats(token)
	if err != nil {
		return nil, err
	}
	d.SMoA.Stats = st
	defer func() { d.SMoA.Stats = nil }()
	if _, err := train.Evaluate(ctx, &Task{Model: tr.Model, Data: data}, train.TestSplit, max(batch, 1), workers, 0, nil, nil); err != nil {
		return nil, err
	}
	return st.Summary(token, data.Test.Labels[0])
}

// NewRoutingStats returns statistics that follow token of the first
// sample: "cls" (the class token, index 0 in every block) or "patch" (the
// last patch token, also fixed while prompts are inserted after cls).
func NewRoutingStats(token string) (*adapters.RoutingStats, error) {
	st := &adapters.RoutingStats{}
	switch token {
	case "cls":
		st.Track = [][2]int{{0, 0}}
	case "patch":
		st.Track = [][2]int{{0, math.MaxInt32}} // clamped to the last token
	default:
		return nil, fmt.Errorf("unknown token %q (want cls or patch)", token)
	}
	return st, nil
}

// Features returns the head's input features (cls, pooled prompts, pooled
// patches) of every sample of data's test split, with their labels.
func Features(ctx context.Context, tr *Trained, data *datasets.Dataset, batch, workers int) ([][]float32, []int, error) {
	var feats [][]float32
	h := tr.Model.MAE.Head
	h.Features = func(x *nn.Tensor) {
		c := x.Dim(-1)
		for i := 0; i < x.Len()/c; i++ {
			feats = append(feats, append([]float32(nil), x.Data[i*c:(i+1)*c]...))
		}
	}
	defer func() { h.Features = nil }()
	var labels []int
	_, err := train.Evaluate(ctx, &Task{Model: tr.Model, Data: data}, train.TestSplit, max(batch, 1), workers, 0, nil,
		func(b train.Batch, _ train.Output) { labels = append(labels, b.(*Batch).labels...) })
	if err != nil {
		return nil, nil, err
	}
	if len(feats) != len(labels) {
		return nil, nil, fmt.Errorf("features: %d rows for %d samples", len(feats), len(labels))
	}
	return feats, labels, nil
}
