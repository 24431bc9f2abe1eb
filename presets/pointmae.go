package presets

import "fmt"

// Model is a model preset: one of the paper's fine-tuning configurations
// (Point-MAE's cfgs/finetune_*.yaml) or pcx's own, with the data it was made
// for, the point budget, the grouping, the classes and the transformer's
// size, and DAPT's choices for it (cfgs/finetune_*_dapt.yaml).
type Model struct {
	Name      string  `json:"name"`
	Data      string  `json:"data"`       // data set and variant
	Points    int     `json:"npoints"`    // points fed to the model
	Groups    int     `json:"num_group"`  // G
	GroupSize int     `json:"group_size"` // M
	Classes   int     `json:"cls_dim"`
	DropPath  float32 `json:"drop_path_rate"`
	// TransDim, Depth and Heads size the transformer; 0 means Point-MAE's
	// 384, 12 and 6.
	TransDim int `json:"trans_dim"`
	Depth    int `json:"depth"`
	Heads    int `json:"num_heads"`
	// Schedule, when set, names the training schedule the preset brings
	// whatever the data set; "" leaves the data set kind's.
	Schedule string `json:"schedule,omitempty"`
	// DAPT is DAPT's configuration on this preset.
	DAPT DAPT `json:"dapt"`
	// Pretrained names the built-in pretrained backbone (LookupPretrained)
	// pcx train fine-tunes by default on this preset; "" starts random
	// unless --ckpt names weights.
	Pretrained string `json:"pretrained,omitempty"`
}

// DAPT is DAPT's per-preset choice: the drop-path rate it trains with, the
// dynamic adapters' rank and dropout, and what its head reads.
type DAPT struct {
	DropPath       float32    `json:"drop_path_rate"`
	Rank           int        `json:"rank"`
	AdapterDropout float32    `json:"adapter_dropout"`
	Head           HeadTokens `json:"head"`
}

// HeadTokens chooses what DAPT's (and DAPT-X's) head reads.
type HeadTokens struct {
	Cls    bool   `json:"cls"`
	Prompt string `json:"prompt"` // "mean", "max" or "" (none)
	Patch  string `json:"patch"`  // "max", "mean" or ""
}

// Count is the number of C-wide pieces the head reads.
func (h HeadTokens) Count() int {
	n := 0
	if h.Cls {
		n++
	}
	if h.Prompt != "" {
		n++
	}
	if h.Patch != "" {
		n++
	}
	return n
}

// String names the pieces, e.g. "cls + prompt mean + patch max".
func (h HeadTokens) String() string {
	s := ""
	add := func(p string) {
		if s != "" {
			s += " + "
		}
		s += p
	}
	if h.Cls {
		add("cls")
	}
	if h.Prompt != "" {
		add("prompt " + h.Prompt)
	}
	if h.Patch != "" {
		add("patch " + h.Patch)
	}
	if s == "" {
		return "nothing"
	}
	return s
}

// DAPT's heads: ScanObjectNN's backgrounds and hardest read cls, the prompt
// mean and the patch max; objonly drops the patch max; ModelNet drops the
// prompts.
var (
	headScan    = HeadTokens{Cls: true, Prompt: "mean", Patch: "max"}
	headObjOnly = HeadTokens{Cls: true, Prompt: "mean"}
	headNet     = HeadTokens{Cls: true, Patch: "max"}
)

var models = newTable("preset", func(m Model) string { return m.Name },
	Model{Name: "scan_objbg", Data: "scanobjectnn:objbg", Points: 2048, Groups: 128, GroupSize: 32, Classes: 15, DropPath: 0.1,
		TransDim: 384, Depth: 12, Heads: 6, DAPT: DAPT{DropPath: 0.3, Rank: 64, AdapterDropout: 0.5, Head: headScan}},
	Model{Name: "scan_objonly", Data: "scanobjectnn:objonly", Points: 2048, Groups: 128, GroupSize: 32, Classes: 15, DropPath: 0.1,
		TransDim: 384, Depth: 12, Heads: 6, DAPT: DAPT{DropPath: 0.1, Rank: 64, Head: headObjOnly}},
	Model{Name: "scan_hardest", Data: "scanobjectnn:hardest", Points: 2048, Groups: 128, GroupSize: 32, Classes: 15, DropPath: 0.1,
		TransDim: 384, Depth: 12, Heads: 6, DAPT: DAPT{DropPath: 0.3, Rank: 64, AdapterDropout: 0.2, Head: headScan}},
	Model{Name: "modelnet", Data: "modelnet40", Points: 1024, Groups: 64, GroupSize: 32, Classes: 40, DropPath: 0.1,
		TransDim: 384, Depth: 12, Heads: 6, DAPT: DAPT{DropPath: 0.1, Rank: 72, Head: headNet}},
	Model{Name: "modelnet_8k", Data: "modelnet40", Points: 8192, Groups: 512, GroupSize: 32, Classes: 40, DropPath: 0.1,
		TransDim: 384, Depth: 12, Heads: 6, DAPT: DAPT{DropPath: 0.1, Rank: 72, Head: headNet}},
	// synth is pcx's small preset for the built-in data set: half-width,
	// half-depth transformer on 1024 points in 32 groups of 16, fast enough
	// to train on two CPU cores in minutes, with its own schedule. DAPT
	// takes hardest's adapter and head (the scans have clutter) and the
	// preset's drop-path.
	Model{Name: "synth", Data: "synth", Points: 1024, Groups: 32, GroupSize: 16, Classes: 16, DropPath: 0.1,
		TransDim: 192, Depth: 6, Heads: 3, Schedule: "synth", Pretrained: "synth",
		DAPT: DAPT{DropPath: 0.1, Rank: 64, AdapterDropout: 0.2, Head: headScan}},
)

// LookupModel returns a model preset by name.
func LookupModel(name string) (Model, error) {
	m, ok := models.lookup(name)
	if !ok {
		return Model{}, fmt.Errorf("unknown preset %q (have %v)", name, ModelNames())
	}
	return m, nil
}

// ModelNames lists the model presets in alphabetical order.
func ModelNames() []string { return models.sorted() }

// Models lists the model presets in registration order.
func Models() []Model { return models.all() }

// RegisterModel adds a model preset; its name must be new, and its
// schedule, when set, registered.
func RegisterModel(m Model) error {
	if m.Schedule != "" {
		if _, ok := schedules.lookup(m.Schedule); !ok {
			return fmt.Errorf("presets: preset %q names schedule %q, which is not registered", m.Name, m.Schedule)
		}
	}
	return models.register(m)
}
