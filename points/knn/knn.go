// Package knn finds the k nearest points of a cloud around each centre and
// builds Point-MAE's grouped neighbourhoods.
//
// Results are exact and deterministic: each centre's neighbours are the k
// points with the smallest squared distance, computed in float32 as
// ((dx·dx + dy·dy) + dz·dz), ordered by ascending distance with ties broken
// by the lower point index. A centre that is itself a point of the cloud is
// its own first neighbour, as in Point-MAE's Group. Two searches produce the
// same result: brute force, for a few centres or neighbourhoods that are a
// large part of the cloud, and a uniform grid, for everything else; Auto
// picks one.
package knn

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/pcx-dev/pcx/points/fps"
)

// Method selects the search structure.
type Method int

const (
	// Auto chooses Brute or Grid from the cloud size and centre count.
	Auto Method = iota
	// Brute compares each centre with every point.
	Brute
	// Grid buckets the points into a uniform grid and searches outwards
	// from each centre's cell.
	Grid
)

// String names the method.
func (m Method) String() string {
	switch m {
	case Auto:
		return "auto"
	case Brute:
		return "brute"
	case Grid:
		return "grid"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// Options tunes the search. The zero value picks the method automatically
// and uses every core.
type Options struct {
	Method  Method
	Workers int // 0 means runtime.GOMAXPROCS(0)
}

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// choose resolves Auto for n points, q centres and k neighbours. The grid
// wins as soon as there are a few centres and the neighbourhoods are a small
// part of the cloud (BenchmarkMethods: 128 centres, k = 32, from 128 points
// up); brute force wins for a handful of centres, where building the grid
// does not pay, and when k is a large part of the cloud.
func (o Options) choose(n, q, k int) Method {
	if o.Method != Auto {
		return o.Method
	}
	if q >= 8 && n >= 4*k && n >= 64 {
		return Grid
	}
	return Brute
}

// dist2 is the one distance every search uses, so that all agree bit for bit.
func dist2(px, py, pz, qx, qy, qz float32) float32 {
	dx, dy, dz := px-qx, py-qy, pz-qz
	d := float32(dx*dx) + float32(dy*dy)
	return d + float32(dz*dz)
}

func checkFinite(name string, v []float32) error {
	for i, x := range v {
		if math.Float32bits(x)&0x7f800000 == 0x7f800000 { // NaN or ±Inf
			return fmt.Errorf("knn: %s %d has a non-finite coordinate (%v)", name, i/3, x)
		}
	}
	return nil
}

// Search returns, for each query (3 values each), the indices of its k
// nearest points (len = queries×k), nearest first.
func Search(points, queries []float32, k int, opt Options) ([]int32, error) {
	if len(points)%3 != 0 || len(queries)%3 != 0 {
		return nil, errors.New("knn: coordinates must come in threes")
	}
	n, q := len(points)/3, len(queries)/3
	if k <= 0 || k > n {
		return nil, fmt.Errorf("knn: cannot find %d neighbours among %d points", k, n)
	}
	if err := checkFinite("point", points); err != nil {
		return nil, err
	}
	if err := checkFinite("centre", queries); err != nil {
		return nil, err
	}
	out := make([]int32, q*k)
	if q == 0 {
		return out, nil
	}
	w := min(opt.workers(), q)
	method := opt.choose(n, q, k)
	var g *grid
	if method == Grid {
		g = newGrid(points, k)
	}
	per := (q + w - 1) / w
	var wg sync.WaitGroup
	for t := 0; t < w; t++ {
		lo, hi := t*per, min((t+1)*per, q)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			searchRange(points, queries, k, method, g, newSelector(k), lo, hi, out)
		}()
	}
	wg.Wait()
	return out, nil
}

// searchRange answers queries lo..hi-1 into out, with s's storage.
func searchRange(points, queries []float32, k int, method Method, g *grid, s *selector, lo, hi int, out []int32) {
	for i := lo; i < hi; i++ {
		qx, qy, qz := queries[3*i], queries[3*i+1], queries[3*i+2]
		s.reset()
		if method == Grid {
			g.search(s, qx, qy, qz)
		} else {
			bruteSearch(s, points, qx, qy, qz)
		}
		s.sorted(out[i*k : (i+1)*k])
	}
}

func bruteSearch(s *selector, points []float32, qx, qy, qz float32) {
	s.scan(points, nil, 0, len(points)/3, qx, qy, qz)
}

// Groups is Point-MAE's grouping of a batch: FPS centres and the k nearest
// points of each, made relative to their centre.
type Groups struct {
	B, G, K int
	// CentreIdx (B×G) indexes the centres in their cloud, in FPS order.
	CentreIdx []int32
	// Centres (B×G×3) are the centre coordinates.
	Centres []float32
	// Idx (B×G×K) indexes each centre's neighbours in its cloud, nearest first.
	Idx []int32
	// Neighbourhoods (B×G×K×3) are the neighbours minus their centre.
	Neighbourhoods []float32
}

// Group runs Point-MAE's Group on b clouds of n points (xyz is b×n×3):
// pointnet2 FPS picks g centres per cloud, then each centre's k nearest
// points (itself included) are gathered relative to it. Clouds run in
// parallel.
func Group(xyz []float32, b, n, g, k int, opt Options) (*Groups, error) {
	cidx, err := fps.SampleBatch(xyz, b, n, g, fps.Options{Workers: opt.Workers})
	if err != nil {
		return nil, err
	}
	return GroupAt(xyz, b, n, cidx, g, k, opt)
}

// GroupAt is Group with the centres given by index (b×g) instead of by FPS.
func GroupAt(xyz []float32, b, n int, centreIdx []int32, g, k int, opt Options) (*Groups, error) {
	if b <= 0 || n <= 0 || len(xyz) != b*n*3 {
		return nil, fmt.Errorf("knn: %d coordinates do not make %d clouds of %d points", len(xyz), b, n)
	}
	if len(centreIdx) != b*g || g <= 0 {
		return nil, fmt.Errorf("knn: %d centre indices for %d clouds of %d centres", len(centreIdx), b, g)
	}
	if k <= 0 || k > n {
		return nil, fmt.Errorf("knn: cannot find %d neighbours among %d points", k, n)
	}
	for _, c := range centreIdx {
		if c < 0 || int(c) >= n {
			return nil, fmt.Errorf("knn: centre index %d outside the %d points", c, n)
		}
	}
	if err := checkFinite("point", xyz); err != nil {
		return nil, err
	}
	out := &Groups{B: b, G: g, K: k, CentreIdx: centreIdx,
		Centres: make([]float32, b*g*3), Idx: make([]int32, b*g*k), Neighbourhoods: make([]float32, b*g*k*3)}
	method := opt.choose(n, g, k)
	jobs := make(chan int, b)
	for i := 0; i < b; i++ {
		jobs <- i
	}
	close(jobs)
	var wg sync.WaitGroup
	for t := 0; t < min(opt.workers(), b); t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var gr *grid // reused from cloud to cloud, as is the selector
			if method == Grid {
				gr = &grid{}
			}
			sel := newSelector(k)
			for i := range jobs {
				cloud := xyz[i*n*3 : (i+1)*n*3]
				cent := out.Centres[i*g*3 : (i+1)*g*3]
				for j, c := range centreIdx[i*g : (i+1)*g] {
					copy(cent[3*j:3*j+3], cloud[3*c:3*c+3])
				}
				if method == Grid {
					gr.build(cloud)
				}
				idx := out.Idx[i*g*k : (i+1)*g*k]
				searchRange(cloud, cent, k, method, gr, sel, 0, g, idx)
				nb := out.Neighbourhoods[i*g*k*3 : (i+1)*g*k*3]
				for j := 0; j < g; j++ {
					for m := 0; m < k; m++ {
						p := idx[j*k+m]
						o := 3 * (j*k + m)
						nb[o] = cloud[3*p] - cent[3*j]
						nb[o+1] = cloud[3*p+1] - cent[3*j+1]
						nb[o+2] = cloud[3*p+2] - cent[3*j+2]
					}
				}
			}
		}()
	}
	wg.Wait()
	return out, nil
}
