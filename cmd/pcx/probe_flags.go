package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pcx-dev/pcx/train"
	"github.com/urfave/cli/v2"
)

// probeFlags are the pretraining commands' --probe and --no-probe, --probe
// described by usage (what its value is and the kind's default).
func probeFlags(usage string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "probe", Usage: "labelled data set whose frozen encoder features a linear SVM is fitted on and scored on every epoch (probe_svm_acc): " + usage},
		&cli.BoolFlag{Name: "no-probe", Usage: "no feature probe"},
	}
}

// probeSettings are the names of probeFlags (settings --resume refuses).
var probeSettings = []string{"probe", "no-probe"}

// applyProbeFlags calls set with --probe's value when it is given and off
// when --no-probe is; both at once are refused.
func applyProbeFlags(c *cli.Context, set func(spec string), off func()) error {
	if c.Bool("no-probe") {
		if c.IsSet("probe") {
			return fmt.Errorf("--probe and --no-probe contradict each other: give one of them")
		}
		off()
		return nil
	}
	if c.IsSet("probe") {
		set(c.String("probe"))
	}
	return nil
}

// probeResult is the last probe of a run, for --json: the probe metrics
// (svm_acc: ...) of the last epoch that was probed, and that epoch (none
// when no epoch was).
type probeResult struct {
	Values map[string]float64
	Epoch  int
}

// lastProbe finds the last epoch of res with probe columns.
func lastProbe(res *train.Result) probeResult {
	if res == nil {
		return probeResult{}
	}
	for i := len(res.Epochs) - 1; i >= 0; i-- {
		m := res.Epochs[i]
		vals := map[string]float64{}
		for _, v := range m.Values {
			if name, ok := strings.CutPrefix(v.Name, train.ProbePrefix); ok {
				vals[name] = v.Value
			}
		}
		if len(vals) > 0 {
			return probeResult{vals, m.Epoch}
		}
	}
	return probeResult{}
}

// line is the result's line for people ("" without a probe).
func (p probeResult) line() string {
	if p.Epoch == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("last probe")
	keys := make([]string, 0, len(p.Values))
	for k := range p.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s %.4f", k, p.Values[k])
	}
	fmt.Fprintf(&b, " (epoch %d)", p.Epoch)
	return b.String()
}

// pretrainJSON is pcx pretrain's --json result.
type pretrainJSON struct {
	Dir        string             `json:"dir"`
	Metric     string             `json:"metric"`
	Best       float64            `json:"best"`
	BestEpoch  int                `json:"best_epoch"`
	Last       float64            `json:"last"`
	Probe      map[string]float64 `json:"probe,omitempty"`
	ProbeEpoch int                `json:"probe_epoch,omitempty"`
	Backbone   string             `json:"backbone"`
	Figures    []string           `json:"figures"`
}

// newPretrainJSON is the --json result of a run in dir.
func newPretrainJSON(dir string, res *train.Result, bb string, figs []string) pretrainJSON {
	p := lastProbe(res)
	return pretrainJSON{Dir: dir, Metric: res.Metric, Best: res.Best, BestEpoch: res.BestEpoch, Last: res.Last,
		Probe: p.Values, ProbeEpoch: p.Epoch, Backbone: bb, Figures: figs}
}
