package knn

import (
	"fmt"
	"math"
	"math/rand/v2"
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
