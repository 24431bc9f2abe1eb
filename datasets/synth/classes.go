package synth

import (
	"math"
	"math/rand/v2"
)

// rnd adds the few draws the shape builders need to a random stream.
type rnd struct{ *rand.Rand }

// u draws uniformly from [a, b).
func (r rnd) u(a, b float64) float64 { return a + (b-a)*r.Float64() }

// i draws an integer uniformly from [a, b].
func (r rnd) i(a, b int) int { return a + r.IntN(b-a+1) }

// p reports true with probability prob.
func (r rnd) p(prob float64) bool { return r.Float64() < prob }

// class is one object category: its name and a builder of random instances.
// Builders work in metres with y up, the object standing on y = 0 and facing
// +z.
type class struct {
	name  string
	build func(r rnd) *mesh
}

// classes lists the categories in label order. Appending is safe; reordering
// changes every label.
var classes = []class{
	{"chair", chair},
	{"table", table},
	{"stool", stool},
	{"bench", bench},
	{"sofa", sofa},
	{"bed", bed},
	{"bookshelf", bookshelf},
	{"cabinet", cabinet},
	{"monitor", monitor},
	{"lamp", lamp},
	{"mug", mug},
	{"bowl", bowl},
	{"vase", vase},
	{"bottle", bottle},
	{"airplane", airplane},
	{"guitar", guitar},
}

// leg returns a vertical leg from the floor to height h centred at (x, z):
// square of side 2r when square, else round of radius r.
func leg(x, z, h, r float64, square bool) *mesh {
	if square {
		return block(x-r, 0, z-r, x+r, h, z+r)
	}
	return cylinder(r, h, 12).move(x, 0, z)
}

func chair(r rnd) *mesh {
	m := &mesh{}
	w, d := r.u(0.40, 0.56), r.u(0.38, 0.55)
	h, t := r.u(0.40, 0.50), r.u(0.03, 0.08)
	m.add(block(-w/2, h-t, -d/2, w/2, h, d/2))
	if r.p(0.15) { // office chair: column on a star base
		base := r.u(0.05, 0.09)
		m.add(cylinder(r.u(0.02, 0.04), h-t-base, 12).move(0, base, 0))
		feet, reach := r.i(4, 5), r.u(0.24, 0.32)
		a0 := r.u(0, 2*math.Pi)
		for k := range feet {
			a := a0 + 2*math.Pi*float64(k)/float64(feet)
			m.add(rod([3]float64{0, base, 0}, [3]float64{reach * math.Cos(a), 0.03, reach * math.Sin(a)}, 0.018, 8))
		}
	} else {
		lr, square := r.u(0.013, 0.028), r.p(0.6)
		in := r.u(0, 0.03)
		for _, sx := range []float64{-1, 1} {
			for _, sz := range []float64{-1, 1} {
				m.add(leg(sx*(w/2-lr-in), sz*(d/2-lr-in), h-t, lr, square))
			}
		}
		if r.p(0.35) { // stretchers between the legs
			y := r.u(0.08, 0.2)
			m.add(block(-w/2+in, y, -lr/2, w/2-in, y+lr, lr/2))
		}
	}
	// Back rest, built with its base on the origin and its front face at z=0.
	bh, bt := r.u(0.32, 0.6), r.u(0.02, 0.05)
	back := &mesh{}
	switch r.i(0, 2) {
	case 0: // solid panel
		back.add(block(-w/2, 0, -bt, w/2, bh, 0))
	case 1: // posts and horizontal slats
		pw := r.u(0.02, 0.04)
		back.add(block(-w/2, 0, -bt, -w/2+pw, bh, 0), block(w/2-pw, 0, -bt, w/2, bh, 0))
		n := r.i(1, 4)
		sh := r.u(0.04, 0.1)
		for k := range n {
			y := bh - sh - float64(k)*bh*0.8/float64(n)
			back.add(block(-w/2+pw, y, -bt*0.8, w/2-pw, y+sh, -bt*0.2))
		}
	default: // posts, top rail and spindles
		pw := r.u(0.02, 0.04)
		back.add(block(-w/2, 0, -bt, -w/2+pw, bh, 0), block(w/2-pw, 0, -bt, w/2, bh, 0))
		rail := r.u(0.04, 0.1)
		back.add(block(-w/2+pw, bh-rail, -bt, w/2-pw, bh, 0))
		n := r.i(2, 5)
		for k := range n {
			x := -w/2 + pw + (w-2*pw)*(float64(k)+0.5)/float64(n)
			back.add(block(x-0.01, 0, -bt*0.7, x+0.01, bh-rail, -bt*0.3))
		}
	}
	m.add(back.rotX(-r.u(0, 0.25)).move(0, h, -d/2+bt))
	if r.p(0.3) { // arm rests
		ah, aw := r.u(0.18, 0.28), r.u(0.03, 0.07)
		for _, sx := range []float64{-1, 1} {
			x := sx * (w/2 - aw/2)
			m.add(block(x-0.012, h, d/2-0.05, x+0.012, h+ah, d/2-0.02))
			m.add(block(x-aw/2, h+ah, -d/2+bt, x+aw/2, h+ah+0.025, d/2))
		}
	}
	return m
}

func table(r rnd) *mesh {
	m := &mesh{}
	h, t := r.u(0.65, 0.8), r.u(0.025, 0.06)
	var hw, hd float64 // half extents of the top
	round := r.p(0.3)
	if round {
		rad := r.u(0.35, 0.65)
		m.add(cylinder(rad, t, 32).move(0, h-t, 0))
		hw, hd = rad*0.7, rad*0.7
	} else {
		w, d := r.u(0.8, 1.8), r.u(0.55, 1.0)
		m.add(block(-w/2, h-t, -d/2, w/2, h, d/2))
		hw, hd = w/2, d/2
	}
	if (round && r.p(0.6)) || r.p(0.1) { // pedestal
		cr := r.u(0.035, 0.08)
		m.add(cylinder(cr, h-t, 16))
		if r.p(0.5) {
			m.add(cylinder(r.u(0.2, 0.35), r.u(0.02, 0.05), 24))
		} else {
			reach := r.u(0.25, 0.4)
			for k := range 4 {
				a := math.Pi / 2 * float64(k)
				m.add(rod([3]float64{0, 0.05, 0}, [3]float64{reach * math.Cos(a), 0.02, reach * math.Sin(a)}, 0.025, 8))
			}
		}
		return m
	}
	lr, square := r.u(0.018, 0.04), r.p(0.6)
	in := r.u(0.02, 0.1)
	x, z := hw-lr-in, hd-lr-in
	for _, sx := range []float64{-1, 1} {
		for _, sz := range []float64{-1, 1} {
			m.add(leg(sx*x, sz*z, h-t, lr, square))
		}
	}
	if r.p(0.5) { // aprons under the top
		ah := r.u(0.05, 0.12)
		for _, s := range []float64{-1, 1} {
			m.add(block(-x, h-t-ah, s*z-0.01, x, h-t, s*z+0.01))
			m.add(block(s*x-0.01, h-t-ah, -z, s*x+0.01, h-t, z))
		}
	}
	if r.p(0.25) { // low shelf or stretcher
		y := r.u(0.1, 0.25)
		if r.p(0.5) {
			m.add(block(-x, y, -z, x, y+0.02, z))
		} else {
			m.add(block(-x, y, -0.015, x, y+0.03, 0.015))
		}
	}
	return m
}

func stool(r rnd) *mesh {
	m := &mesh{}
	h, t := r.u(0.45, 0.8), r.u(0.03, 0.06)
	sr := r.u(0.14, 0.22)
	if r.p(0.7) {
		m.add(cylinder(sr, t, 32).move(0, h-t, 0))
	} else {
		m.add(block(-sr, h-t, -sr, sr, h, sr))
	}
	n := r.i(3, 4)
	splay := r.u(0, 0.12)
	lr := r.u(0.012, 0.025)
	a0 := r.u(0, math.Pi/2)
	top := sr * 0.75
	bottom := top + splay*h
	tops := make([][3]float64, n)
	bots := make([][3]float64, n)
	for k := range n {
		a := a0 + 2*math.Pi*float64(k)/float64(n)
		tops[k] = [3]float64{top * math.Cos(a), h - t, top * math.Sin(a)}
		bots[k] = [3]float64{bottom * math.Cos(a), 0, bottom * math.Sin(a)}
		m.add(rod(bots[k], tops[k], lr, 10))
	}
	switch r.i(0, 2) {
	case 0: // foot ring
		y := h * r.u(0.25, 0.4)
		rr := bottom + (top-bottom)*y/(h-t)
		m.add(torus(rr, lr*0.8, 32, 8, fullTurn).move(0, y, 0))
	case 1: // rungs between neighbouring legs
		f := r.u(0.25, 0.4)
		for k := range n {
			a, b := lerp3(bots[k], tops[k], f), lerp3(bots[(k+1)%n], tops[(k+1)%n], f)
			m.add(rod(a, b, lr*0.7, 8))
		}
	}
	return m
}

func lerp3(a, b [3]float64, f float64) [3]float64 {
	return [3]float64{a[0] + f*(b[0]-a[0]), a[1] + f*(b[1]-a[1]), a[2] + f*(b[2]-a[2])}
}

func bench(r rnd) *mesh {
	m := &mesh{}
	l, d := r.u(1.0, 1.8), r.u(0.3, 0.45)
	h, t := r.u(0.4, 0.5), r.u(0.03, 0.07)
	if r.p(0.3) { // slatted seat
		n := r.i(3, 5)
		gap := r.u(0.01, 0.02)
		sw := (d - gap*float64(n-1)) / float64(n)
		for k := range n {
			z := -d/2 + float64(k)*(sw+gap)
			m.add(block(-l/2, h-t, z, l/2, h, z+sw))
		}
	} else {
		m.add(block(-l/2, h-t, -d/2, l/2, h, d/2))
	}
	in := r.u(0.03, 0.15)
	if r.p(0.5) {
		lr, square := r.u(0.02, 0.04), r.p(0.6)
		for _, sx := range []float64{-1, 1} {
			for _, sz := range []float64{-1, 1} {
				m.add(leg(sx*(l/2-in), sz*(d/2-lr-0.01), h-t, lr, square))
			}
		}
	} else { // two panel ends
		pt := r.u(0.03, 0.06)
		for _, sx := range []float64{-1, 1} {
			x := sx * (l/2 - in)
			m.add(block(x-pt/2, 0, -d/2+0.02, x+pt/2, h-t, d/2-0.02))
		}
	}
	if r.p(0.35) { // back rest
		bh := r.u(0.25, 0.45)
		for _, sx := range []float64{-1, 1} {
			x := sx * (l/2 - in)
			m.add(block(x-0.02, h, -d/2, x+0.02, h+bh, -d/2+0.04))
		}
		n := r.i(1, 3)
		for k := range n {
			y := h + bh - float64(k)*bh/float64(n+1)
			m.add(block(-l/2, y-0.06, -d/2, l/2, y, -d/2+0.03))
		}
	}
	return m
}

func sofa(r rnd) *mesh {
	m := &mesh{}
	l, d := r.u(1.4, 2.3), r.u(0.75, 1.0)
	sh := r.u(0.38, 0.46)
	legH := 0.0
	if r.p(0.6) {
		legH = r.u(0.03, 0.12)
	}
	cush := r.u(0.08, 0.15)
	aw, bt := r.u(0.08, 0.25), r.u(0.15, 0.28)
	hasArms := r.p(0.9)
	inner := l / 2
	if hasArms {
		inner = l/2 - aw
	}
	m.add(block(-l/2, legH, -d/2, l/2, sh-cush, d/2))
	n := r.i(1, 3)
	gap := 0.01
	cw := (2*inner - gap*float64(n-1)) / float64(n)
	for k := range n {
		x := -inner + float64(k)*(cw+gap)
		m.add(block(x, sh-cush, -d/2+bt, x+cw, sh, d/2))
	}
	bh := sh + r.u(0.3, 0.5)
	m.add(block(-l/2, legH, -d/2, l/2, bh, -d/2+bt))
	if r.p(0.5) { // back cushions
		for k := range n {
			x := -inner + float64(k)*(cw+gap)
			m.add(block(x, sh, -d/2+bt, x+cw, bh-0.05, -d/2+bt+r.u(0.08, 0.15)))
		}
	}
	if hasArms {
		ah := sh + r.u(0.12, 0.3)
		round := r.p(0.4)
		for _, sx := range []float64{-1, 1} {
			x0, x1 := sx*l/2, sx*(l/2-aw)
			m.add(block(math.Min(x0, x1), legH, -d/2, math.Max(x0, x1), ah, d/2))
			if round {
				m.add(rod([3]float64{(x0 + x1) / 2, ah, -d / 2}, [3]float64{(x0 + x1) / 2, ah, d / 2}, aw/2, 16))
			}
		}
	}
	if legH > 0 {
		lr := r.u(0.015, 0.03)
		for _, sx := range []float64{-1, 1} {
			for _, sz := range []float64{-1, 1} {
				m.add(leg(sx*(l/2-0.05), sz*(d/2-0.05), legH, lr, false))
			}
		}
	}
	return m
}

func bed(r rnd) *mesh {
	m := &mesh{}
	w, l := r.u(0.9, 1.8), r.u(1.9, 2.2)
	legH := 0.0
	if r.p(0.6) {
		legH = r.u(0.03, 0.15)
	}
	fh := legH + r.u(0.15, 0.3)
	mt := r.u(0.15, 0.28)
	m.add(block(-w/2, legH, -l/2, w/2, fh, l/2))
	e := r.u(0, 0.04)
	top := fh + mt
	m.add(block(-w/2+e, fh, -l/2+e, w/2-e, top, l/2-e))
	ht := r.u(0.04, 0.1)
	m.add(block(-w/2, 0, -l/2-ht, w/2, top+r.u(0.3, 0.8), -l/2))
	if r.p(0.5) { // foot board
		m.add(block(-w/2, 0, l/2, w/2, top+r.u(-0.05, 0.25), l/2+ht))
	}
	np := 1
	if w > 1.2 {
		np = r.i(1, 2)
	}
	pw := w / float64(np)
	for k := range np {
		x := -w/2 + pw*(float64(k)+0.5)
		m.add(sphere(1, 16).scale(pw*0.4, r.u(0.05, 0.09), r.u(0.15, 0.22)).move(x, top+0.04, -l/2+0.3))
	}
	if r.p(0.4) { // blanket
		bl := l * r.u(0.5, 0.75)
		m.add(block(-w/2-0.03, top-0.1, l/2-e-bl, w/2+0.03, top+0.03, l/2-e+0.01))
	}
	if legH > 0 {
		for _, sx := range []float64{-1, 1} {
			for _, sz := range []float64{-1, 1} {
				m.add(leg(sx*(w/2-0.05), sz*(l/2-0.05), legH, 0.03, true))
			}
		}
	}
	return m
}

func bookshelf(r rnd) *mesh {
	m := &mesh{}
	w, h, d := r.u(0.5, 1.2), r.u(0.8, 2.0), r.u(0.22, 0.4)
	pt := r.u(0.015, 0.035)
	m.add(block(-w/2, 0, -d/2, -w/2+pt, h, d/2), block(w/2-pt, 0, -d/2, w/2, h, d/2))
	m.add(block(-w/2, h-pt, -d/2, w/2, h, d/2))
	plinth := 0.0
	if r.p(0.5) {
		plinth = r.u(0.04, 0.1)
		m.add(block(-w/2+pt, 0, d/2-pt-0.01, w/2-pt, plinth, d/2-0.01))
	}
	m.add(block(-w/2+pt, plinth, -d/2, w/2-pt, plinth+pt, d/2))
	back := r.p(0.8)
	if back {
		m.add(block(-w/2+pt, plinth+pt, -d/2, w/2-pt, h-pt, -d/2+0.008))
	}
	n := r.i(2, 6)
	span := h - pt - (plinth + pt)
	gap := span / float64(n+1)
	levels := []float64{plinth + pt}
	for k := 1; k <= n; k++ {
		y := plinth + pt + gap*float64(k) + r.u(-0.1, 0.1)*gap
		m.add(block(-w/2+pt, y-pt, -d/2, w/2-pt, y, d/2))
		levels = append(levels, y)
	}
	for _, y := range levels {
		if !r.p(0.4) {
			continue
		}
		x := -w/2 + pt + r.u(0, 0.3)*(w-2*pt)
		end := x + r.u(0.3, 0.7)*(w-2*pt)
		end = math.Min(end, w/2-pt)
		for x < end {
			bw := r.u(0.02, 0.05)
			bh := gap * r.u(0.55, 0.85)
			bd := d * r.u(0.65, 0.9)
			m.add(block(x, y, -d/2+0.01, x+bw, y+bh, -d/2+0.01+bd))
			x += bw + r.u(0, 0.004)
		}
	}
	return m
}

func cabinet(r rnd) *mesh {
	m := &mesh{}
	w, h, d := r.u(0.4, 1.2), r.u(0.45, 1.4), r.u(0.35, 0.6)
	legH := 0.0
	if r.p(0.5) {
		legH = r.u(0.05, 0.15)
		for _, sx := range []float64{-1, 1} {
			for _, sz := range []float64{-1, 1} {
				m.add(leg(sx*(w/2-0.04), sz*(d/2-0.04), legH, r.u(0.012, 0.025), false))
			}
		}
	}
	m.add(block(-w/2, legH, -d/2, w/2, h, d/2))
	if r.p(0.3) { // overhanging top
		o := r.u(0.01, 0.04)
		m.add(block(-w/2-o, h, -d/2-o, w/2+o, h+r.u(0.02, 0.04), d/2+o))
	}
	ft, g := r.u(0.012, 0.02), 0.006
	z0, z1 := d/2, d/2+ft
	handle := func(x, y float64, vertical bool) {
		hl := r.u(0.06, 0.14)
		if vertical {
			m.add(block(x-0.008, y-hl/2, z1, x+0.008, y+hl/2, z1+0.02))
		} else {
			m.add(block(x-hl/2, y-0.008, z1, x+hl/2, y+0.008, z1+0.02))
		}
	}
	doors := func(y0, y1 float64) {
		nd := 1
		if w > 0.6 && r.p(0.7) {
			nd = 2
		}
		dw := w / float64(nd)
		for k := range nd {
			x0 := -w/2 + dw*float64(k)
			m.add(block(x0+g, y0+g, z0, x0+dw-g, y1-g, z1))
			hx := x0 + dw - 0.05
			if nd == 2 && k == 1 {
				hx = x0 + 0.05
			}
			handle(hx, y0+(y1-y0)*0.6, true)
		}
	}
	drawers := func(y0, y1 float64, n int) {
		dh := (y1 - y0) / float64(n)
		for k := range n {
			y := y0 + dh*float64(k)
			m.add(block(-w/2+g, y+g, z0, w/2-g, y+dh-g, z1))
			handle(0, y+dh/2, false)
		}
	}
	switch r.i(0, 2) {
	case 0:
		doors(legH, h)
	case 1:
		drawers(legH, h, r.i(2, 5))
	default:
		split := h - (h-legH)*r.u(0.2, 0.35)
		drawers(split, h, 1)
		doors(legH, split)
	}
	return m
}

func monitor(r rnd) *mesh {
	m := &mesh{}
	sw := r.u(0.4, 0.7)
	sh := sw * r.u(0.5, 0.75)
	st := r.u(0.015, 0.04)
	elev := r.u(0.06, 0.2)
	screen := block(-sw/2, 0, -st/2, sw/2, sh, st/2)
	if r.p(0.5) { // rear housing
		hw, hh := sw*r.u(0.4, 0.8), sh*r.u(0.4, 0.8)
		screen.add(block(-hw/2, sh*0.15, -st/2-r.u(0.02, 0.08), hw/2, sh*0.15+hh, -st/2))
	}
	pivot := sh * 0.35
	m.add(screen.move(0, -pivot, 0).rotX(-r.u(0, 0.2)).move(0, elev+pivot, 0))
	nw, nt := r.u(0.04, 0.1), r.u(0.015, 0.03)
	nz := -st/2 - nt/2 - 0.02
	m.add(block(-nw/2, 0, nz-nt/2, nw/2, elev+pivot, nz+nt/2))
	switch r.i(0, 2) {
	case 0:
		bw, bd := r.u(0.15, 0.3), r.u(0.12, 0.22)
		m.add(block(-bw/2, 0, nz-bd/2, bw/2, r.u(0.01, 0.025), nz+bd/2))
	case 1:
		m.add(cylinder(r.u(0.08, 0.14), r.u(0.01, 0.025), 24).move(0, 0, nz))
	default: // V-shaped feet
		fl := r.u(0.12, 0.2)
		for _, s := range []float64{-1, 1} {
			m.add(rod([3]float64{0, 0.01, nz}, [3]float64{s * fl * 0.7, 0.01, nz + fl*0.7}, 0.01, 8))
		}
	}
	return m
}

func lamp(r rnd) *mesh {
	m := &mesh{}
	var bh float64
	switch r.i(0, 2) {
	case 0:
		bh = r.u(0.015, 0.04)
		m.add(cylinder(r.u(0.07, 0.15), bh, 24))
	case 1:
		bh = r.u(0.015, 0.04)
		s := r.u(0.07, 0.13)
		m.add(block(-s, 0, -s, s, bh, s))
	default:
		bh = r.u(0.04, 0.1)
		m.add(frustum(r.u(0.08, 0.15), r.u(0.02, 0.05), bh, 24))
	}
	pr := r.u(0.008, 0.02)
	if r.p(0.6) { // upright lamp with a shade on top
		ph := r.u(0.25, 1.4)
		m.add(cylinder(pr, ph, 10).move(0, bh, 0))
		rb := r.u(0.1, 0.25)
		rt := rb * r.u(0.5, 1.0)
		sh := r.u(0.12, 0.3)
		m.add(shell(rb, rt, sh, 0.006, 32).move(0, bh+ph-sh*r.u(0.2, 0.6), 0))
		if r.p(0.3) { // bulb
			m.add(sphere(r.u(0.03, 0.05), 12).move(0, bh+ph, 0))
		}
		return m
	}
	// Desk lamp: two arm segments and a head pointing down and forwards.
	j := [3]float64{r.u(-0.05, 0.05), bh + r.u(0.2, 0.45), r.u(-0.15, 0.05)}
	e := [3]float64{j[0], j[1] + r.u(-0.05, 0.2), j[2] + r.u(0.2, 0.4)}
	m.add(rod([3]float64{0, bh, 0}, j, pr, 10), rod(j, e, pr, 10))
	m.add(sphere(pr*2, 8).move(j[0], j[1], j[2]))
	rb := r.u(0.06, 0.12)
	hl := r.u(0.08, 0.18)
	head := shell(rb, rb*r.u(0.2, 0.5), hl, 0.005, 24)
	dir := [3]float64{0, 1, -r.u(0.2, 1.2)} // shade opening faces down and forwards
	m.add(head.move(0, -hl, 0).alignY(dir).move(e[0], e[1], e[2]))
	return m
}

func mug(r rnd) *mesh {
	R, H := r.u(0.035, 0.05), r.u(0.08, 0.12)
	top := R * r.u(1.0, 1.15)
	t := r.u(0.003, 0.007)
	m := vessel([][2]float64{{0, 0}, {R, 0}, {top, H}}, t, 32)
	// Handle: part of a torus in the xy plane whose ends sink into the wall.
	hr := H * r.u(0.25, 0.4)
	ht := r.u(0.005, 0.01)
	cx := (R+top)/2 + r.u(-0.2, 0.3)*hr
	c := (R + top - t) / 2
	alpha := math.Acos(math.Max(-1, math.Min(1, (c-cx)/hr)))
	handle := torus(hr, ht, 24, 8, 2*alpha).rotY(-alpha).rotX(math.Pi / 2)
	handle.scale(1, r.u(0.9, 1.3), 1)
	m.add(handle.move(cx, H*r.u(0.45, 0.55), 0))
	return m
}

func bowl(r rnd) *mesh {
	R := r.u(0.08, 0.15)
	H := R * r.u(0.35, 0.65)
	rb := R * r.u(0.3, 0.5)
	prof := [][2]float64{{0, 0}}
	hb := 0.0
	if r.p(0.5) { // foot ring
		hb = r.u(0.006, 0.015)
		prof = append(prof, [2]float64{rb * 0.9, 0}, [2]float64{rb * 0.9, hb})
	}
	for k := 0; k <= 12; k++ {
		a := math.Pi / 2 * float64(k) / 12
		prof = append(prof, [2]float64{rb + (R-rb)*math.Sin(a), H - (H-hb)*math.Cos(a)})
	}
	return vessel(prof, r.u(0.003, 0.008), 32)
}

func vase(r rnd) *mesh {
	H := r.u(0.2, 0.5)
	rb := r.u(0.04, 0.09)
	rm := r.u(0.07, 0.15)
	rn := r.u(0.025, 0.06)
	if r.p(0.3) { // no neck: a flaring vase
		rn = rm * r.u(0.9, 1.2)
	}
	rl := rn * r.u(1.0, 1.6)
	ctrl := [][2]float64{{rb, 0}, {rm, H * r.u(0.25, 0.6)}, {rn, H * r.u(0.75, 0.9)}, {rl, H}}
	prof := [][2]float64{{0, 0}}
	for i := 0; i+1 < len(ctrl); i++ {
		a, b := ctrl[i], ctrl[i+1]
		for k := range 6 {
			f := float64(k) / 6
			s := (1 - math.Cos(math.Pi*f)) / 2
			prof = append(prof, [2]float64{a[0] + (b[0]-a[0])*s, a[1] + (b[1]-a[1])*f})
		}
	}
	prof = append(prof, ctrl[len(ctrl)-1])
	return vessel(prof, r.u(0.004, 0.008), 32)
}

func bottle(r rnd) *mesh {
	R := r.u(0.03, 0.05)
	hb := r.u(0.1, 0.25)
	hs := r.u(0.02, 0.06)
	rn := R * r.u(0.25, 0.45)
	if r.p(0.2) { // jar-like wide neck
		rn = R * r.u(0.6, 0.8)
	}
	hn := r.u(0.03, 0.1)
	rc := rn * r.u(1.05, 1.3)
	hc := r.u(0.015, 0.03)
	prof := [][2]float64{{0, 0}, {R * 0.92, 0}, {R, 0.008}, {R, hb}}
	for k := 1; k <= 6; k++ {
		a := math.Pi / 2 * float64(k) / 6
		prof = append(prof, [2]float64{rn + (R-rn)*math.Cos(a), hb + hs*math.Sin(a)})
	}
	y := hb + hs + hn
	prof = append(prof, [2]float64{rn, y}, [2]float64{rc, y}, [2]float64{rc, y + hc}, [2]float64{0, y + hc})
	return revolve(prof, 32, fullTurn, false)
}

func airplane(r rnd) *mesh {
	m := &mesh{}
	fr := r.u(0.04, 0.08)
	const length = 1.0
	// Fuselage along z, nose at +z, with a slightly elliptic cross-section.
	m.add(capsule(fr, length-2*fr, 24).scale(1, 1, r.u(0.8, 1.1)).rotX(math.Pi / 2))
	span, chord := r.u(0.7, 1.2), r.u(0.1, 0.22)
	wt := r.u(0.01, 0.025)
	sweep, dihedral := r.u(0, 0.6), r.u(0, 0.1)
	wz, wy := r.u(-0.1, 0.1), r.u(-0.6, 0.5)*fr
	for _, s := range []float64{-1, 1} {
		x0, x1 := 0.0, span/2
		if s < 0 {
			x0, x1 = -span/2, 0
		}
		m.add(block(x0, -wt/2, -chord/2, x1, wt/2, chord/2).rotZ(s*dihedral).rotY(s*sweep).move(0, wy, wz))
	}
	tz := -length/2 + chord*0.3
	ts, tc := span*r.u(0.25, 0.4), chord*r.u(0.5, 0.8)
	for _, s := range []float64{-1, 1} {
		x0, x1 := 0.0, ts/2
		if s < 0 {
			x0, x1 = -ts/2, 0
		}
		m.add(block(x0, -wt/2, -tc/2, x1, wt/2, tc/2).rotY(s*sweep).move(0, fr*0.3, tz))
	}
	fh := r.u(0.1, 0.2)
	m.add(block(-wt/2, 0, -tc/2, wt/2, fh, tc/2).rotX(-sweep*0.6).move(0, fr*0.5, tz))
	if r.p(0.6) { // engines under the wings
		n := r.i(1, 2)
		er := r.u(0.02, 0.04)
		for k := 1; k <= n; k++ {
			x := span / 2 * float64(k) / float64(n+1)
			z := wz - x*math.Sin(sweep)
			y := wy - wt/2 - er
			for _, s := range []float64{-1, 1} {
				m.add(rod([3]float64{s * x, y, z - 0.08}, [3]float64{s * x, y, z + 0.08}, er, 12))
			}
		}
	}
	return m
}

func guitar(r rnd) *mesh {
	m := &mesh{}
	electric := r.p(0.3)
	tb := r.u(0.07, 0.12)
	if electric {
		tb = r.u(0.035, 0.05)
	}
	// An elliptic slab of half widths a, b in the xy plane, tb deep along z.
	slab := func(a, b, x, y float64) *mesh {
		return cylinder(1, tb, 32).rotX(math.Pi/2).scale(a, b, 1).move(x, y, -tb/2)
	}
	a1, b1 := r.u(0.17, 0.22), r.u(0.16, 0.22)
	m.add(slab(a1, b1, 0, b1))
	top := 2 * b1
	if electric {
		m.add(slab(a1*0.35, b1*0.6, a1*0.45, b1*1.6), slab(a1*0.3, b1*0.45, -a1*0.5, b1*1.5))
		top = b1 * 1.9
	} else {
		a2, b2 := a1*r.u(0.7, 0.85), b1*r.u(0.6, 0.85)
		y2 := b1 + (b1+b2)*r.u(0.55, 0.75)
		m.add(slab(a2, b2, 0, y2))
		top = y2 + b2
		m.add(block(-0.06, b1*0.6, tb/2, 0.06, b1*0.6+0.025, tb/2+0.01)) // bridge
	}
	nl, nw, nt := r.u(0.4, 0.55), r.u(0.045, 0.06), r.u(0.02, 0.03)
	ny := top - 0.08
	m.add(block(-nw/2, ny, tb/2-nt, nw/2, ny+nl, tb/2))
	hl := r.u(0.15, 0.2)
	head := block(-nw*0.8, 0, -nt, nw*0.8, hl, 0).rotX(-r.u(0, 0.25))
	m.add(head.move(0, ny+nl, tb/2))
	return m
}
