package adapters

import (
	"fmt"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/layers"
)

// SMoA is Adapter-X's Sharing Mixture of Adapters: one library of adapter
// experts and one router, shared by every block that calls it.
//
// A B×T×C input is split into h sub-tokens per token (consecutive channel
// chunks of C/h, Algorithm 1's view(-1, d/h)); a linear projection without
// bias ("switch_reduction") maps each sub-token to the expert-embedding
// space, whose dimension is the adapters' rank; the routing scores are its
// dot products with the L2-normalised expert embeddings; a softmax over the
// experts gives the gates. The output mixes the experts' outputs with the
// gates (Dense, Algorithm 1) or keeps only the top expert scaled by its gate
// (Top1, the paper's figure and X-MoE). Each expert is a bottleneck adapter
// C/h → rank → C/h with exact GELU.
type SMoA struct {
	Heads      int
	Reduction  *nn.Param // rank × C/h
	Embeddings *nn.Param // experts × rank
	Experts    []*layers.Adapter
	Top1       bool
	// Routers, when set (UsePerBlockRouters), replaces Reduction with one
	// projection per block.
	Routers []*nn.Param
	// Stats, when not nil, receives every call's routing.
	Stats *RoutingStats
}

// NewSMoA builds an SMoA named prefix.* for tokens of width dim, its
// experts bottleneck adapters with exact GELU (layers.NewAdapter).
func NewSMoA(prefix string, dim, heads, experts, rank int, r *rand.Rand) (*SMoA, error) {
	return NewSMoAWith(prefix, dim, heads, experts, rank, layers.NewAdapter, r)
}

// NewSMoAWith builds an SMoA whose experts expert builds (named
// prefix.experts.i, C/h → rank → C/h), drawn after the router.
func NewSMoAWith(prefix string, dim, heads, experts, rank int, expert func(prefix string, dim, rank int, r *rand.Rand) *layers.Adapter, r *rand.Rand) (*SMoA, error) {
	if heads <= 0 || dim%heads != 0 || experts <= 0 || rank <= 0 {
		return nil, fmt.Errorf("adapters: SMoA cannot split %d channels into %d heads with %d experts of rank %d", dim, heads, experts, rank)
	}
	ds := dim / heads
	s := &SMoA{Heads: heads, Reduction: layers.NewLinear(prefix+".reduction", ds, rank, false, r).Weight,
		Embeddings: nn.NewParam(prefix+".expert_embeddings", experts, rank)}
	for i := range s.Embeddings.Data {
		s.Embeddings.Data[i] = float32(r.NormFloat64()) // torch.randn, as Algorithm 1's switch
	}
	for i := 0; i < experts; i++ {
		a := expert(fmt.Sprintf("%s.experts.%d", prefix, i), ds, rank, r)
		s.Experts = append(s.Experts, a)
	}
	return s, nil
}

// Params lists the shared parameters.
func (s *SMoA) Params() nn.Params {
	ps := nn.Params{s.Reduction, s.Embeddings}
	if s.Routers != nil {
		ps = append(nn.Params{}, s.Routers...)
		ps = append(ps, s.Embeddings)
	}
	for _, e := range s.Experts {
		ps = append(ps, e.Params()...)
	}
	return ps
}

// Forward routes u (B×T×C) for one block and returns the mixed expert
// output (B×T×C) and the block's load-balancing loss E·Σ_p f_p·P_p (Eq. 6:
// f_p the share of sub-tokens whose top expert is p, P_p the mean gate).
func (s *SMoA) Forward(tp *nn.Tape, u *nn.Tensor, block int) (*nn.Tensor, *nn.Tensor) {
	b, t, c := u.Dim(0), u.Dim(1), u.Dim(2)
	ds := c / s.Heads
	n := b * t * s.Heads
	e := len(s.Experts)
	sub := u.Reshape(n, ds)
	red := s.Reduction
	if s.Routers != nil {
		red = s.Routers[block]
	}
	z := nn.Linear(tp, sub, red, nil)
	en := nn.L2Normalize(tp, s.Embeddings.T(), 1e-12)
	probs := nn.Softmax(tp, nn.MatMulT(tp, z, en)) // n × E
	gates := probs
	if s.Top1 {
		gates = nn.Top1(tp, probs)
	}
	var out *nn.Tensor
	for i, ex := range s.Experts {
		y := nn.RowScale(tp, ex.Forward(tp, sub), nn.Column(tp, gates, i))
		if out == nil {
			out = y
		} else {
			// No backward function reads the gated outputs or the partial
			// sums: they go back to the tape's pool once added.
			sum := nn.Add(tp, out, y)
			tp.Discard(out, y)
			out = sum
		}
	}
	hp := probs.Host() // downloaded when on a device
	arg := nn.ArgmaxRows(hp, n, e)
	counts := make([]int, e)
	for _, j := range arg {
		counts[j]++
	}
	// L = E·Σ_p f_p·mean_x probs[x,p] = Σ_{x,p} probs[x,p]·E·f_p/n.
	w := make([]float32, n*e)
	for x := 0; x < n; x++ {
		for p := 0; p < e; p++ {
			w[x*e+p] = float32(float64(e) * float64(counts[p]) / float64(n) / float64(n))
		}
	}
	loss := nn.DotConst(tp, probs, w)
	if s.Stats != nil {
		s.Stats.record(block, counts, hp, s.Heads, t, e)
	}
	return out.Reshape(b, t, c), loss
}

// RoutingStats accumulates, per block, how many sub-tokens each expert
// receives (their top expert) and, for chosen tokens, their gate
// probabilities: the data of the paper's Fig. 4.
type RoutingStats struct {
	// Counts[block][expert] sums sub-tokens routed over all calls.
	Counts [][]int
	// Track lists (sample, token) pairs of the first batch whose gates are
	// kept; Gates[block][k] holds, per sub-token head, the E gates of
	// Track[k].
	Track [][2]int
	Gates [][][][]float32
}

func (rs *RoutingStats) record(block int, counts []int, probs []float32, heads, t, e int) {
	for len(rs.Counts) <= block {
		rs.Counts = append(rs.Counts, make([]int, e))
		rs.Gates = append(rs.Gates, nil)
	}
	for p, c := range counts {
		rs.Counts[block][p] += c
	}
	if rs.Gates[block] != nil || len(rs.Track) == 0 {
		return
	}
	for _, st := range rs.Track {
		var g [][]float32
		tok := st[1]
		if tok >= t { // the sequence grows with prompts; clamp to the last
			tok = t - 1
		}
		for h := 0; h < heads; h++ {
			row := ((st[0]*t+tok)*heads + h) * e
			g = append(g, append([]float32(nil), probs[row:row+e]...))
		}
		rs.Gates[block] = append(rs.Gates[block], g)
	}
}

// Shares returns, per block, the fraction of sub-tokens each expert
// received.
func (rs *RoutingStats) Shares() [][]float64 {
	out := make([][]float64, len(rs.Counts))
	for b, cs := range rs.Counts {
		total := 0
		for _, c := range cs {
			total += c
		}
		out[b] = make([]float64, len(cs))
		for p, c := range cs {
			if total > 0 {
				out[b][p] = float64(c) / float64(total)
			}
		}
	}
	return out
}

// Routing is an SMoA's routing over a data set: the paper's Fig. 4.
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

// Summary is the routing rs recorded, its followed token named token and
// its sample of class label.
func (rs *RoutingStats) Summary(token string, label int) (*Routing, error) {
	r := &Routing{Shares: rs.Shares(), Token: token, Label: label}
	for b, g := range rs.Gates {
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
