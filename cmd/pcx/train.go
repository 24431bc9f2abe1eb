package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/pcx-dev/pcx/classify"
	"github.com/pcx-dev/pcx/datasets"
	"github.com/pcx-dev/pcx/datasets/synth"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/presets"
	"github.com/pcx-dev/pcx/train"
	"github.com/urfave/cli/v2"
)

// trainKind is one `pcx train` subcommand: its data set kind in the
// registry (the presets its variants pick, the points read, the schedule)
// and its command-line text.
type trainKind struct {
	name, usage, example string
	spec                 func(data string) (string, error)
	data                 presets.DataKind
	train                train.Config // the kind's schedule
}

func needData(kind string) func(string) (string, error) {
	return func(data string) (string, error) {
		if data == "" {
			return "", fmt.Errorf("pcx train %s needs --data DIR", kind)
		}
		return kind + ":" + data, nil
	}
}

// kind returns the trainKind of a registered data set kind.
func kind(name, usage, example string, spec func(string) (string, error)) trainKind {
	d, err := presets.LookupDataKind(name)
	if err != nil {
		panic(err) // the registry lacks one of pcx train's kinds
	}
	s, err := presets.LookupSchedule(d.Schedule)
	if err != nil {
		panic(err)
	}
	return trainKind{name: name, usage: usage, example: example, spec: spec, data: d, train: s.Train}
}

var trainKinds = []trainKind{
	kind("synth", "the built-in procedural data set (no download): DAPT-X on a small backbone in minutes",
		"pcx train synth\n   pcx train synth --method full --epochs 5 --out runs/synth-full",
		func(data string) (string, error) {
			if data != "" {
				return "", fmt.Errorf("pcx train synth generates its own data and takes no --data; for a data set on disk use pcx train folder --data %s (or scanobjectnn, modelnet40)", shellQuote(data))
			}
			return "synth", nil
		}),
	kind("scanobjectnn", "ScanObjectNN (objbg, objonly or hardest = PB_T50_RS)",
		"pcx train scanobjectnn --variant hardest --data h5_files --ckpt pretrain.pth --method dapt-x",
		needData("scanobjectnn")),
	kind("modelnet40", "ModelNet40 (Point-MAE's .dat pickles, normal_resampled text or .off meshes)",
		"pcx train modelnet40 --data modelnet40_normal_resampled --ckpt pretrain.pth --method dapt-x",
		needData("modelnet40")),
	kind("folder", "any <root>/<class>/{train,test}/ tree of meshes or clouds",
		"pcx train folder --data my_objects --ckpt pretrain.pth --method dapt-x --epochs 100",
		needData("folder")),
}

// presetSchedule is the schedule a run of model preset name trains with:
// the preset's own when it has one (synth's, whatever the data), else the
// data set kind's.
func presetSchedule(name string, kindSchedule train.Config) (train.Config, error) {
	p, err := presets.LookupModel(name)
	if err != nil || p.Schedule == "" {
		return kindSchedule, err
	}
	s, err := presets.LookupSchedule(p.Schedule)
	return s.Train, err
}

func trainCommand() *cli.Command {
	var subs []*cli.Command
	for _, k := range trainKinds {
		subs = append(subs, trainSubcommand(k))
	}
	for _, k := range presets.ImageDataKinds() {
		subs = append(subs, imageTrainSubcommand(k))
	}
	var opts strings.Builder
	for _, f := range trainFlags(trainKinds[0]) {
		if s, ok := f.(fmt.Stringer); ok {
			fmt.Fprintf(&opts, "   %s\n", s)
		}
	}
	return &cli.Command{
		Name:  "train",
		Usage: "fine-tune a Point-MAE model (" + methodList() + ") on point clouds, or a ViT (" + imageMethodList() + ") on images",
		Description: `Every point-cloud data set kind takes these options (defaults shown are synth's; pcx train
KIND --help shows the kind's own, and the image kinds' options):

` + opts.String() + `
Examples:
   pcx train synth
   pcx train scanobjectnn --variant hardest --data h5_files --ckpt pretrain.pth
   pcx train fashion-mnist --train-subset 1000 --method adapter-x
   pcx train vtab --data vtab-1k --task cifar --ckpt ViT-B_16.npz --method adaptformer-x`,
		Subcommands: subs,
	}
}

func trainFlags(k trainKind) []cli.Flag {
	t := k.train
	return []cli.Flag{
		&cli.StringFlag{Name: "data", Usage: "data set folder (not for synth, which is generated)"},
		&cli.StringFlag{Name: "variant", Value: k.data.Variant, Usage: "data set variant (synth: clean, bg or hardest; scanobjectnn: objbg, objonly or hardest)"},
		&cli.StringFlag{Name: "method", Value: "dapt-x", Usage: methodList()},
		&cli.StringFlag{Name: "preset", Aliases: []string{"model"}, Usage: "model preset (default: the data set's; see pcx presets)"},
		&cli.StringFlag{Name: "ckpt", Usage: "pretrained weights: Point-MAE or DAPT .pth, a pcx .safetensors, builtin:NAME (a backbone shipped in pcx; the synth preset's default is builtin:synth), or none (random)"},
		&cli.BoolFlag{Name: "partial-load", Usage: "train from a --ckpt that lacks some of the backbone's pretrained weights (they start random)"},
		&cli.StringFlag{Name: "reinit", Usage: "parameters that start random although --ckpt has them: comma-separated names or shell patterns (pos_embed.*)"},
		&cli.StringFlag{Name: "config", Usage: "a Point-MAE/DAPT fine-tuning YAML or a pcx config.yaml; flags override it"},
		&cli.IntFlag{Name: "epochs", Value: t.Epochs, Usage: "training epochs (passes over the training split)"},
		&cli.IntFlag{Name: "batch", Value: t.BatchSize, Usage: "training batch size (clouds per optimiser step)"},
		&cli.Float64Flag{Name: "lr", Value: t.LR, Usage: "peak learning rate of AdamW (cosine schedule after the warm-up)"},
		&cli.Float64Flag{Name: "weight-decay", Value: t.WeightDecay, Usage: "AdamW weight decay"},
		&cli.IntFlag{Name: "warmup", Value: t.WarmupEpochs, Usage: "warm-up epochs"},
		&cli.Uint64Flag{Name: "seed", Value: 0, Usage: "seed of initialisation, data order, augmentation and dropout (a run repeats exactly)"},
		&cli.IntFlag{Name: "workers", Value: 2, Usage: "data loader goroutines"},
		&cli.StringFlag{Name: "rotate", Usage: "random rotation of training clouds about x, y or z"},
		&cli.IntFlag{Name: "train-subset", Usage: "train on this many training clouds picked by the seed (few labels, as VTAB-1K's 1000 images)"},
		&cli.StringFlag{Name: "out", Usage: "run directory (default runs/DATASET-METHOD)"},
		&cli.BoolFlag{Name: "resume", Usage: "continue the run in --out (default runs/DATASET-METHOD) from its last checkpoint, with its own config.yaml"},
		&cli.BoolFlag{Name: "overwrite", Usage: "start a new run in --out even if it holds one, removing that run's files"},
		&cli.BoolFlag{Name: "plots", Value: true, Usage: "draw the run's figures at the end (curves, DAPT-X routing, t-SNE)"},
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON at the end"},
		deviceFlag,
		distFlag, shardsFlag, deterministicFlag,
		&cli.BoolFlag{Name: "group-on-host", Usage: "with --device cuda, keep FPS and kNN grouping on the CPU loader instead of the GPU (the same groups)"},
	}
}

// trainConfig resolves a run's configuration: the data set's (or the synth
// preset's) defaults, then --config, then the flags given.
func trainConfig(c *cli.Context, k trainKind) (classify.Config, error) {
	var spec string
	if c.String("data") != "" || c.String("config") == "" {
		var err error
		if spec, err = k.spec(c.String("data")); err != nil {
			return classify.Config{}, err
		}
	}
	variant := c.String("variant")
	if p := c.String("config"); p != "" && !c.IsSet("variant") {
		// A Point-MAE/DAPT file names its variant, which picks the preset.
		pm, err := classify.ResolveModel(k.data.PresetFor(variant), c.String("method"), 0)
		if err != nil {
			return classify.Config{}, err
		}
		probe := classify.Config{Variant: variant, Model: pm}
		if _, err := classify.ReadConfigFile(p, &probe); err != nil {
			return classify.Config{}, err
		}
		if probe.Version == 1 && c.IsSet("preset") {
			return classify.Config{}, fmt.Errorf("%s is a pcx configuration, which fixes the model: edit its model section instead of giving --preset", p)
		}
		variant = probe.Variant
	}
	preset := k.data.PresetFor(variant)
	if c.IsSet("preset") {
		preset = c.String("preset")
	}
	m, err := classify.ResolveModel(preset, c.String("method"), 0)
	if err != nil {
		return classify.Config{}, err
	}
	tc, err := presetSchedule(preset, k.train)
	if err != nil {
		return classify.Config{}, err
	}
	cfg := classify.Config{Version: 1, Data: spec, Variant: variant, DataPoints: k.data.DataPoints, Model: m, Train: tc}
	if pm, err := presets.LookupModel(preset); err == nil && pm.Pretrained != "" {
		cfg.Ckpt = presets.BuiltinPrefix + pm.Pretrained // the preset's built-in backbone
	}
	if p := c.String("config"); p != "" {
		cfg.Ckpt = "" // a configuration file names its own checkpoint, or none
		notes, err := classify.ReadConfigFile(p, &cfg)
		if err != nil {
			return cfg, err
		}
		for _, n := range notes {
			fmt.Fprintf(os.Stderr, "%s: %s\n", p, n)
		}
	}
	if spec != "" {
		cfg.Data = spec
	}
	if cfg.Data == "" {
		return cfg, fmt.Errorf("no data set: give --data DIR or a configuration with data:")
	}
	method := cfg.Model.Method
	// A flag given wins over the file and the preset's defaults.
	applyScheduleFlags(c, &cfg.Train)
	applySetters(c, []flagSetter{
		{"ckpt", func() { cfg.Ckpt = c.String("ckpt") }},
		{"partial-load", func() { cfg.PartialLoad = c.Bool("partial-load") }},
		{"reinit", func() { cfg.Reinit = splitList(c.String("reinit")) }},
		{"rotate", func() { cfg.Rotate = c.String("rotate") }},
		{"train-subset", func() { cfg.TrainSubset = c.Int("train-subset") }},
	})
	if cfg.Ckpt == "none" {
		cfg.Ckpt = "" // random initialisation
	}
	if c.IsSet("method") {
		cfg.Model.Method = c.String("method")
	}
	if c.IsSet("variant") {
		cfg.Variant = c.String("variant")
	}
	if cfg.Model.Method != method {
		if cfg.Model, err = cfg.Model.WithMethod(cfg.Model.Method); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// flagSetter applies a flag to a configuration when the flag is given.
type flagSetter struct {
	name string
	set  func()
}

// applySetters applies the given flags of fs.
func applySetters(c *cli.Context, fs []flagSetter) {
	for _, f := range fs {
		if c.IsSet(f.name) {
			f.set()
		}
	}
}

// applyScheduleFlags applies the schedule flags given (epochs, batch, lr,
// weight-decay, warmup, seed, workers) to t, and records the loader's
// workers when the configuration left them at 0.
func applyScheduleFlags(c *cli.Context, t *train.Config) {
	applySetters(c, []flagSetter{
		{"epochs", func() { t.Epochs = c.Int("epochs") }},
		{"batch", func() { t.BatchSize = c.Int("batch") }},
		{"lr", func() { t.LR = c.Float64("lr") }},
		{"weight-decay", func() { t.WeightDecay = c.Float64("weight-decay") }},
		{"warmup", func() { t.WarmupEpochs = c.Int("warmup") }},
		{"seed", func() { t.Seed = c.Uint64("seed") }},
		{"workers", func() { t.Workers = c.Int("workers") }},
		{"shards", func() { t.Shards = c.Int("shards") }},
	})
	if t.Workers == 0 { // record the number the run uses
		t.Workers = c.Int("workers")
	}
}

func trainSubcommand(k trainKind) *cli.Command {
	return &cli.Command{
		Name:  k.name,
		Usage: k.usage,
		Description: `Trains, evaluates on the test split after every epoch, and writes the run directory:
config.yaml (the resolved configuration), metrics.jsonl and metrics.csv, last.safetensors and
best.safetensors (written atomically). Ctrl-C saves the state; --resume continues exactly.
A run owns its directory while it runs; a new run does not replace a finished one unless
given --overwrite.
Both the best and the last test accuracy are printed: papers report the best, which selects
the epoch on the test set.

Example:
   ` + k.example,
		Flags: trainFlags(k),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("pcx train %s takes no arguments (got %s); the data set is --data DIR", k.name, state.Quote(c.Args().First()))
			}
			out := c.String("out")
			var cfg classify.Config
			var err error
			if c.Bool("resume") && c.Bool("overwrite") {
				return fmt.Errorf("--resume continues the run in --out and --overwrite replaces it: give one of them")
			}
			if err := checkDeviceName(c.String("device")); err != nil {
				return err
			}
			if c.Bool("resume") {
				given := settingFlagsSet(c)
				if out == "" {
					// The run directory a new run with this --method makes.
					out = defaultRunDir(k, c.String("method"))
					given = slices.DeleteFunc(given, func(f string) bool { return f == "method" })
				}
				if err := checkResume(out, classify.ConfigFile, given); err != nil {
					return err
				}
				if cfg, err = classify.ReadRunConfig(out); err != nil {
					return err
				}
				resumeShards(c, &cfg.Train)
				if runComplete(out) {
					return nil
				}
			} else if cfg, err = trainConfig(c, k); err != nil {
				return err
			}
			if out == "" {
				out = defaultRunDir(k, cfg.Model.Method)
			}
			// Everything is checked before the run directory is made.
			if err := checkVariant(k, cfg.Variant); err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			var data *datasets.Dataset
			return executeRun(c, runSpec{out: out, config: classify.ConfigFile, resumeCmd: func() string { return resumeCommand(c, k, out) },
				evalHint: "[--vote]",
				load: func() (int, error) {
					var err error
					if data, err = classify.LoadData(cfg); err != nil {
						return 0, err
					}
					return len(data.Classes), nil
				},
				run: func(ctx context.Context, classes int, log io.Writer, eng nn.Device, par train.Parallel) (*train.Result, error) {
					cfg.Model.Classes = classes
					return classify.Train(ctx, cfg, data, out, classify.RunOptions{Resume: c.Bool("resume"), Log: log, Progress: os.Stderr, Device: eng, HostGrouping: c.Bool("group-on-host"), Parallel: par})
				},
				plots: func() ([]string, error) { return plotRun(out, data) },
			})
		},
	}
}

// runSpec is what executeRun needs of a training run: its directory and
// configuration file, how to load its data (returning its class count),
// run it and draw its figures, and the command that resumes it.
type runSpec struct {
	out, config string
	resumeCmd   func() string
	// evalHint follows "pcx eval --ckpt BEST" in the closing hint.
	evalHint string
	load     func() (classes int, err error)
	run      func(ctx context.Context, classes int, log io.Writer, eng nn.Device, par train.Parallel) (*train.Result, error)
	plots    func() ([]string, error)
	// files are other files of the run that --overwrite removes.
	files []string
	// result, when set, prints the result (and --json's) instead of
	// classification's lines.
	result func(res *train.Result, figs []string) error
}

// executeRun runs a training run whose configuration is resolved and
// checked: it opens the device, takes the run directory's lock, clears a
// finished run only when --overwrite says so, loads the data, trains with
// Ctrl-C saving the state, draws the figures and prints the result.
func executeRun(c *cli.Context, r runSpec) error {
	out := r.out
	comm, err := openDist(c)
	if err != nil {
		return err
	}
	par := train.Parallel{Comm: comm, Deterministic: c.Bool("deterministic")}
	if comm != nil {
		defer comm.Close()
		if !par.Primary() {
			return runRank(c, r, par)
		}
	}
	dev, eng, closeDev, err := openDevice(c, os.Stdout)
	if err != nil {
		return abortOthers(par, err)
	}
	defer closeDev()
	// This run owns out until it ends; a new run does not start over
	// another one unless asked.
	lock, err := train.Lock(out)
	if err != nil {
		return abortOthers(par, err)
	}
	defer lock.Unlock()
	if !c.Bool("resume") {
		if err := train.StartFresh(out, c.Bool("overwrite"), append(append([]string{r.config}, runFigures...), r.files...)...); err != nil {
			return abortOthers(par, err)
		}
	}
	classes, err := r.load()
	if err != nil {
		return abortOthers(par, err)
	}
	ctx, stop := interruptContext()
	defer stop()
	fmt.Printf("run directory %s\n", out)
	if comm != nil {
		fmt.Printf("data parallel: %s, %d thread(s) a rank\n", comm.Name(), runtime.GOMAXPROCS(0))
	}
	var log io.Writer = os.Stdout
	if trainLogHook != nil {
		log = trainLogHook(log)
	}
	if comm != nil {
		defer watchStop(ctx, par, r.resumeCmd)()
	}
	res, err := r.run(ctx, classes, log, eng, par)
	if dev != nil {
		st := dev.Allocator().Stats()
		fmt.Fprintf(os.Stderr, "peak GPU memory (pcx's caching allocator): %.1f MiB held, %.1f MiB in use\n", mib(st.Peak), mib(st.PeakInUse))
	}
	if errors.Is(err, train.ErrComplete) {
		fmt.Println(err) // completed by another run since the check above
		return nil
	}
	if err != nil {
		if errors.Is(err, train.ErrInterrupted) {
			// after the deferred cleanups
			return exitError{130, fmt.Errorf("%w:\n   %s", err, r.resumeCmd())}
		}
		return abortOthers(par, err)
	}
	var figs []string
	if c.Bool("plots") {
		if figs, err = r.plots(); err != nil {
			return err
		}
	}
	if r.result != nil {
		return r.result(res, figs)
	}
	if c.Bool("json") {
		return writeJSON(os.Stdout, struct {
			Dir       string   `json:"dir"`
			BestAcc   float64  `json:"best_acc"`
			BestEpoch int      `json:"best_epoch"`
			LastAcc   float64  `json:"last_acc"`
			Figures   []string `json:"figures"`
		}{out, res.Best, res.BestEpoch, res.Last, figs})
	}
	if res.Metric == "test_acc" {
		fmt.Printf("best test accuracy %.4f (epoch %d), last epoch %.4f\n", res.Best, res.BestEpoch, res.Last)
		fmt.Println("(papers report the best epoch's test accuracy, which selects the model on the test set; the last epoch's is the unbiased one)")
	} else {
		fmt.Printf("best %s %.4f (epoch %d), last epoch %.4f\n", res.Metric, res.Best, res.BestEpoch, res.Last)
	}
	for _, f := range figs {
		fmt.Println("figure", f)
	}
	fmt.Printf("evaluate: pcx eval --ckpt %s %s\n", filepath.Join(out, train.BestFile), r.evalHint)
	return nil
}

// defaultRunDir is the run directory of a run without --out.
func defaultRunDir(k trainKind, method string) string {
	return filepath.Join("runs", k.name+"-"+method)
}

// resumeCommand is the command line that continues the run in out: the
// flags given that do not change its settings, which --resume refuses.
func resumeCommand(c *cli.Context, k trainKind, out string) string {
	return resumeLine(c, []string{"pcx", "train", k.name}, out, "device", "workers", "group-on-host", "plots", "json")
}

// resumeLine is cmd --resume --out out with those of flags that were given.
func resumeLine(c *cli.Context, cmd []string, out string, flags ...string) string {
	args := append(append([]string(nil), cmd...), "--resume", "--out", shellQuote(out))
	for _, f := range flags {
		if !c.IsSet(f) {
			continue
		}
		switch v := c.Value(f).(type) {
		case bool:
			args = append(args, fmt.Sprintf("--%s=%v", f, v))
		default:
			args = append(args, "--"+f, shellQuote(fmt.Sprint(v)))
		}
	}
	return strings.Join(args, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=+,@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// checkVariant refuses a synth variant that does not exist, naming the
// choices (other data sets check theirs when they are opened).
func checkVariant(k trainKind, variant string) error {
	if k.name != "synth" || variant == "" || slices.Contains(synth.Variants(), variant) {
		return nil
	}
	return fmt.Errorf("unknown variant %s for synth; choose from %s", state.Quote(variant), strings.Join(synth.Variants(), ", "))
}

// runFigures are the figures pcx train draws into a run directory.
var runFigures = []string{"curves.png", "routing.png", "gates.png", "tsne.png"}

// trainLogHook, when set, wraps the writer a run logs its epochs to (tests
// use it to hold a run at a chosen epoch).
var trainLogHook func(io.Writer) io.Writer

// settingFlagsSet lists the flags given that change a run's settings
// (those a resumed run takes from its config.yaml instead).
func settingFlagsSet(c *cli.Context) []string {
	return flagsSet(c, []string{"data", "variant", "method", "preset", "ckpt", "partial-load", "config", "epochs", "batch", "lr",
		"weight-decay", "warmup", "seed", "rotate", "train-subset", "reinit"})
}

// flagsSet lists the flags of names given on the command line.
func flagsSet(c *cli.Context, names []string) []string {
	var out []string
	for _, f := range names {
		if c.IsSet(f) {
			out = append(out, f)
		}
	}
	return out
}

// checkResume refuses to resume the run in out when setting flags were
// given (they would change it: given lists them) or out holds no run
// (no config file).
func checkResume(out, config string, given []string) error {
	if len(given) > 0 {
		return fmt.Errorf("--resume continues %s with its own config.yaml; --%s cannot change it (start a new run instead)", out, strings.Join(given, ", --"))
	}
	if _, err := os.Stat(filepath.Join(out, config)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no run to resume in %s (it has no %s); give the run directory with --out", out, config)
	}
	return nil
}

// runComplete says so when the run in out has trained all its epochs:
// there is nothing to resume.
func runComplete(out string) bool {
	n, done := train.Complete(out)
	if done {
		fmt.Printf("run %s is complete (%d epochs); nothing to do\n", out, n)
	}
	return done
}
