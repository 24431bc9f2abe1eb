package backbone

import (
	"sort"
	"strings"

	"github.com/pcx-dev/pcx/nn"
)

// ModuleCount is the parameter count of one top-level module.
type ModuleCount struct {
	Module  string `json:"module"`
	Total   int    `json:"total"`
	Tunable int    `json:"tunable"`
}

// ParamReport summarises a model's parameters (buffers excluded).
type ParamReport struct {
	Total   int           `json:"total"`
	Tunable int           `json:"tunable"`
	Percent float64       `json:"tunable_percent"`
	Modules []ModuleCount `json:"modules"`
}

// moduleOf names the top-level module of a parameter: blocks.blocks.3.x →
// "blocks", cls_token → "cls_token", encoder.first_conv.0.weight → "encoder".
func moduleOf(name string) string {
	if i := strings.IndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return name
}

// CountParams reports total and tunable parameters per module.
func CountParams(ps nn.Params) ParamReport {
	var r ParamReport
	by := map[string]*ModuleCount{}
	for _, p := range ps {
		if p.Buffer {
			continue
		}
		mod := moduleOf(p.Name)
		mc := by[mod]
		if mc == nil {
			mc = &ModuleCount{Module: mod}
			by[mod] = mc
		}
		mc.Total += p.Len()
		r.Total += p.Len()
		if p.Trainable {
			mc.Tunable += p.Len()
			r.Tunable += p.Len()
		}
	}
	for _, mc := range by {
		r.Modules = append(r.Modules, *mc)
	}
	sort.Slice(r.Modules, func(i, j int) bool { return r.Modules[i].Module < r.Modules[j].Module })
	if r.Total > 0 {
		r.Percent = 100 * float64(r.Tunable) / float64(r.Total)
	}
	return r
}
