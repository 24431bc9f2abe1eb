// Package synth is pcx's built-in procedural data set: household objects
// (chairs, tables, mugs, lamps, ...) assembled from parametric primitives with
// random proportions and part counts, sampled to point clouds the way
// ScanObjectNN and ModelNet clouds are prepared for Point-MAE.
//
// It lets `pcx train` run, and show learning, without any download. The
// classes are meant to be learnable but not trivial: several families share
// parts and proportions (chair, stool, table and bench; sofa, bed and bench;
// bookshelf and cabinet; mug, bowl, vase and bottle), and the ScanObjectNN-like
// variants add background clutter, partial occlusion, rotation and scaling.
//
// Generation is deterministic: every sample draws from its own seed, derived
// from (Options.Seed, split, class, index), so the result does not depend on
// the number of goroutines or on the order in which samples are made.
package synth

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/pcx-dev/pcx/internal/rng"
	"github.com/pcx-dev/pcx/pointcloud"
)

// Perturb holds the ScanObjectNN-like perturbations applied to each sample.
// The zero value applies none (a clean, upright, object-only cloud).
type Perturb struct {
	// Background is the fraction of the points, in [0, 1), drawn from clutter
	// around the object: a floor patch, wall fragments and a few boxes inside
	// a slightly enlarged bounding box of the object (like OBJ_BG).
	Background float64
	// Occlusion is the largest fraction, in [0, 1), of the object's surface
	// cut away by a random plane, as in a partial scan; each sample removes a
	// uniform fraction in [0, Occlusion]. The object's point count is kept by
	// oversampling the surface before the cut.
	Occlusion float64
	// Rotate turns each sample by a uniform random angle about the up axis (y).
	Rotate bool
	// Tilt is the largest tilt, in radians, about each horizontal axis.
	Tilt float64
	// Scale, in [0, 1), scales each axis of the object by an independent
	// uniform factor in [1-Scale, 1+Scale] before sampling.
	Scale float64
	// Jitter is the standard deviation of Gaussian noise, clipped at three
	// deviations, added to each coordinate of the normalised cloud (which is
	// then normalised again).
	Jitter float64
}

// Options configures Generate.
type Options struct {
	// Train and Test are the numbers of samples per class in each split.
	Train, Test int
	// Points is the number of points per sample.
	Points int
	// Seed selects the data set; the same options give the same bytes.
	Seed uint64
	// Variant names a preset of perturbations, mirroring ScanObjectNN's
	// variants: "clean" (OBJ_ONLY-like), "bg" (OBJ_BG-like) or "hardest"
	// (PB_T50_RS-like: background, occlusion, rotation and scaling). A named
	// variant replaces Perturb; an empty Variant uses Perturb as given.
	Variant string
	// Perturb holds the perturbations used when Variant is empty.
	Perturb Perturb
	// Workers is the number of goroutines; 0 means runtime.GOMAXPROCS(0). It
	// does not change the result.
	Workers int
}

// DefaultOptions returns the data set `pcx train synth` uses: 80 training and
// 20 test samples per class of 2048 points, the clean variant, seed 0.
func DefaultOptions() Options {
	return Options{Train: 80, Test: 20, Points: 2048, Variant: "clean"}
}

var presets = map[string]Perturb{
	"clean":   {},
	"bg":      {Background: 0.25},
	"hardest": {Background: 0.25, Occlusion: 0.4, Rotate: true, Tilt: 0.1, Scale: 0.2, Jitter: 0.005},
}

// Variants returns the names Options.Variant accepts, easiest first.
func Variants() []string { return []string{"clean", "bg", "hardest"} }

// Preset returns the perturbations of a named variant, for callers who want
// to start from a preset and change it (then leave Variant empty).
func Preset(variant string) (Perturb, error) {
	p, ok := presets[variant]
	if !ok {
		return Perturb{}, fmt.Errorf("synth: unknown variant %q (want one of %v)", variant, Variants())
	}
	return p, nil
}

// Classes returns the class names; a label is an index into this list.
func Classes() []string {
	out := make([]string, len(classes))
	for i, c := range classes {
		out[i] = c.name
	}
	return out
}

// Split is one generated split. Samples are interleaved by class: sample j has
// label j % len(Classes()) and is that class's instance j / len(Classes()).
type Split struct {
	// Points holds each sample's cloud, 3*Options.Points floats (x, y, z per
	// point, y up), centred on its mean and scaled to a largest radius of 1.
	Points [][]float32
	// Labels holds each sample's class index.
	Labels []int
}

// Len returns the number of samples.
func (s *Split) Len() int { return len(s.Labels) }

// Shape returns one random instance of a class as a triangle mesh, in metres
// with y up and the object standing on y = 0. The same class and seed give
// the same mesh.
func Shape(class int, seed uint64) (*pointcloud.Cloud, error) {
	if class < 0 || class >= len(classes) {
		return nil, fmt.Errorf("synth: class %d out of range [0, %d)", class, len(classes))
	}
	c := buildShape(class, seed).cloud()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("synth: %s: %w", classes[class].name, err)
	}
	return c, nil
}

// buildShape builds an instance of class and lifts it to stand on y = 0.
func buildShape(class int, seed uint64) *mesh {
	m := classes[class].build(rnd{pointcloud.NewRand(seed)})
	lo, _ := m.bounds()
	return m.move(0, -lo[1], 0)
}

// resolve checks the options and returns the perturbations to apply.
func (opt Options) resolve() (Perturb, error) {
	if opt.Train < 0 || opt.Test < 0 {
		return Perturb{}, fmt.Errorf("synth: negative sample count (train %d, test %d)", opt.Train, opt.Test)
	}
	if opt.Points <= 0 {
		return Perturb{}, fmt.Errorf("synth: %d points per sample", opt.Points)
	}
	p := opt.Perturb
	if opt.Variant != "" {
		var err error
		if p, err = Preset(opt.Variant); err != nil {
			return Perturb{}, err
		}
	}
	frac := func(name string, v float64) error {
		if !(v >= 0 && v < 1) {
			return fmt.Errorf("synth: %s %v not in [0, 1)", name, v)
		}
		return nil
	}
	if err := errors.Join(frac("background", p.Background), frac("occlusion", p.Occlusion), frac("scale", p.Scale)); err != nil {
		return Perturb{}, err
	}
	if !(p.Tilt >= 0 && p.Tilt <= math.Pi) || !(p.Jitter >= 0 && p.Jitter < 1) {
		return Perturb{}, fmt.Errorf("synth: tilt %v or jitter %v out of range", p.Tilt, p.Jitter)
	}
	return p, nil
}

// Generate makes the training and test splits. Samples are made in parallel
// on opt.Workers goroutines; the result is the same for any worker count.
func Generate(opt Options) (train, test *Split, err error) {
	p, err := opt.resolve()
	if err != nil {
		return nil, nil, err
	}
	k := len(classes)
	train = &Split{Points: make([][]float32, opt.Train*k), Labels: make([]int, opt.Train*k)}
	test = &Split{Points: make([][]float32, opt.Test*k), Labels: make([]int, opt.Test*k)}
	total := len(train.Labels) + len(test.Labels)
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, total))

	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		errAt    = total
	)
	for range workers {
		wg.Go(func() {
			for {
				j := int(next.Add(1) - 1)
				if j >= total {
					return
				}
				s, split, idx := train, 0, j
				if j >= len(train.Labels) {
					s, split, idx = test, 1, j-len(train.Labels)
				}
				c := idx % k
				pts, err := sample(c, sampleSeed(opt.Seed, split, c, idx/k), opt.Points, p)
				if err != nil {
					mu.Lock()
					if j < errAt { // report the same error whatever the schedule
						firstErr, errAt = fmt.Errorf("synth: %s sample %d: %w", classes[c].name, idx/k, err), j
					}
					mu.Unlock()
					continue
				}
				s.Points[idx], s.Labels[idx] = pts, c
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, nil, firstErr
	}
	return train, test, nil
}

// mix is a bijective hash of 64-bit words (one SplitMix64 step).
func mix(x uint64) uint64 { return rng.Mix64(x) }

// sampleSeed derives the seed of one sample from the data-set seed, the split
// (0 train, 1 test), the class and the instance index within the class.
func sampleSeed(seed uint64, split, class, index int) uint64 {
	h := mix(seed)
	h = mix(h ^ uint64(split))
	h = mix(h ^ uint64(class))
	return mix(h ^ uint64(index))
}

// Seeds of the independent streams within one sample.
const (
	streamShape = iota + 1
	streamSurface
	streamPerturb
	streamClutter
)

// ShapeSeed returns the seed that Shape needs to rebuild the mesh behind
// sample index of class in a split (0 train, 1 test) of a data set.
func ShapeSeed(seed uint64, split, class, index int) uint64 {
	return mix(sampleSeed(seed, split, class, index) ^ streamShape)
}
