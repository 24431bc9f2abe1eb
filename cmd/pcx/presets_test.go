package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/train"
)

func TestPresetsCommand(t *testing.T) {
	out, err := run(t, "presets")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range append(presets.ModelNames(), presets.MethodNames()...) {
		if !strings.Contains(out, "  "+n+" ") {
			t.Errorf("pcx presets lacks %s:\n%s", n, out)
		}
	}
	js, err := run(t, "presets", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r presets.Registry
	if err := json.Unmarshal([]byte(js), &r); err != nil || len(r.Models) != len(presets.ModelNames()) || len(r.Methods) != 4 {
		t.Errorf("pcx presets --json: %v, %d models, %d methods", err, len(r.Models), len(r.Methods))
	}
	if _, err := run(t, "presets", "synth"); err == nil {
		t.Error("pcx presets took an argument")
	}
}

// oldTrainDefaults is what pcx train chose before the registry, per data set
// kind: the preset of a variant, the points read, and the schedule of a
// preset (synth's own, whatever the data; else the kind's).
func oldTrainDefaults(kind, variant, preset string) (string, int, train.Config) {
	synth := train.PointMAEFineTune()
	synth.Epochs, synth.LR, synth.WarmupEpochs = 12, 1e-3, 0
	p, pts, tc := "modelnet", 8192, train.PointMAEFineTune()
	switch kind {
	case "synth":
		p, pts, tc = "synth", 0, synth
	case "scanobjectnn":
		pts = 0
		switch variant {
		case "objonly":
			p = "scan_objonly"
		case "hardest", "pb_t50_rs":
			p = "scan_hardest"
		default:
			p = "scan_objbg"
		}
	}
	if preset == "" {
		preset = p
	}
	if preset == "synth" {
		tc = synth
	}
	return preset, pts, tc
}

func TestTrainDefaultsMatchOldTable(t *testing.T) {
	for _, k := range trainKinds {
		variants := []string{""}
		if k.name == "scanobjectnn" {
			variants = []string{"", "objbg", "objonly", "hardest", "pb_t50_rs"}
		}
		for _, v := range variants {
			for _, preset := range append([]string{""}, presets.ModelNames()...) {
				var args []string
				if k.name != "synth" {
					args = append(args, "--data", "d")
				}
				if v != "" {
					args = append(args, "--variant", v)
				}
				if preset != "" {
					args = append(args, "--preset", preset)
				}
				cfg, err := configFor(t, k.name, args...)
				if err != nil {
					t.Fatalf("%s %v: %v", k.name, args, err)
				}
				wp, wpts, wtc := oldTrainDefaults(k.name, v, preset)
				wtc.Workers = cfg.Train.Workers // the run's, not the schedule's
				if cfg.Model.Preset != wp || cfg.DataPoints != wpts || cfg.Train != wtc {
					t.Errorf("%s %v: preset %s, %d points, %+v; want %s, %d, %+v", k.name, args, cfg.Model.Preset, cfg.DataPoints, cfg.Train, wp, wpts, wtc)
				}
			}
		}
	}
}

// --model is the same flag as --preset: a model preset of the registry.
func TestModelFlagNamesAPreset(t *testing.T) {
	byPreset, err := run(t, "params", "--preset", "modelnet", "--method", "dapt-x", "--json")
	if err != nil {
		t.Fatal(err)
	}
	byModel, err := run(t, "params", "--model", "modelnet", "--method", "dapt-x", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if byModel != byPreset {
		t.Errorf("--model modelnet printed\n%s\n--preset modelnet\n%s", byModel, byPreset)
	}
	if _, err := run(t, "params", "--model", "vit_huge", "--method", "full"); err == nil || !strings.Contains(err.Error(), "vit_huge") {
		t.Errorf("unknown --model: %v, want an error naming it", err)
	}
}
