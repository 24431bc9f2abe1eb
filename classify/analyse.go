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
type Routing struct {
	// Shares[block][expert] is the fraction of sub-tokens routed (top
	// expert) to each shared expert over the whole split.
	Shares [][]float64 `json:"shares"`
	// Gates[block][expert] is one token's gate probabilities per block,
	// averaged over its sub-tokens (heads).
	Gates [][]float64 `json:"gates"`
	// Token says which token Gates follows.
	Token string `json:"token"`
	// SubTokens is how many sub-tokens (SMoA heads) each row of Gates
	// averages.
	SubTokens int `json:"sub_tokens"`
	// Label is the class of the sample whose token Gates follows (test
	// sample 0).
	Label int `json:"label"`
}

// GatesTitle describes Gates for a figure: the sample, its class (named
// by classes), the token and the sub-tokens averaged.
func (r *Routing) GatesTitle(classes []string) string {
	class := fmt.Sprintf("class %d", r.Label)
	if r.Label >= 0 && r.Label < len(classes) {
		class = classes[r.Label]
	}
	return fmt.Sprintf("gates of test sample 0 (%s), %s token, mean of its %d sub-tokens", class, r.Token, r.SubTokens)
}

// RoutingOf runs a DAPT-X model over data's test split and records its
// routing. token chooses the followed token of the first sample: "cls" (the
// class token, index 0 in every block) or "patch" (the last patch token,
// also fixed while prompts are inserted after cls).
func RoutingOf(ctx context.Context, tr *Trained, data *datasets.Dataset, token string, batch, workers int) (*Routing, error) {
	d := tr.Model.DAPTX
	if d == nil {
		return nil, fmt.Errorf("routing exists only for dapt-x (this checkpoint is %s)", tr.Model.Cfg.Method)
	}
	st := &adapters.RoutingStats{}
	switch token {
	case "cls":
		st.Track = [][2]int{{0, 0}}
	case "patch":
		st.Track = [][2]int{{0, math.MaxInt32}} // clamped to the last token
	default:
		return nil, fmt.Errorf("unknown token %q (want cls or patch)", token)
	}
	d.SMoA.Stats = st
	defer func() { d.SMoA.Stats = nil }()
	if _, err := train.Evaluate(ctx, &Task{Model: tr.Model, Data: data}, train.TestSplit, max(batch, 1), workers, 0, nil, nil); err != nil {
		return nil, err
	}
	r := &Routing{Shares: st.Shares(), Token: token, Label: data.Test.Labels[0]}
	for b, g := range st.Gates {
		if len(g) == 0 {
			return nil, fmt.Errorf("routing: block %d recorded no gates for the followed token", b+1)
		}
		heads := g[0]
		r.SubTokens = len(heads)
		row := make([]float64, len(heads[0]))
		for _, h := range heads {
			for e, v := range h {
				row[e] += float64(v) / float64(len(heads))
			}
		}
		r.Gates = append(r.Gates, row)
	}
	return r, nil
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
