// Package classify is point-cloud classification on pcx's training core: it
// builds a Point-MAE model for a fine-tuning method (full, linear, dapt,
// dapt-x), loads pretrained weights, and implements train.Task with
// Point-MAE's data pipeline (FPS to the point budget, one random subset per
// batch, ScaleAndTranslate, optional rotation; FPS to the budget at test
// time), evaluation with Point-MAE's voting, and prediction on files.
package classify

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/pcx-dev/pcx/adapters"
	"github.com/pcx-dev/pcx/backbone"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/presets"
)

// ModelConfig is everything needed to rebuild a model: the backbone sizes
// and the method with its settings.
type ModelConfig struct {
	Preset      string  `yaml:"preset" json:"preset"`
	Method      string  `yaml:"method" json:"method"`
	TransDim    int     `yaml:"trans_dim" json:"trans_dim"`
	Depth       int     `yaml:"depth" json:"depth"`
	Heads       int     `yaml:"num_heads" json:"num_heads"`
	Classes     int     `yaml:"cls_dim" json:"cls_dim"`
	Groups      int     `yaml:"num_group" json:"num_group"`
	GroupSize   int     `yaml:"group_size" json:"group_size"`
	Points      int     `yaml:"npoints" json:"npoints"`
	DropPath    float32 `yaml:"drop_path_rate" json:"drop_path_rate"`
	HeadDropout float32 `yaml:"head_dropout" json:"head_dropout"`
	// DAPT and DAPT-X.
	Rank           int     `yaml:"rank,omitempty" json:"rank,omitempty"`
	AdapterDropout float32 `yaml:"adapter_dropout,omitempty" json:"adapter_dropout,omitempty"`
	HeadCls        bool    `yaml:"head_cls,omitempty" json:"head_cls,omitempty"`
	HeadPrompt     string  `yaml:"head_prompt,omitempty" json:"head_prompt,omitempty"`
	HeadPatch      string  `yaml:"head_patch,omitempty" json:"head_patch,omitempty"`
	// DAPT-X.
	SMoAHeads int     `yaml:"smoa_heads,omitempty" json:"smoa_heads,omitempty"`
	Experts   int     `yaml:"experts,omitempty" json:"experts,omitempty"`
	Top1      bool    `yaml:"top1,omitempty" json:"top1,omitempty"`
	Alpha     float32 `yaml:"alpha,omitempty" json:"alpha,omitempty"`
	// KeepDAPT keeps DAPT's SSFs and dynamic adapters (of rank
	// AdapterRank) inside DAPT-X (see adapters.DAPTX).
	KeepDAPT    bool `yaml:"keep_dapt,omitempty" json:"keep_dapt,omitempty"`
	AdapterRank int  `yaml:"adapter_rank,omitempty" json:"adapter_rank,omitempty"`
}

// ResolveModel fills a ModelConfig from a preset and a method for a data
// set of the given number of classes: the paper's settings for the paper's
// presets, DAPT's head and dropout choices per preset.
func ResolveModel(preset, method string, classes int) (ModelConfig, error) {
	meth, err := presets.LookupMethod(method)
	if err != nil {
		return ModelConfig{}, err
	}
	p, err := presets.LookupModel(preset)
	if err != nil {
		return ModelConfig{}, err
	}
	if classes <= 0 {
		classes = p.Classes
	}
	c := adapters.BackboneConfig(p)
	m := ModelConfig{Preset: preset, Method: method, TransDim: c.TransDim, Depth: c.Depth, Heads: c.Heads,
		Classes: classes, Groups: c.NumGroup, GroupSize: c.GroupSize, Points: c.NPoints, DropPath: c.DropPath,
		HeadDropout: c.HeadDropout}
	if meth.DAPT {
		d, err := adapters.DAPTPreset(preset)
		if err != nil {
			return ModelConfig{}, err
		}
		m.DropPath, m.Rank, m.AdapterDropout = d.DropPath, d.Rank, d.AdapterDropout
		m.HeadCls, m.HeadPrompt, m.HeadPatch = d.Head.Cls, d.Head.Prompt, d.Head.Patch
	}
	if meth.SMoA != nil {
		x, err := adapters.DAPTXPreset(preset)
		if err != nil {
			return ModelConfig{}, err
		}
		m.AdapterRank = m.Rank // DAPT's rank, for the kept dynamic adapters
		m.Rank, m.SMoAHeads, m.Experts, m.Top1, m.Alpha = x.Rank, x.SMoAHeads, x.Experts, x.Top1, x.Alpha
	}
	return m, nil
}

func (m ModelConfig) backbone() backbone.Config {
	return backbone.Config{TransDim: m.TransDim, Depth: m.Depth, Heads: m.Heads, Classes: m.Classes,
		NumGroup: m.Groups, GroupSize: m.GroupSize, NPoints: m.Points, DropPath: m.DropPath,
		HeadDropout: m.HeadDropout, PosEveryBlock: true}
}

func (m ModelConfig) dapt() adapters.DAPTConfig {
	return adapters.DAPTConfig{Config: m.backbone(), Rank: m.Rank, AdapterDropout: m.AdapterDropout,
		Head: adapters.HeadTokens{Cls: m.HeadCls, Prompt: m.HeadPrompt, Patch: m.HeadPatch}}
}

func (m ModelConfig) daptx() adapters.DAPTXConfig {
	return adapters.DAPTXConfig{DAPTConfig: m.dapt(), SMoAHeads: m.SMoAHeads, Experts: m.Experts, Top1: m.Top1,
		Alpha: m.Alpha, KeepDAPT: m.KeepDAPT, AdapterRank: m.AdapterRank}
}

// Model is a classifier built for a method.
type Model struct {
	Cfg ModelConfig
	// MAE is the backbone (shared with the method's model).
	MAE *backbone.PointMAE
	// DAPTX is set for dapt-x (its SMoA records routing statistics).
	DAPTX *adapters.DAPTX
	net   adapters.Net
}

// NewModel builds the model of cfg with weights drawn from r and the
// method's trainable parameters set.
func NewModel(cfg ModelConfig, r *rand.Rand) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n, err := adapters.Build(cfg.Method, cfg.daptx(), r)
	if err != nil {
		return nil, err
	}
	m := &Model{Cfg: cfg, MAE: n.Backbone(), net: n}
	m.DAPTX, _ = n.(*adapters.DAPTX)
	return m, nil
}

// Params lists every parameter and buffer.
func (m *Model) Params() nn.Params { return m.net.Params() }

// Forward returns the logits of grouped clouds.
func (m *Model) Forward(tp *nn.Tape, g *backbone.Groups, r *rand.Rand) *nn.Tensor {
	return m.net.Forward(tp, g, r)
}

// ForwardAux returns the logits of grouped clouds and the method's
// auxiliary loss (nil but for dapt-x: its balance loss, which training
// weighs by Cfg.Alpha).
func (m *Model) ForwardAux(tp *nn.Tape, g *backbone.Groups, r *rand.Rand) (logits, aux *nn.Tensor) {
	return m.net.ForwardAux(tp, g, r)
}

// Group runs the backbone's grouping (FPS centres, kNN neighbourhoods) on b
// clouds of n points.
func (m *Model) Group(xyz []float32, b, n int) (*backbone.Groups, error) {
	return m.MAE.Group(xyz, b, n)
}

// WithMethod returns m switched to another method: the method's settings
// (rank, dropout, head, SMoA) as ResolveModel gives them for m's preset,
// with m's backbone sizes and drop-path rate kept.
func (m ModelConfig) WithMethod(method string) (ModelConfig, error) {
	r, err := ResolveModel(m.Preset, method, m.Classes)
	if err != nil {
		return m, err
	}
	r.TransDim, r.Depth, r.Heads, r.Groups, r.GroupSize, r.Points = m.TransDim, m.Depth, m.Heads, m.Groups, m.GroupSize, m.Points
	r.DropPath, r.HeadDropout = m.DropPath, m.HeadDropout
	return r, nil
}

// staleFactor is how many times its data's variance a BatchNorm layer's
// running variance (geometric mean over its channels) may be before
// staleStatsNote speaks up: at 2, evaluation shrinks the features by √2.
const staleFactor = 2

// statsStart is where a BatchNorm layer's running statistics started: its
// running variance and batch count.
type statsStart struct {
	runVar []float32
	count  float32
}

// batchNorms lists the model's BatchNorm layers by name: the patch
// encoder's two and the head's two.
func (m *Model) batchNorms() map[string]*nn.BatchNorm {
	e, h := m.MAE.Encoder, m.MAE.Head
	return map[string]*nn.BatchNorm{"encoder.first_conv.1": e.BN1, "encoder.second_conv.1": e.BN2,
		"cls_head_finetune.1": h.BN1, "cls_head_finetune.5": h.BN5}
}

// snapshotStats records every BatchNorm layer's starting statistics.
func (m *Model) snapshotStats() map[string]statsStart {
	out := map[string]statsStart{}
	for name, bn := range m.batchNorms() {
		out[name] = statsStart{runVar: append([]float32(nil), bn.RunningVar.Data...), count: bn.NumBatchesTracked.Data[0]}
	}
	return out
}

// staleStatsNote explains, when it applies, why the test accuracy can sit
// at chance while the training accuracy rises. Evaluation normalises with
// BatchNorm's running statistics, which move by the momentum (0.1) towards
// each training batch's, so after n steps a share 0.9^n of the starting
// variance v0 remains: the running variance is v = 0.9^n·v0 + (1−0.9^n)·d
// for data variance d. A randomly initialised backbone starts at PyTorch's
// default v0 = 1 while its patch encoder's features vary by about 1e-3, so
// for the first few dozen steps evaluation shrinks the encoder's features,
// as it does in PyTorch, Point-MAE and DAPT. It returns "" while every
// layer's running variance is within staleFactor of its data's.
func (m *Model) staleStatsNote(start map[string]statsStart) string {
	worst, worstName, steps := 0.0, "", 0
	for name, bn := range m.batchNorms() {
		st, ok := start[name]
		if !ok || len(st.runVar) != len(bn.RunningVar.Data) {
			continue
		}
		n := int(bn.NumBatchesTracked.Data[0] - st.count)
		left := math.Pow(1-float64(bn.Momentum), float64(n))
		if n <= 0 || left >= 1 {
			continue
		}
		var logSum float64
		for k, v := range bn.RunningVar.Data {
			d := (float64(v) - left*float64(st.runVar[k])) / (1 - left)
			logSum += math.Log(math.Min(float64(v)/math.Max(d, 1e-12*float64(v)+1e-30), 1e12))
		}
		f := math.Exp(logSum / float64(len(bn.RunningVar.Data)))
		if f > worst || (f == worst && name < worstName) {
			worst, worstName, steps = f, name, n
		}
	}
	if worst <= staleFactor {
		return ""
	}
	return fmt.Sprintf("  note: BatchNorm %s's running variance is still %.3g× its features' after %d training steps "+
		"(it moves 10%% of the way from its starting value to each batch's); evaluation normalises with it, so early test accuracy "+
		"can sit at chance, one class predicted, while training accuracy rises. Point-MAE and DAPT do the same; "+
		"it fades within a few epochs (a pretrained --ckpt brings its own statistics)", worstName, worst, steps)
}
