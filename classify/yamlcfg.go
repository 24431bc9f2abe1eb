package classify

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ReadConfigFile applies a configuration file to cfg. Two kinds are read:
// pcx's own config.yaml (top-level "pcx: 1"; it replaces cfg whole, and
// unknown keys are errors) and Point-MAE / DAPT fine-tuning YAML files
// (cfgs/finetune_*.yaml), whose keys map as follows:
//
//	optimizer.kwargs.lr, .weight_decay  → train.lr, train.weight_decay
//	optimizer.part: dapt                → method dapt (DAPT's tunable set)
//	scheduler.kwargs.epochs             → train.epochs (max_epoch wins)
//	scheduler.kwargs.initial_epochs     → train.warmup_epochs
//	model.NAME                          → method (PointTransformer: full; *_DAPT: dapt)
//	model.trans_dim, depth, num_heads, cls_dim, num_group, group_size,
//	drop_path_rate                      → the model's sizes
//	npoints, total_bs, max_epoch, grad_norm_clip
//	dataset.train._base_                → the ScanObjectNN variant or ModelNet40
//
// Keys pcx does not use are returned as notes, never silently dropped.
func ReadConfigFile(path string, cfg *Config) (notes []string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var top map[string]any
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if top == nil {
		return nil, fmt.Errorf("%s: empty configuration", path)
	}
	if _, ok := top["pcx"]; ok {
		// pcx's own file is complete: it replaces cfg, and unknown keys
		// (a misspelling) are errors.
		var own Config
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&own); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		if err := wholeNumbers(top, reflect.TypeOf(own), ""); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if own.Version != 1 {
			return nil, fmt.Errorf("%s: unknown pcx configuration version %d (want pcx: 1)", path, own.Version)
		}
		if err := own.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		*cfg = own
		return nil, nil
	}
	return applyPointMAE(path, top, cfg)
}

// wholeNumbers refuses a fraction, NaN or infinity given for an integer
// field of the struct type t (which the YAML decoder would truncate): v is
// the decoded YAML, matched to t's fields by their yaml names.
func wholeNumbers(v any, t reflect.Type, prefix string) error {
	m, ok := v.(map[string]any)
	if !ok || t.Kind() != reflect.Struct {
		return nil
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		x, ok := m[name]
		if name == "" || name == "-" || !ok {
			continue
		}
		switch f.Type.Kind() {
		case reflect.Struct:
			if err := wholeNumbers(x, f.Type, prefix+name+"."); err != nil {
				return err
			}
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if fl, isFloat := x.(float64); isFloat && fl != math.Trunc(fl) {
				return fmt.Errorf("%s%s must be a whole number (got %v)", prefix, name, fl)
			}
		}
	}
	return nil
}

// numRange is the values a configuration number may take: whole numbers
// only when integer, from lo to hi, each bound excluded when open.
type numRange struct {
	integer        bool
	lo, hi         float64
	loOpen, hiOpen bool
}

// check says what is wrong with f ("must be ... (got ...)"), or nil.
func (r numRange) check(f float64) error {
	if r.integer {
		if f != math.Trunc(f) || f < r.lo || f > r.hi {
			return fmt.Errorf("must be a whole number from %.0f to %.0f (got %v)", r.lo, r.hi, f)
		}
		return nil
	}
	inLo := f > r.lo || (!r.loOpen && f == r.lo)
	inHi := f < r.hi || (!r.hiOpen && f == r.hi)
	if !inLo || !inHi || math.IsNaN(f) {
		lb, rb := "[", "]"
		if r.loOpen {
			lb = "("
		}
		if r.hiOpen {
			rb = ")"
		}
		return fmt.Errorf("must be in %s%v, %v%s (got %v)", lb, r.lo, r.hi, rb, f)
	}
	return nil
}

// yamlNum reads a YAML number (int or float) as float64.
func yamlNum(path, key string, v any) (float64, error) {
	switch x := v.(type) {
	case int:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return 0, fmt.Errorf("%s: %s is %v, not a number", path, key, v)
}

func applyPointMAE(path string, top map[string]any, cfg *Config) ([]string, error) {
	var notes []string
	used := map[string]bool{}
	get := func(keys ...string) (any, bool) {
		var cur any = top
		for _, k := range keys {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[k]; !ok {
				return nil, false
			}
		}
		used[strings.Join(keys, ".")] = true
		return cur, true
	}
	m, t := &cfg.Model, &cfg.Train
	method := m.Method
	count := func(lo float64) numRange { return numRange{integer: true, lo: lo, hi: math.MaxInt32} }
	positive := numRange{lo: 0, loOpen: true, hi: math.Inf(1), hiOpen: true}
	nonNegative := numRange{lo: 0, hi: math.Inf(1), hiOpen: true}
	for _, s := range []struct {
		keys []string
		r    numRange
		set  func(float64)
	}{
		{[]string{"optimizer", "kwargs", "lr"}, positive, func(f float64) { t.LR = f }},
		{[]string{"optimizer", "kwargs", "weight_decay"}, nonNegative, func(f float64) { t.WeightDecay = f }},
		{[]string{"scheduler", "kwargs", "epochs"}, count(1), func(f float64) { t.Epochs = int(f) }},
		{[]string{"scheduler", "kwargs", "initial_epochs"}, count(0), func(f float64) { t.WarmupEpochs = int(f) }},
		{[]string{"max_epoch"}, count(1), func(f float64) { t.Epochs = int(f) }},
		{[]string{"total_bs"}, count(1), func(f float64) { t.BatchSize = int(f) }},
		{[]string{"grad_norm_clip"}, nonNegative, func(f float64) { t.ClipGrad = f }},
		{[]string{"npoints"}, count(1), func(f float64) { m.Points = int(f) }},
		{[]string{"model", "trans_dim"}, count(1), func(f float64) { m.TransDim = int(f) }},
		{[]string{"model", "encoder_dims"}, count(1), func(f float64) {}},
		{[]string{"model", "depth"}, count(1), func(f float64) { m.Depth = int(f) }},
		{[]string{"model", "num_heads"}, count(1), func(f float64) { m.Heads = int(f) }},
		{[]string{"model", "cls_dim"}, count(1), func(f float64) { m.Classes = int(f) }},
		{[]string{"model", "num_group"}, count(1), func(f float64) { m.Groups = int(f) }},
		{[]string{"model", "group_size"}, count(1), func(f float64) { m.GroupSize = int(f) }},
		{[]string{"model", "drop_path_rate"}, numRange{lo: 0, hi: 1, hiOpen: true}, func(f float64) { m.DropPath = float32(f) }},
	} {
		v, ok := get(s.keys...)
		if !ok {
			continue
		}
		key := strings.Join(s.keys, ".")
		f, err := yamlNum(path, key, v)
		if err != nil {
			return nil, err
		}
		if err := s.r.check(f); err != nil {
			return nil, fmt.Errorf("%s: %s %w", path, key, err)
		}
		s.set(f)
	}
	if v, ok := get("model", "encoder_dims"); ok && fmt.Sprint(v) != fmt.Sprint(m.TransDim) {
		return nil, fmt.Errorf("%s: encoder_dims %v differs from trans_dim %d; Point-MAE needs them equal", path, v, m.TransDim)
	}
	if v, ok := get("optimizer", "type"); ok && v != "AdamW" {
		notes = append(notes, fmt.Sprintf("optimizer %v: pcx trains with AdamW", v))
	}
	if v, ok := get("scheduler", "type"); ok && v != "CosLR" {
		notes = append(notes, fmt.Sprintf("scheduler %v: pcx uses the cosine schedule (CosLR)", v))
	}
	if v, ok := get("model", "NAME"); ok {
		name := fmt.Sprint(v)
		switch {
		case strings.HasSuffix(name, "_DAPT"):
			m.Method = "dapt"
		case name == "PointTransformer":
			if m.Method != "linear" {
				m.Method = "full"
			}
		default:
			return nil, fmt.Errorf("%s: model %s is not one pcx builds (PointTransformer, PointTransformer_DAPT)", path, name)
		}
	}
	if v, ok := get("optimizer", "part"); ok && fmt.Sprint(v) == "dapt" {
		m.Method = "dapt"
	}
	if v, ok := get("dataset", "train", "_base_"); ok {
		base := strings.ToLower(fmt.Sprint(v))
		switch {
		case strings.Contains(base, "hardest"):
			cfg.Variant = "hardest"
		case strings.Contains(base, "objectonly"):
			cfg.Variant = "objonly"
		case strings.Contains(base, "objectbg"):
			cfg.Variant = "objbg"
		case strings.Contains(base, "modelnet"):
			cfg.Variant = ""
		}
	}
	if m.Method != method {
		nm, err := m.WithMethod(m.Method)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		*m = nm
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if t.BatchSize > 0 {
		if err := m.CheckBatch("training", t.BatchSize, int64(t.Workers)); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	// Report what was not used.
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if mm, ok := v.(map[string]any); ok && !used[prefix] {
			keys := make([]string, 0, len(mm))
			for k := range mm {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, mm[k])
			}
			return
		}
		if !used[prefix] && !strings.HasPrefix(prefix, "dataset.") {
			notes = append(notes, fmt.Sprintf("%s: not used by pcx", prefix))
		}
	}
	walk("", top)
	return notes, nil
}
