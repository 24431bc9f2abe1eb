package presets

import (
	"fmt"
	"strings"
)

// Method is a fine-tuning method: what it trains and the settings it fixes
// whatever the model preset (those that vary by preset are in Model.DAPT).
type Method struct {
	Name    string `json:"name"`
	Summary string `json:"summary"`
	Trains  string `json:"trains"`
	// DAPT: the method takes the model preset's DAPT row (drop-path, rank,
	// adapter dropout, head).
	DAPT bool `json:"dapt_settings,omitempty"`
	// SMoA is DAPT-X's Sharing Mixture of Adapters; nil for the others.
	SMoA *SMoA `json:"smoa,omitempty"`
}

// SMoA sizes DAPT-X's shared adapters: the expert rank (also the expert
// embeddings' dimension), the sub-token heads, the experts, top-1 or dense
// mixing, and the balance-loss coefficient α.
type SMoA struct {
	Rank    int     `json:"rank"`
	Heads   int     `json:"smoa_heads"`
	Experts int     `json:"experts"`
	Top1    bool    `json:"top1"`
	Alpha   float32 `json:"alpha"`
}

var methods = newTable("method", func(m Method) string { return m.Name },
	Method{Name: "full", Summary: "full fine-tuning", Trains: "every parameter"},
	Method{Name: "linear", Summary: "linear probing", Trains: "the classification head"},
	Method{Name: "dapt", Summary: "DAPT (Zhou et al., CVPR 2024)",
		Trains: "cls token and position, head, SSFs, dynamic adapters", DAPT: true},
	Method{Name: "dapt-x", Summary: "Adapter-X on Point-MAE",
		Trains: "cls token and position, head, SMoA, each block's norm2 and prompt generator (with keep_dapt also DAPT's SSFs and adapters)",
		DAPT:   true, SMoA: &SMoA{Rank: 32, Heads: 3, Experts: 4, Alpha: 0.01}},
)

// MethodNames lists the methods in registration order: full, linear, dapt,
// dapt-x.
func MethodNames() []string { return methods.names() }

// Methods lists the methods in registration order.
func Methods() []Method {
	out := methods.all()
	for i, m := range out {
		if m.SMoA != nil { // callers get their own copy
			s := *m.SMoA
			out[i].SMoA = &s
		}
	}
	return out
}

// LookupMethod returns a method by name.
func LookupMethod(name string) (Method, error) {
	m, ok := methods.lookup(name)
	if !ok {
		return Method{}, fmt.Errorf("unknown method %q (have %s)", name, strings.Join(MethodNames(), ", "))
	}
	if m.SMoA != nil {
		s := *m.SMoA
		m.SMoA = &s
	}
	return m, nil
}

// RegisterMethod adds a method's entry; its name must be new. (A method
// also needs its code: see adapters.)
func RegisterMethod(m Method) error { return methods.register(m) }
