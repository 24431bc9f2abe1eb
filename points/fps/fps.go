// Package fps implements farthest-point sampling (FPS), the centre selection of
// Point-MAE's Group.
//
// The default mode reproduces pointnet2_ops' furthest_point_sample: the first
// centre is point 0; every point keeps its squared distance to the nearest
// chosen centre, starting at 1e10; points with |p|² ≤ 1e-3 are skipped and can
// never be chosen (point 0 excepted, as the first pick); the next centre is the
// point whose running distance is largest, ties going to the lowest index. If
// every remaining candidate is skipped, index 0 is returned again, as the CUDA
// kernel does. The Plain mode is textbook FPS: no point is skipped, distances
// start at +Inf and the first centre can be chosen freely.
//
// Distances are computed in float32 as ((dx·dx + dy·dy) + dz·dz), the same way
// in the scalar and the vector (AVX2) kernels, so results do not depend on the
// CPU. A batch is sampled in parallel across clouds; one large cloud is split
// across cores.
package fps

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// Mode selects the sampling semantics.
type Mode int

const (
	// PointNet2 reproduces pointnet2_ops.furthest_point_sample (the default).
	PointNet2 Mode = iota
	// Plain is textbook farthest-point sampling.
	Plain
)

// Options tunes sampling. The zero value is pointnet2_ops semantics using
// every core.
type Options struct {
	Mode Mode
	// Start is the first centre in Plain mode (PointNet2 always starts at 0).
	Start int
	// Workers bounds the goroutines used; 0 means runtime.GOMAXPROCS(0).
	Workers int
}

// pointnet2 constants: the initial running distance and the skip threshold.
const (
	initDist  = 1e10
	minMagSq  = 1e-3
	splitSize = 32768 // a cloud at least this large is split across cores
)

// skipped marks a point that can never be chosen: its running distance stays
// below any real distance, so neither the min nor the argmax ever picks it.
const skipped = -1

// ErrNonFinite is returned for clouds with NaN or infinite coordinates.
var ErrNonFinite = errors.New("non-finite coordinate")

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

func check(n, m int, o Options) error {
	if n <= 0 {
		return errors.New("fps: empty cloud")
	}
	if m <= 0 || m > n {
		return fmt.Errorf("fps: cannot choose %d centres from %d points", m, n)
	}
	if o.Mode == Plain && (o.Start < 0 || o.Start >= n) {
		return fmt.Errorf("fps: start index %d outside the %d points", o.Start, n)
	}
	if o.Mode != PointNet2 && o.Mode != Plain {
		return fmt.Errorf("fps: unknown mode %d", o.Mode)
	}
	return nil
}

// Sample chooses m centres from one cloud (xyz holds 3 values per point) and
// returns their indices in the order chosen. Large clouds are split across
// Options.Workers cores.
func Sample(xyz []float32, m int, opt Options) ([]int32, error) {
	if len(xyz)%3 != 0 {
		return nil, fmt.Errorf("fps: %d coordinates is not a multiple of 3", len(xyz))
	}
	n := len(xyz) / 3
	if err := check(n, m, opt); err != nil {
		return nil, err
	}
	s, err := newSampler(xyz, opt.Mode)
	if err != nil {
		return nil, err
	}
	out := make([]int32, m)
	w := opt.workers()
	if w > 1 && n >= splitSize {
		s.runSplit(out, opt.Start, opt.Mode, w)
	} else {
		s.run(out, opt.Start, opt.Mode)
	}
	return out, nil
}

// SampleBatch chooses m centres from each of b clouds of n points stored one
// after the other in xyz (b×n×3) and returns b×m indices into each cloud. The
// clouds are processed in parallel.
func SampleBatch(xyz []float32, b, n, m int, opt Options) ([]int32, error) {
	if b <= 0 || len(xyz) != b*n*3 {
		return nil, fmt.Errorf("fps: %d coordinates do not make %d clouds of %d points", len(xyz), b, n)
	}
	if err := check(n, m, opt); err != nil {
		return nil, err
	}
	out := make([]int32, b*m)
	errs := make([]error, b)
	w := min(opt.workers(), b)
	var wg sync.WaitGroup
	next := make(chan int, b)
	for i := 0; i < b; i++ {
		next <- i
	}
	close(next)
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s sampler
			for i := range next {
				if err := s.reset(xyz[i*n*3:(i+1)*n*3], opt.Mode); err != nil {
					errs[i] = fmt.Errorf("cloud %d: %w", i, err)
					continue
				}
				s.run(out[i*m:(i+1)*m], opt.Start, opt.Mode)
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Gather returns the points named by idx (3 values each).
func Gather(xyz []float32, idx []int32) []float32 {
	out := make([]float32, 3*len(idx))
	for i, j := range idx {
		copy(out[3*i:3*i+3], xyz[3*j:3*j+3])
	}
	return out
}

// sampler holds one cloud in structure-of-arrays form and its running
// distances; its buffers are reused across clouds.
type sampler struct {
	x, y, z, d []float32
}

func newSampler(xyz []float32, mode Mode) (*sampler, error) {
	s := &sampler{}
	return s, s.reset(xyz, mode)
}

func (s *sampler) reset(xyz []float32, mode Mode) error {
	n := len(xyz) / 3
	if cap(s.x) < n {
		s.x, s.y, s.z, s.d = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	}
	s.x, s.y, s.z, s.d = s.x[:n], s.y[:n], s.z[:n], s.d[:n]
	init := float32(initDist)
	if mode == Plain {
		init = float32(math.Inf(1))
	}
	for i := 0; i < n; i++ {
		x, y, z := xyz[3*i], xyz[3*i+1], xyz[3*i+2]
		if math.IsNaN(float64(x+y+z)) || math.IsInf(float64(x+y+z), 0) {
			if isBad(x) || isBad(y) || isBad(z) {
				return fmt.Errorf("%w at point %d", ErrNonFinite, i)
			}
		}
		s.x[i], s.y[i], s.z[i] = x, y, z
		s.d[i] = init
		if mode == PointNet2 && float64(x*x+y*y+z*z) <= minMagSq {
			s.d[i] = skipped
		}
	}
	return nil
}

func isBad(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) }

// run performs sequential FPS, writing len(out) indices.
func (s *sampler) run(out []int32, start int, mode Mode) {
	cur := 0
	if mode == Plain {
		cur = start
	}
	for j := range out {
		out[j] = int32(cur)
		if j == len(out)-1 {
			break
		}
		_, cur = step(s.x, s.y, s.z, s.d, s.x[cur], s.y[cur], s.z[cur])
	}
}

// runSplit performs FPS with the points divided into w contiguous chunks,
// each updated by its own goroutine at every iteration. An iteration is a few
// microseconds of work, so the goroutines meet at a spinning barrier (atomic
// counters; they yield to the scheduler when a wait grows long) rather than
// over channels.
func (s *sampler) runSplit(out []int32, start int, mode Mode, w int) {
	n := len(s.d)
	chunk := (n + w - 1) / w
	chunk = (chunk + 15) &^ 15
	type result struct {
		best float32
		idx  int
		_    [48]byte // keep each worker's result on its own cache line
	}
	res := make([]result, w)
	var cx, cy, cz float32
	var gen atomic.Uint64 // bumped by the leader to start an iteration
	var done atomic.Int32 // workers finished with the current iteration
	var quit atomic.Bool
	var wg sync.WaitGroup
	for k := 1; k < w; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			lo, hi := min(k*chunk, n), min((k+1)*chunk, n)
			seen := uint64(0)
			for {
				for spin := 0; gen.Load() == seen; spin++ {
					if spin > 64 {
						runtime.Gosched()
					}
				}
				seen++
				if quit.Load() {
					return
				}
				b, i := step(s.x[lo:hi], s.y[lo:hi], s.z[lo:hi], s.d[lo:hi], cx, cy, cz)
				res[k].best, res[k].idx = b, lo+i
				done.Add(1)
			}
		}(k)
	}
	cur := 0
	if mode == Plain {
		cur = start
	}
	hi0 := min(chunk, n)
	for j := range out {
		out[j] = int32(cur)
		if j == len(out)-1 {
			break
		}
		cx, cy, cz = s.x[cur], s.y[cur], s.z[cur]
		done.Store(0)
		gen.Add(1)
		b, i := step(s.x[:hi0], s.y[:hi0], s.z[:hi0], s.d[:hi0], cx, cy, cz)
		res[0].best, res[0].idx = b, i
		for spin := 0; done.Load() != int32(w-1); spin++ {
			if spin > 64 {
				runtime.Gosched()
			}
		}
		best := res[0]
		for k := 1; k < w; k++ {
			if res[k].best > best.best { // chunks ascend, so ties keep the lower index
				best = res[k]
			}
		}
		if best.best < 0 { // nothing left to choose: pointnet2 returns index 0
			best.idx = 0
		}
		cur = best.idx
	}
	quit.Store(true)
	gen.Add(1)
	wg.Wait()
}

// step updates the running distances against the centre (cx, cy, cz) and
// returns the largest one and its lowest index; the largest is negative and
// the index 0 when every point is skipped (or the slice is empty).
func step(x, y, z, d []float32, cx, cy, cz float32) (float32, int) {
	n := len(d)
	best, bi := float32(skipped), 0
	k := 0
	if useAVX2 && n >= 8 {
		k = n &^ 7
		best, bi = stepVec(x[:k], y[:k], z[:k], d[:k], cx, cy, cz)
	}
	if k < n {
		b, i := stepGo(x[k:n], y[k:n], z[k:n], d[k:n], cx, cy, cz)
		if b > best {
			best, bi = b, k+i
		}
	}
	return best, bi
}

// stepGo is the scalar kernel.
func stepGo(x, y, z, d []float32, cx, cy, cz float32) (float32, int) {
	best, bi := float32(skipped), 0
	x, y, z = x[:len(d)], y[:len(d)], z[:len(d)]
	for k := range d {
		dx, dy, dz := x[k]-cx, y[k]-cy, z[k]-cz
		// The conversions round each product, so no compiler fuses them
		// into FMA and every kernel computes the same bits.
		dd := float32(dx*dx) + float32(dy*dy)
		dd += float32(dz * dz)
		t := d[k]
		if dd < t {
			t = dd
			d[k] = t
		}
		if t > best {
			best, bi = t, k
		}
	}
	return best, bi
}

// UsesAVX2 reports whether the vector kernel runs on this CPU.
func UsesAVX2() bool { return useAVX2 }
