package classify

import (
	"testing"

	"github.com/pcx-dev/pcx/adapters"
	"github.com/pcx-dev/pcx/presets"
)

// ResolveModel's dapt-x settings are DAPTXPreset's for the preset asked.
func TestResolveModelDAPTXPreset(t *testing.T) {
	for _, p := range presets.ModelNames() {
		m, err := ResolveModel(p, "dapt-x", 0)
		if err != nil {
			t.Fatal(err)
		}
		x, err := adapters.DAPTXPreset(p)
		if err != nil {
			t.Fatal(err)
		}
		if m.Rank != x.Rank || m.AdapterRank != x.AdapterRank || m.SMoAHeads != x.SMoAHeads || m.Experts != x.Experts ||
			m.Top1 != x.Top1 || m.Alpha != x.Alpha || m.DropPath != x.DropPath || m.AdapterDropout != x.AdapterDropout ||
			m.HeadCls != x.Head.Cls || m.HeadPrompt != x.Head.Prompt || m.HeadPatch != x.Head.Patch {
			t.Errorf("%s: ResolveModel %+v, DAPTXPreset %+v", p, m, x)
		}
	}
}
