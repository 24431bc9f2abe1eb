package classify

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// The gates figure's title names the followed sample's class and says how
// many sub-tokens each gate averages.
func TestGatesTitle(t *testing.T) {
	d, tr, _ := trainedTiny(t, "dapt-x")
	r, err := RoutingOf(context.Background(), tr, d, "cls", 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	heads := tr.Model.Cfg.SMoAHeads
	if r.SubTokens != heads || heads < 2 || r.Label != d.Test.Labels[0] {
		t.Fatalf("sub-tokens %d (SMoA heads %d), label %d (sample 0 is %d)", r.SubTokens, heads, r.Label, d.Test.Labels[0])
	}
	title := r.GatesTitle(d.Classes)
	for _, want := range []string{"sample 0 (" + d.Classes[r.Label] + ")", "cls token", fmt.Sprintf("mean of its %d sub-tokens", heads)} {
		if !strings.Contains(title, want) {
			t.Errorf("title %q lacks %q", title, want)
		}
	}
	if got := (&Routing{Label: 99, Token: "patch", SubTokens: 3}).GatesTitle(d.Classes); !strings.Contains(got, "(class 99)") {
		t.Errorf("a label beyond the class names: %q", got)
	}
}
