package synth

import (
	"math"
	"testing"
)

// meshArea returns the total triangle area.
func meshArea(m *mesh) float64 {
	a := 0.0
	for f := 0; f+2 < len(m.f); f += 3 {
		p, q, r := vert(m, m.f[f]), vert(m, m.f[f+1]), vert(m, m.f[f+2])
		c := cross(sub(q, p), sub(r, p))
		a += math.Sqrt(dot(c, c)) / 2
	}
	return a
}

// meshVolume returns the signed enclosed volume (positive for a closed mesh
// whose faces point outwards).
func meshVolume(m *mesh) float64 {
	v := 0.0
	for f := 0; f+2 < len(m.f); f += 3 {
		p, q, r := vert(m, m.f[f]), vert(m, m.f[f+1]), vert(m, m.f[f+2])
		v += dot(p, cross(q, r)) / 6
	}
	return v
}

func vert(m *mesh, i int32) [3]float64 {
	return [3]float64{m.v[3*i], m.v[3*i+1], m.v[3*i+2]}
}

func sub(a, b [3]float64) [3]float64 { return [3]float64{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }

// closedErr reports why a mesh is not a closed, consistently oriented
// manifold: every directed edge must occur exactly once and its reverse
// exactly once, and no triangle may be degenerate.
func closedErr(t *testing.T, m *mesh) {
	t.Helper()
	edges := map[[2]int32]int{}
	for f := 0; f+2 < len(m.f); f += 3 {
		a, b, c := m.f[f], m.f[f+1], m.f[f+2]
		if a == b || b == c || a == c {
			t.Fatalf("triangle %d repeats a vertex: %d %d %d", f/3, a, b, c)
		}
		for _, e := range [][2]int32{{a, b}, {b, c}, {c, a}} {
			edges[e]++
		}
	}
	for e, n := range edges {
		if n != 1 {
			t.Fatalf("directed edge %v used %d times", e, n)
		}
		if edges[[2]int32{e[1], e[0]}] != 1 {
			t.Fatalf("edge %v has no opposite edge", e)
		}
	}
}

func TestMeshBuilders(t *testing.T) {
	const seg = 128
	pi := math.Pi
	for _, tc := range []struct {
		name         string
		m            *mesh
		area, volume float64
		tol          float64 // relative
	}{
		{"unit box", box(1, 1, 1), 6, 1, 1e-12},
		{"block", block(1, 2, 3, 2, 4, 6), 2 * (2 + 6 + 3), 6, 1e-12},
		{"rotated moved box", box(1, 2, 3).rotX(0.3).rotY(1.1).rotZ(-0.7).move(5, -1, 2), 22, 6, 1e-9},
		{"unit cylinder", cylinder(1, 1, seg), 4 * pi, pi, 2e-3},
		{"cone", frustum(1, 0, 1, seg), pi * (1 + math.Sqrt2), pi / 3, 2e-3},
		{"frustum", frustum(1, 0.5, 1, seg), pi*1.5*math.Hypot(0.5, 1) + pi*1.25, pi / 3 * 1.75, 2e-3},
		{"unit sphere", sphere(1, seg), 4 * pi, 4 * pi / 3, 2e-3},
		{"capsule", capsule(1, 2, seg), 4*pi + 4*pi, 4*pi/3 + 2*pi, 2e-3},
		{"torus", torus(2, 0.5, seg, seg, fullTurn), 4 * pi * pi, pi * pi, 2e-3},
		{"rod", rod([3]float64{1, 2, 3}, [3]float64{-1, 0, 4}, 0.5, seg), 2*pi*0.5*3 + 2*pi*0.25, pi * 0.25 * 3, 2e-3},
		{"lamp shade", shell(1, 1, 1, 0.1, seg), 2*pi*1 + 2*pi*0.9 + 2*(pi-pi*0.81), pi * (1 - 0.81), 2e-3},
		{"cup", vessel([][2]float64{{0, 0}, {1, 0}, {1, 2}}, 0.1, seg),
			pi + 2*pi*2 + (pi - pi*0.81) + 2*pi*0.9*1.9 + pi*0.81, pi*2 - pi*0.81*1.9, 2e-3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			closedErr(t, tc.m)
			if a := meshArea(tc.m); math.Abs(a-tc.area) > tc.tol*tc.area {
				t.Errorf("area %v, want %v", a, tc.area)
			}
			if v := meshVolume(tc.m); math.Abs(v-tc.volume) > tc.tol*tc.volume {
				t.Errorf("volume %v, want %v", v, tc.volume)
			}
		})
	}
}

func TestRodEnds(t *testing.T) {
	p, q := [3]float64{0.5, -1, 2}, [3]float64{-0.5, 1, 1}
	m := rod(p, q, 0.01, 16)
	lo, hi := m.bounds()
	for k := range 3 {
		want0, want1 := math.Min(p[k], q[k]), math.Max(p[k], q[k])
		if math.Abs(lo[k]-want0) > 0.011 || math.Abs(hi[k]-want1) > 0.011 {
			t.Errorf("axis %d spans [%v, %v], want about [%v, %v]", k, lo[k], hi[k], want0, want1)
		}
	}
}

func TestPartialTorusIsOpenBend(t *testing.T) {
	m := torus(1, 0.1, 64, 64, math.Pi)
	lo, hi := m.bounds()
	// Half a turn from +x through -z (revolve's sense) to -x.
	if hi[2] > 0.1+1e-9 || lo[2] > -1 || lo[0] > -1 || hi[0] < 1 {
		t.Errorf("half torus bounds %v %v", lo, hi)
	}
	if a, want := meshArea(m), 2*math.Pi*math.Pi*0.1; math.Abs(a-want) > 2e-3*want {
		t.Errorf("half torus area %v, want %v", a, want)
	}
}
