package knn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// reference sorts every point by (distance, index) for each query.
func reference(points, queries []float32, k int) []int32 {
	n, q := len(points)/3, len(queries)/3
	out := make([]int32, 0, q*k)
	order := make([]int, n)
	d := make([]float32, n)
	for i := 0; i < q; i++ {
		for j := 0; j < n; j++ {
			order[j] = j
			d[j] = dist2(points[3*j], points[3*j+1], points[3*j+2], queries[3*i], queries[3*i+1], queries[3*i+2])
		}
		sort.SliceStable(order, func(a, b int) bool { return d[order[a]] < d[order[b]] })
		for _, j := range order[:k] {
			out = append(out, int32(j))
		}
	}
	return out
}

// surface samples a unit sphere with some duplicated and lattice points, so
// that equal distances occur.
func surface(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 2))
	xyz := make([]float32, 3*n)
	for i := 0; i < n; i++ {
		switch {
		case i%13 == 7:
			copy(xyz[3*i:3*i+3], xyz[3*(i/3):3*(i/3)+3])
		case i%9 == 4:
			for a := 0; a < 3; a++ {
				xyz[3*i+a] = float32(r.IntN(3)-1) * 0.25
			}
		default:
			x, y, z := r.NormFloat64(), r.NormFloat64(), r.NormFloat64()
			l := math.Sqrt(x*x+y*y+z*z) + 1e-12
			xyz[3*i], xyz[3*i+1], xyz[3*i+2] = float32(x/l), float32(y/l), float32(z/l)
		}
	}
	return xyz
}

func flat(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 3))
	xyz := make([]float32, 3*n)
	for i := 0; i < n; i++ {
		xyz[3*i], xyz[3*i+1] = float32(r.Float64()), float32(r.Float64())
	}
	return xyz
}

func TestSearchEqualsBruteForce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		points  []float32
		queries []float32
		k       int
	}{
		{"one point", []float32{1, 2, 3}, []float32{0, 0, 0, 1, 2, 3}, 1},
		{"all points", surface(40, 1), surface(5, 2), 40},
		{"sphere", surface(2048, 3), surface(2048, 3)[:128*3], 32},
		{"outside queries", surface(3000, 4), []float32{5, 5, 5, -3, 0, 0, 0, 0, 0}, 17},
		{"flat", flat(5000, 5), flat(64, 6), 32},
		{"line", []float32{0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0, 0, 5, 0, 0}, []float32{2.5, 0, 0}, 4},
		{"duplicates", []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, []float32{1, 1, 1, 0.4, 0.4, 0.4}, 3},
		{"large", surface(20000, 7), surface(300, 8), 16},
	} {
		want := reference(tc.points, tc.queries, tc.k)
		for _, m := range []Method{Auto, Brute, Grid} {
			for _, w := range []int{1, 3} {
				got, err := Search(tc.points, tc.queries, tc.k, Options{Method: m, Workers: w})
				if err != nil {
					t.Fatalf("%s/%v: %v", tc.name, m, err)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s/%v/w%d: query %d neighbour %d is %d, want %d", tc.name, m, w, i/tc.k, i%tc.k, got[i], want[i])
					}
				}
			}
		}
	}
}

func TestGroup(t *testing.T) {
	const b, n, g, k = 3, 500, 16, 8
	xyz := make([]float32, 0, b*n*3)
	for i := 0; i < b; i++ {
		xyz = append(xyz, surface(n, uint64(10+i))...)
	}
	gr, err := Group(xyz, b, n, g, k, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < b; i++ {
		cloud := xyz[i*n*3 : (i+1)*n*3]
		cent := gr.Centres[i*g*3 : (i+1)*g*3]
		want := reference(cloud, cent, k)
		for j := 0; j < g; j++ {
			c := gr.CentreIdx[i*g+j]
			if gr.Idx[(i*g+j)*k] != c && dist2(cloud[3*c], cloud[3*c+1], cloud[3*c+2], cent[3*j], cent[3*j+1], cent[3*j+2]) != 0 {
				t.Errorf("cloud %d centre %d is not its own first neighbour", i, j)
			}
			for m := 0; m < k; m++ {
				p := gr.Idx[(i*g+j)*k+m]
				if p != want[j*k+m] {
					t.Fatalf("cloud %d centre %d neighbour %d: %d, want %d", i, j, m, p, want[j*k+m])
				}
				for a := 0; a < 3; a++ {
					got := gr.Neighbourhoods[((i*g+j)*k+m)*3+a]
					if got != cloud[3*int(p)+a]-cent[3*j+a] {
						t.Fatalf("neighbourhood not relative to its centre")
					}
				}
			}
		}
	}
}

func TestErrors(t *testing.T) {
	nan := []float32{float32(math.NaN()), 0, 0}
	cases := map[string]func() error{
		"k too large": func() error { _, err := Search(surface(3, 1), surface(1, 1), 4, Options{}); return err },
		"k zero":      func() error { _, err := Search(surface(3, 1), surface(1, 1), 0, Options{}); return err },
		"ragged":      func() error { _, err := Search([]float32{1}, surface(1, 1), 1, Options{}); return err },
		"nan point":   func() error { _, err := Search(nan, surface(1, 1), 1, Options{}); return err },
		"nan centre":  func() error { _, err := Search(surface(2, 1), nan, 1, Options{}); return err },
		"group shape": func() error { _, err := Group(surface(10, 1), 2, 4, 2, 2, Options{}); return err },
		"centre idx": func() error {
			_, err := GroupAt(surface(10, 1), 1, 10, []int32{10}, 1, 2, Options{})
			return err
		},
	}
	for name, f := range cases {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func benchGroup(b *testing.B, n, g, k int, m Method, workers int) {
	const bs = 32
	xyz := make([]float32, 0, bs*n*3)
	for i := 0; i < bs; i++ {
		xyz = append(xyz, surface(n, uint64(i))...)
	}
	cidx := make([]int32, bs*g)
	for i := range cidx {
		cidx[i] = int32((i * 7919) % n)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := GroupAt(xyz, bs, n, cidx, g, k, Options{Method: m, Workers: workers}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*bs), "ms/cloud")
}

func BenchmarkMethods(b *testing.B) {
	for _, n := range []int{128, 256, 512, 1024, 2048, 4096, 8192} {
		for _, m := range []Method{Brute, Grid} {
			b.Run(fmt.Sprintf("n%d/%v", n, m), func(b *testing.B) { benchGroup(b, n, 128, 32, m, 1) })
		}
	}
}

func BenchmarkGroup2048x128x32(b *testing.B) { benchGroup(b, 2048, 128, 32, Auto, 0) }

// TestSearchRandomClouds compares every method with the sorted reference on
// many small random clouds built to produce ties and uneven density: points
// on a coarse lattice (many duplicates and equal distances), dense clusters
// beside sparse points, tiny coordinates whose squared differences
// underflow, and queries inside and outside the cloud. Any change to which
// neighbours are found, their order or the tie-break fails it.
func TestSearchRandomClouds(t *testing.T) {
	for seed := uint64(0); seed < 150; seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		n := 1 + r.IntN(600)
		scale := []float32{1, 1e-3, 1e-19, 1e4}[seed%4]
		xyz := make([]float32, 3*n)
		for i := 0; i < n; i++ {
			switch r.IntN(4) {
			case 0: // lattice
				for a := 0; a < 3; a++ {
					xyz[3*i+a] = float32(r.IntN(5)-2) * 0.5 * scale
				}
			case 1: // a copy of an earlier point
				j := r.IntN(i + 1)
				copy(xyz[3*i:3*i+3], xyz[3*j:3*j+3])
			case 2: // a dense cluster
				for a := 0; a < 3; a++ {
					xyz[3*i+a] = (0.3 + float32(r.NormFloat64())*1e-3) * scale
				}
			default:
				for a := 0; a < 3; a++ {
					xyz[3*i+a] = float32(r.NormFloat64()) * scale
				}
			}
		}
		var q []float32
		for j := 0; j < 20; j++ {
			if j%3 == 0 {
				for a := 0; a < 3; a++ {
					q = append(q, float32(r.NormFloat64()*2)*scale)
				}
			} else {
				i := r.IntN(n)
				q = append(q, xyz[3*i:3*i+3]...)
			}
		}
		k := 1 + r.IntN(min(n, 70))
		want := reference(xyz, q, k)
		for _, m := range []Method{Brute, Grid} {
			got, err := Search(xyz, q, k, Options{Method: m, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("seed %d, %v, n=%d k=%d: query %d neighbour %d is %d, want %d",
							seed, m, n, k, i/k, i%k, got[i], want[i])
					}
				}
			}
		}
	}
}

func TestSelectK(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for trial := 0; trial < 500; trial++ {
		n := 1 + r.IntN(300)
		a := make([]uint64, n)
		for i := range a {
			switch trial % 3 {
			case 0:
				a[i] = r.Uint64() >> 1 // keys are below 2^63
			case 1: // sorted
				a[i] = uint64(i)
			default: // reversed, organ pipe
				a[i] = uint64(n-i)<<8 | uint64(i%2)
			}
		}
		k := 1 + r.IntN(n)
		want := slices.Clone(a)
		slices.Sort(want)
		selectK(a, k)
		if a[k-1] != want[k-1] {
			t.Fatalf("trial %d: a[k-1] = %d, want %d", trial, a[k-1], want[k-1])
		}
		head := slices.Clone(a[:k])
		slices.Sort(head)
		if !slices.Equal(head, want[:k]) {
			t.Fatalf("trial %d: the first %d are not the smallest", trial, k)
		}
	}
}

// sphereNoise is scripts/bench_open3d.py's kind of cloud: points on the
// unit sphere with Gaussian noise of 0.01.
func sphereNoise(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	xyz := make([]float32, 3*n)
	for i := 0; i < n; i++ {
		x, y, z := r.NormFloat64(), r.NormFloat64(), r.NormFloat64()
		l := math.Sqrt(x*x+y*y+z*z) + 1e-12
		xyz[3*i] = float32(x/l + 0.01*r.NormFloat64())
		xyz[3*i+1] = float32(y/l + 0.01*r.NormFloat64())
		xyz[3*i+2] = float32(z/l + 0.01*r.NormFloat64())
	}
	return xyz
}

// BenchmarkGroupSphere is the kNN row of scripts/bench_open3d.py on one
// core: 32 clouds of 2048 points, every 16th point a centre, k = 32.
func BenchmarkGroupSphere(b *testing.B) {
	const bs, n, g, k = 32, 2048, 128, 32
	xyz := make([]float32, 0, bs*n*3)
	for i := 0; i < bs; i++ {
		xyz = append(xyz, sphereNoise(n, uint64(i))...)
	}
	cidx := make([]int32, bs*g)
	for i := range cidx {
		cidx[i] = int32((i % g) * (n / g))
	}
	for _, w := range []int{1, 0} {
		b.Run(fmt.Sprintf("workers%d", w), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := GroupAt(xyz, bs, n, cidx, g, k, Options{Workers: w}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*bs), "ms/cloud")
		})
	}
}

// TestExtremeQueries: centres far outside a tiny cloud, where cell
// coordinates and distances overflow, still get the reference's neighbours.
func TestExtremeQueries(t *testing.T) {
	pts := surface(300, 21)
	for i := range pts {
		pts[i] *= 1e-30
	}
	q := []float32{3e38, -3e38, 0, 1e20, 0, 0, 0, 0, 0, -1e-29, 1e-30, 0}
	want := reference(pts, q, 40)
	for _, m := range []Method{Brute, Grid} {
		got, err := Search(pts, q, 40, Options{Method: m, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%v: got %v\nwant %v", m, got, want)
		}
	}
}
