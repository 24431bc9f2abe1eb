package synth

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"sort"
	"testing"

	"github.com/pcx-dev/pcx/pointcloud"
)

// small returns quick options for tests.
func small(variant string) Options {
	return Options{Train: 3, Test: 2, Points: 512, Seed: 7, Variant: variant}
}

// splitBytes serialises a split, so that runs can be compared bit for bit.
func splitBytes(t testing.TB, s *Split) []byte {
	t.Helper()
	var b bytes.Buffer
	for i, p := range s.Points {
		if err := binary.Write(&b, binary.LittleEndian, int64(s.Labels[i])); err != nil {
			t.Fatal(err)
		}
		if err := binary.Write(&b, binary.LittleEndian, p); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func generate(t testing.TB, opt Options) (*Split, *Split) {
	t.Helper()
	tr, te, err := Generate(opt)
	if err != nil {
		t.Fatal(err)
	}
	return tr, te
}

func TestClasses(t *testing.T) {
	names := Classes()
	if len(names) < 12 {
		t.Fatalf("%d classes, want at least 12", len(names))
	}
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" || seen[n] {
			t.Errorf("class name %q empty or repeated", n)
		}
		seen[n] = true
	}
}

func TestShape(t *testing.T) {
	for c, name := range Classes() {
		t.Run(name, func(t *testing.T) {
			for seed := range uint64(20) {
				m, err := Shape(c, seed)
				if err != nil {
					t.Fatal(err)
				}
				if !m.IsMesh() || m.Validate() != nil {
					t.Fatalf("seed %d: not a valid mesh", seed)
				}
				lo, hi := m.Bounds()
				if lo[1] != 0 {
					t.Errorf("seed %d: object rests on y=%v, want 0", seed, lo[1])
				}
				for k := range 3 {
					if hi[k]-lo[k] <= 0 || hi[k]-lo[k] > 3 {
						t.Errorf("seed %d: axis %d extent %v", seed, k, hi[k]-lo[k])
					}
				}
				if _, err := pointcloud.SampleSurface(m, 64, seed); err != nil {
					t.Errorf("seed %d: %v", seed, err)
				}
			}
			a, _ := Shape(c, 1)
			b, _ := Shape(c, 1)
			d, _ := Shape(c, 2)
			if !slices.Equal(a.XYZ, b.XYZ) || !slices.Equal(a.Faces, b.Faces) {
				t.Error("same seed gave different meshes")
			}
			if slices.Equal(a.XYZ, d.XYZ) {
				t.Error("different seeds gave the same mesh")
			}
		})
	}
	if _, err := Shape(-1, 0); err == nil {
		t.Error("Shape(-1) succeeded")
	}
	if _, err := Shape(len(Classes()), 0); err == nil {
		t.Error("Shape(len(Classes())) succeeded")
	}
}

func TestDeterminism(t *testing.T) {
	for _, v := range Variants() {
		t.Run(v, func(t *testing.T) {
			opt := small(v)
			opt.Workers = 1
			tr1, te1 := generate(t, opt)
			opt.Workers = 7
			tr2, te2 := generate(t, opt)
			if !bytes.Equal(splitBytes(t, tr1), splitBytes(t, tr2)) || !bytes.Equal(splitBytes(t, te1), splitBytes(t, te2)) {
				t.Error("same seed, different worker count: different data")
			}
			// Samples do not depend on how many others are made.
			opt.Train = 5
			tr3, _ := generate(t, opt)
			if !bytes.Equal(splitBytes(t, tr1), splitBytes(t, tr3)[:len(splitBytes(t, tr1))]) {
				t.Error("more samples per class changed the first ones")
			}
			opt.Train = 3
			opt.Seed++
			tr4, te4 := generate(t, opt)
			for i := range tr1.Points {
				if slices.Equal(tr1.Points[i], tr4.Points[i]) {
					t.Errorf("train sample %d same under a different seed", i)
				}
			}
			for i := range te1.Points {
				if slices.Equal(te1.Points[i], te4.Points[i]) {
					t.Errorf("test sample %d same under a different seed", i)
				}
				for j := range tr1.Points {
					if slices.Equal(te1.Points[i], tr1.Points[j]) {
						t.Errorf("test sample %d repeats train sample %d", i, j)
					}
				}
			}
		})
	}
}

func TestNormalisedAndBalanced(t *testing.T) {
	k := len(Classes())
	for _, v := range Variants() {
		t.Run(v, func(t *testing.T) {
			opt := small(v)
			tr, te := generate(t, opt)
			for _, s := range []struct {
				name string
				sp   *Split
				per  int
			}{{"train", tr, opt.Train}, {"test", te, opt.Test}} {
				if s.sp.Len() != per(s.per, k) || len(s.sp.Points) != s.sp.Len() {
					t.Fatalf("%s: %d samples, want %d", s.name, s.sp.Len(), s.per*k)
				}
				counts := make([]int, k)
				for i, p := range s.sp.Points {
					counts[s.sp.Labels[i]]++
					if s.sp.Labels[i] != i%k {
						t.Errorf("%s sample %d has label %d, want %d", s.name, i, s.sp.Labels[i], i%k)
					}
					if len(p) != 3*opt.Points {
						t.Fatalf("%s sample %d has %d floats", s.name, i, len(p))
					}
					var mean [3]float64
					rmax := 0.0
					for j := 0; j < len(p); j += 3 {
						r2 := 0.0
						for q := range 3 {
							x := float64(p[j+q])
							if math.IsNaN(x) || math.IsInf(x, 0) {
								t.Fatalf("%s sample %d: non-finite coordinate", s.name, i)
							}
							mean[q] += x
							r2 += x * x
						}
						rmax = math.Max(rmax, r2)
					}
					for q := range 3 {
						if m := mean[q] / float64(opt.Points); math.Abs(m) > 1e-4 {
							t.Errorf("%s sample %d: mean[%d] = %v", s.name, i, q, m)
						}
					}
					if math.Abs(math.Sqrt(rmax)-1) > 1e-4 {
						t.Errorf("%s sample %d: max radius %v", s.name, i, math.Sqrt(rmax))
					}
				}
				for c, n := range counts {
					if n != s.per {
						t.Errorf("%s: class %d has %d samples, want %d", s.name, c, n, s.per)
					}
				}
			}
		})
	}
}

func per(n, k int) int { return n * k }

func TestVariantsDiffer(t *testing.T) {
	clean, _ := generate(t, small("clean"))
	bg, _ := generate(t, small("bg"))
	hard, _ := generate(t, small("hardest"))
	for i := range clean.Points {
		if slices.Equal(clean.Points[i], bg.Points[i]) || slices.Equal(bg.Points[i], hard.Points[i]) {
			t.Fatalf("sample %d identical across variants", i)
		}
	}
	// An explicit Perturb equal to a preset gives the preset's data.
	p, err := Preset("bg")
	if err != nil {
		t.Fatal(err)
	}
	opt := small("")
	opt.Perturb = p
	custom, _ := generate(t, opt)
	if !bytes.Equal(splitBytes(t, custom), splitBytes(t, bg)) {
		t.Error("Variant \"\" with the bg preset's Perturb differs from Variant \"bg\"")
	}
	opt.Perturb = Perturb{}
	zero, _ := generate(t, opt)
	if !bytes.Equal(splitBytes(t, zero), splitBytes(t, clean)) {
		t.Error("zero Perturb differs from the clean variant")
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Options)
	}{
		{"unknown variant", func(o *Options) { o.Variant = "nope" }},
		{"negative train", func(o *Options) { o.Train = -1 }},
		{"no points", func(o *Options) { o.Points = 0 }},
		{"background 1", func(o *Options) { o.Variant, o.Perturb.Background = "", 1 }},
		{"occlusion NaN", func(o *Options) { o.Variant, o.Perturb.Occlusion = "", math.NaN() }},
		{"negative scale", func(o *Options) { o.Variant, o.Perturb.Scale = "", -0.1 }},
		{"negative jitter", func(o *Options) { o.Variant, o.Perturb.Jitter = "", -0.1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := small("clean")
			tc.edit(&opt)
			if _, _, err := Generate(opt); err == nil {
				t.Error("no error")
			}
		})
	}
	opt := small("clean")
	opt.Test = 0
	_, te, err := Generate(opt)
	if err != nil || te.Len() != 0 {
		t.Errorf("empty test split: %v, %d samples", err, te.Len())
	}
}

func TestShapeSeed(t *testing.T) {
	// A clean sample is the normalised surface sample of the mesh that
	// Shape rebuilds from ShapeSeed, in some order.
	opt := Options{Train: 2, Points: 256, Seed: 3, Variant: "clean"}
	tr, _ := generate(t, opt)
	k := len(Classes())
	for i, p := range tr.Points {
		c := tr.Labels[i]
		m, err := Shape(c, ShapeSeed(opt.Seed, 0, c, i/k))
		if err != nil {
			t.Fatal(err)
		}
		s, err := pointcloud.SampleSurface(m, opt.Points, mix(sampleSeed(opt.Seed, 0, c, i/k)^streamSurface))
		if err != nil {
			t.Fatal(err)
		}
		pointcloud.Normalize(s.XYZ)
		if !slices.Equal(sortedPoints(p), sortedPoints(s.XYZ)) {
			t.Errorf("sample %d (%s) is not a sample of Shape(ShapeSeed(...))", i, Classes()[c])
		}
	}
}

// sortedPoints returns the points of a flat cloud in lexicographic order.
func sortedPoints(xyz []float32) [][3]float32 {
	out := make([][3]float32, len(xyz)/3)
	for i := range out {
		out[i] = [3]float32{xyz[3*i], xyz[3*i+1], xyz[3*i+2]}
	}
	slices.SortFunc(out, func(a, b [3]float32) int {
		for q := range 3 {
			if a[q] != b[q] {
				return cmp.Compare(a[q], b[q])
			}
		}
		return 0
	})
	return out
}

// descriptor returns cheap hand-made shape features: the sorted eigenvalues
// of the covariance, the per-axis spreads, and histograms of height and of
// distance from the centre.
func descriptor(p []float32) []float64 {
	n := len(p) / 3
	var cov [3][3]float64
	for i := range n {
		for a := range 3 {
			for b := range 3 {
				cov[a][b] += float64(p[3*i+a]) * float64(p[3*i+b])
			}
		}
	}
	for a := range 3 {
		for b := range 3 {
			cov[a][b] /= float64(n)
		}
	}
	ev := eigSym3(cov)
	f := []float64{ev[0], ev[1], ev[2], cov[0][0], cov[1][1], cov[2][2]}
	const bins = 8
	hy := make([]float64, bins)
	hr := make([]float64, bins)
	for i := range n {
		x, y, z := float64(p[3*i]), float64(p[3*i+1]), float64(p[3*i+2])
		hy[min(bins-1, max(0, int((y+1)/2*bins)))]++
		hr[min(bins-1, int(math.Sqrt(x*x+y*y+z*z)*bins))]++
	}
	for i := range bins {
		f = append(f, hy[i]/float64(n), hr[i]/float64(n))
	}
	return f
}

// eigSym3 returns the eigenvalues of a symmetric 3×3 matrix, sorted
// descending (Jacobi rotations).
func eigSym3(a [3][3]float64) [3]float64 {
	for range 50 {
		p, q, big := 0, 1, 0.0
		for i := range 3 {
			for j := i + 1; j < 3; j++ {
				if math.Abs(a[i][j]) > big {
					p, q, big = i, j, math.Abs(a[i][j])
				}
			}
		}
		if big < 1e-15 {
			break
		}
		th := 0.5 * math.Atan2(2*a[p][q], a[q][q]-a[p][p])
		c, s := math.Cos(th), math.Sin(th)
		var r [3][3]float64
		for i := range 3 {
			r[i][i] = 1
		}
		r[p][p], r[q][q], r[p][q], r[q][p] = c, c, s, -s
		var t, out [3][3]float64
		for i := range 3 {
			for j := range 3 {
				for k := range 3 {
					t[i][j] += r[k][i] * a[k][j]
				}
			}
		}
		for i := range 3 {
			for j := range 3 {
				for k := range 3 {
					out[i][j] += t[i][k] * r[k][j]
				}
			}
		}
		a = out
	}
	ev := []float64{a[0][0], a[1][1], a[2][2]}
	sort.Sort(sort.Reverse(sort.Float64Slice(ev)))
	return [3]float64{ev[0], ev[1], ev[2]}
}

// nearestCentroid trains on tr and returns the accuracy on te, with features
// standardised by the training set's mean and deviation.
func nearestCentroid(tr, te *Split, k int) float64 {
	feats := func(s *Split) [][]float64 {
		out := make([][]float64, s.Len())
		for i, p := range s.Points {
			out[i] = descriptor(p)
		}
		return out
	}
	ftr, fte := feats(tr), feats(te)
	d := len(ftr[0])
	mu, sd := make([]float64, d), make([]float64, d)
	for _, f := range ftr {
		for j, v := range f {
			mu[j] += v / float64(len(ftr))
		}
	}
	for _, f := range ftr {
		for j, v := range f {
			sd[j] += (v - mu[j]) * (v - mu[j]) / float64(len(ftr))
		}
	}
	for j := range sd {
		sd[j] = math.Sqrt(sd[j]) + 1e-9
	}
	cent := make([][]float64, k)
	cnt := make([]float64, k)
	for i := range cent {
		cent[i] = make([]float64, d)
	}
	for i, f := range ftr {
		c := tr.Labels[i]
		cnt[c]++
		for j, v := range f {
			cent[c][j] += (v - mu[j]) / sd[j]
		}
	}
	for c := range cent {
		for j := range cent[c] {
			cent[c][j] /= cnt[c]
		}
	}
	correct := 0
	for i, f := range fte {
		best, bd := -1, math.Inf(1)
		for c := range cent {
			dist := 0.0
			for j, v := range f {
				x := (v-mu[j])/sd[j] - cent[c][j]
				dist += x * x
			}
			if dist < bd {
				best, bd = c, dist
			}
		}
		if best == te.Labels[i] {
			correct++
		}
	}
	return float64(correct) / float64(len(fte))
}

// TestLearnable checks that the classes carry signal that even a crude
// classifier finds, while not being trivially separable by it.
func TestLearnable(t *testing.T) {
	k := len(Classes())
	chance := 1 / float64(k)
	for _, tc := range []struct {
		variant string
		min     float64
	}{{"clean", 2 * chance}, {"bg", 2 * chance}, {"hardest", 1.5 * chance}} {
		t.Run(tc.variant, func(t *testing.T) {
			tr, te := generate(t, Options{Train: 40, Test: 20, Points: 1024, Seed: 11, Variant: tc.variant})
			acc := nearestCentroid(tr, te, k)
			t.Logf("%s: nearest-centroid accuracy %.3f over %d classes (chance %.3f)", tc.variant, acc, k, chance)
			if acc <= tc.min {
				t.Errorf("accuracy %.3f, want > %.3f", acc, tc.min)
			}
			if acc > 0.95 {
				t.Errorf("accuracy %.3f: classes are trivially separable by simple descriptors", acc)
			}
		})
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, v := range Variants() {
		b.Run(v, func(b *testing.B) {
			opt := DefaultOptions()
			opt.Variant = v
			for b.Loop() {
				if _, _, err := Generate(opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
