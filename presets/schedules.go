package presets

import (
	"fmt"

	"github.com/pcx-dev/pcx/train"
)

// Schedule is a named training schedule: epochs, batch, learning rates,
// warm-up, weight decay and clipping.
type Schedule struct {
	Name    string       `json:"name"`
	Summary string       `json:"summary"`
	Train   train.Config `json:"train"`
}

// synthSchedule is pcx train synth's: 12 epochs of batch 32, AdamW at 1e-3
// without warm-up, Point-MAE's weight decay and clipping.
func synthSchedule() train.Config {
	c := train.PointMAEFineTune()
	c.Epochs, c.LR, c.WarmupEpochs = 12, 1e-3, 0
	return c
}

var schedules = newTable("schedule", func(s Schedule) string { return s.Name },
	Schedule{Name: "pointmae", Summary: "Point-MAE's fine-tuning (cfgs/finetune_*.yaml)", Train: train.PointMAEFineTune()},
	Schedule{Name: "synth", Summary: "pcx train synth's: minutes on a CPU", Train: synthSchedule()},
	Schedule{Name: "vtab", Summary: "NOAH's VTAB-1K fine-tuning (configs/*/VTAB)", Train: vtabSchedule()},
	Schedule{Name: "mini", Summary: "vit-mini's: minutes on a CPU", Train: miniSchedule()},
)

// LookupSchedule returns a schedule by name.
func LookupSchedule(name string) (Schedule, error) {
	s, ok := schedules.lookup(name)
	if !ok {
		return Schedule{}, fmt.Errorf("unknown schedule %q (have %v)", name, schedules.sorted())
	}
	return s, nil
}

// Schedules lists the schedules in registration order.
func Schedules() []Schedule { return schedules.all() }

// RegisterSchedule adds a schedule; its name must be new.
func RegisterSchedule(s Schedule) error { return schedules.register(s) }
