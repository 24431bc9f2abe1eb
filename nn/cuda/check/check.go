// Package check compares pcx's GPU kernels with its CPU code: each case
// draws random inputs, runs the operation forward and backward with package
// nn on the CPU (and fps and knn for the grouping) and with package cuda on
// the device, and reports the largest relative difference of its outputs.
// It is what `pcx selftest --device cuda` runs.
//
// The relative difference of an output is max_i |gpu_i - cpu_i| divided by
// max_i |cpu_i| (the largest absolute error as a fraction of the output's
// scale), so that a gradient entry that is a difference of nearly equal
// terms does not dominate; an operation's difference is the largest over its
// outputs. Indices (FPS centres, kNN neighbours, the argmax of the max over
// groups) are compared exactly: their difference is the fraction of indices
// that differ, and the tolerance 0.
//
// Tolerances: 1e-4 everywhere; the kernels follow nn's arithmetic (float64
// statistics, the same exp and erf formulas), so the remaining differences
// come from summation order (a warp's tree against a loop, cuBLAS against
// nn/blas) and are about 1e-6. With TF32 products (--tf32), operations that
// use cuBLAS (gemm, attention, the router's backward) get 5e-3: TF32 keeps
// 10 bits of mantissa.
package check

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/pcx-dev/pcx/nn/cuda"
)

// Options configures Run.
type Options struct {
	// Seed makes the inputs reproducible.
	Seed uint64
	// Small uses small shapes (for the CPU emulator); otherwise shapes are
	// those of Point-MAE on ScanObjectNN (B·T = 32·65 tokens of 384
	// channels, 2048-point clouds grouped into 128 groups of 32).
	Small bool
	// TF32 says the device's products use TF32 (looser tolerances).
	TF32 bool
	// Only, when not empty, runs the cases whose names it lists.
	Only []string
}

// DefaultTol is the relative tolerance of every case unless noted.
const DefaultTol = 1e-4

// TF32Tol is the tolerance of cuBLAS-based cases when TF32 is on.
const TF32Tol = 5e-3

// Result is one case's outcome.
type Result struct {
	Op string `json:"op"`
	// MaxRel is the largest relative difference over the outputs (see the
	// package documentation); Worst names that output.
	MaxRel float64 `json:"max_rel_diff"`
	Worst  string  `json:"worst_output,omitempty"`
	Tol    float64 `json:"tolerance"`
	OK     bool    `json:"ok"`
	// Err is set when the case could not run (a CUDA error).
	Err string `json:"error,omitempty"`
	// Outputs has every output's relative difference.
	Outputs map[string]float64 `json:"outputs"`
	// GPUTime is the wall time of the device side, copies included.
	GPUTime time.Duration `json:"gpu_ns"`
}

// env is what a case works with.
type env struct {
	s    *cuda.Stream
	rng  *rand.Rand
	o    Options
	bufs []*cuda.Buffer
	err  error
	outs map[string]float64
	// index marks the outputs that are indices (compared exactly).
	index map[string]bool
	gpu   time.Duration
}

type caseFn func(e *env)

type namedCase struct {
	name string
	fn   caseFn
	blas bool // uses cuBLAS (TF32 tolerance applies)
}

// Names lists the cases in the order Run runs them.
func Names() []string {
	out := make([]string, len(cases))
	for i, c := range cases {
		out[i] = c.name
	}
	return out
}

// Run runs every case (or those of o.Only) on the device's default stream.
func Run(d *cuda.Device, o Options) ([]Result, error) {
	selected, unknown := map[string]bool{}, map[string]float64{}
	for _, n := range o.Only {
		selected[n] = true
		unknown[n] = 0
	}
	for _, c := range cases {
		delete(unknown, c.name)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("check: no cases named %v (have %v)", sortedKeys(unknown), Names())
	}
	var res []Result
	for i, c := range cases {
		if len(selected) > 0 && !selected[c.name] {
			continue
		}
		e := &env{s: d.Stream(), rng: rand.New(rand.NewPCG(o.Seed, uint64(i)+1)), o: o, outs: map[string]float64{}, index: map[string]bool{}}
		c.fn(e)
		e.free()
		res = append(res, e.result(c))
	}
	return res, nil
}

// result judges a case: every float output within the tolerance, every
// index output exact, no error, and at least one output compared.
func (e *env) result(c namedCase) Result {
	tol := DefaultTol
	if c.blas && e.o.TF32 {
		tol = TF32Tol
	}
	floats := false
	for k := range e.outs {
		floats = floats || !e.index[k]
	}
	if !floats {
		tol = 0
	}
	r := Result{Op: c.name, Tol: tol, Outputs: e.outs, GPUTime: e.gpu}
	ok := e.err == nil && len(e.outs) > 0
	for _, k := range sortedKeys(e.outs) {
		v := e.outs[k]
		if v > r.MaxRel || (math.IsNaN(v) && !math.IsNaN(r.MaxRel)) {
			r.MaxRel, r.Worst = v, k
		}
		lim := tol
		if e.index[k] {
			lim = 0
		}
		if math.IsNaN(v) || v > lim {
			ok = false
			r.Worst = k
		}
	}
	if e.err != nil {
		r.Err = e.err.Error()
	}
	r.OK = ok
	return r
}

func sortedKeys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ---- helpers: they record the first error and become no-ops after it ----

func (e *env) fail(err error) {
	if e.err == nil && err != nil {
		e.err = err
	}
}

func (e *env) ok() bool { return e.err == nil }

// timed runs f, the device side of a case, adding its time to the case.
func (e *env) timed(f func() error) {
	if !e.ok() {
		return
	}
	t := time.Now()
	e.fail(f())
	e.fail(e.s.Synchronize())
	e.gpu += time.Since(t)
}

func (e *env) alloc(n int) *cuda.Buffer {
	if !e.ok() {
		return nil
	}
	b, err := e.s.Alloc(n)
	e.fail(err)
	e.bufs = append(e.bufs, b)
	return b
}

// up uploads float32 data to a new buffer.
func (e *env) up(v []float32) *cuda.Buffer {
	b := e.alloc(len(v))
	if e.ok() {
		e.fail(e.s.Upload(b, v))
	}
	return b
}

// upI uploads int32 data.
func (e *env) upI(v []int32) *cuda.Buffer {
	b := e.alloc(len(v))
	if e.ok() {
		e.fail(e.s.UploadInt32(b, v))
	}
	return b
}

// zeros returns a cleared buffer (gradients accumulate into it).
func (e *env) zeros(n int) *cuda.Buffer {
	b := e.alloc(n)
	if e.ok() {
		e.fail(e.s.Zero(b))
	}
	return b
}

// down downloads a buffer of float32.
func (e *env) down(b *cuda.Buffer) []float32 {
	if !e.ok() {
		return nil
	}
	out := make([]float32, b.Len())
	e.fail(e.s.Download(out, b))
	return out
}

func (e *env) downI(b *cuda.Buffer) []int32 {
	if !e.ok() {
		return nil
	}
	out := make([]int32, b.Len())
	e.fail(e.s.DownloadInt32(out, b))
	return out
}

func (e *env) free() {
	for _, b := range e.bufs {
		b.Free()
	}
	e.bufs = nil
}

// cmp records the relative difference of a float output.
func (e *env) cmp(name string, gpu, cpu []float32) {
	if !e.ok() {
		return
	}
	if len(gpu) != len(cpu) {
		e.fail(fmt.Errorf("%s: %d values on the GPU, %d on the CPU", name, len(gpu), len(cpu)))
		return
	}
	e.outs[name] = RelDiff(gpu, cpu)
}

// cmpI records the fraction of differing indices.
func (e *env) cmpI(name string, gpu, cpu []int32) {
	if !e.ok() {
		return
	}
	if len(gpu) != len(cpu) {
		e.fail(fmt.Errorf("%s: %d indices on the GPU, %d on the CPU", name, len(gpu), len(cpu)))
		return
	}
	bad := 0
	for i := range gpu {
		if gpu[i] != cpu[i] {
			bad++
		}
	}
	e.outs[name] = float64(bad) / float64(max(1, len(gpu)))
	e.index[name] = true
}

// RelDiff is max|a-b| / max|b|: the largest error relative to the scale of
// the reference b. It is NaN when a has a NaN or an infinity that b does not
// have at the same place, and 0 when both are all zeros.
func RelDiff(a, b []float32) float64 {
	var maxErr, scale float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		if math.IsNaN(y) || math.IsInf(y, 0) {
			if !(math.IsNaN(x) && math.IsNaN(y)) && x != y {
				return math.NaN()
			}
			continue
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return math.NaN()
		}
		maxErr = max(maxErr, math.Abs(x-y))
		scale = max(scale, math.Abs(y))
	}
	if maxErr == 0 {
		return 0
	}
	if scale == 0 {
		return math.Inf(1)
	}
	return maxErr / scale
}

// ---- random data ----

func (e *env) normal(n int, sd float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(e.rng.NormFloat64() * sd)
	}
	return v
}

func (e *env) uniform(n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*e.rng.Float64())
	}
	return v
}

// pick returns the small or the full size.
func (e *env) pick(small, full int) int {
	if e.o.Small {
		return small
	}
	return full
}
