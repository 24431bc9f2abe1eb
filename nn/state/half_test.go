package state

import (
	"math"
	"testing"
)

// TestF16 checks every half-precision value: it converts to float32 and
// back unchanged, and the midpoint between neighbours rounds to the even
// one while anything above it rounds up.
func TestF16(t *testing.T) {
	known := map[uint16]float32{0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: 5.9604645e-08, 0x0400: 6.1035156e-05,
		0x3555: 0.33325195, 0x8000: float32(math.Copysign(0, -1))}
	for h, want := range known {
		if got := f16ToF32(h); math.Float32bits(got) != math.Float32bits(want) {
			t.Errorf("f16ToF32(%#04x) = %v, want %v", h, got, want)
		}
	}
	for h := range 1 << 16 {
		f := f16ToF32(uint16(h))
		if f != f { // NaN stays NaN
			if g := f16ToF32(f32ToF16(f)); g == g {
				t.Errorf("NaN %#04x became %v", h, g)
			}
			continue
		}
		if back := f32ToF16(f); back != uint16(h) {
			t.Fatalf("f16 %#04x -> %v -> %#04x", h, f, back)
		}
		if h&0x7fff >= 0x7bff { // the largest finite value or beyond
			continue
		}
		next := f16ToF32(uint16(h) + 1)
		mid := float32((float64(f) + float64(next)) / 2)
		even := uint16(h)
		if even&1 == 1 {
			even++
		}
		if got := f32ToF16(mid); got != even {
			t.Fatalf("midpoint %v of %#04x and %#04x rounds to %#04x, want %#04x", mid, h, h+1, got, even)
		}
		above := math.Nextafter32(mid, float32(math.Copysign(math.Inf(1), float64(mid))))
		if got := f32ToF16(above); got != uint16(h)+1 {
			t.Fatalf("%v (above the midpoint of %#04x and %#04x) rounds to %#04x", above, h, h+1, got)
		}
	}
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{65519.996, 0x7bff}, {65520, 0x7c00}, {1e10, 0x7c00}, {-1e10, 0xfc00},
		{float32(math.Inf(1)), 0x7c00}, {2.9802322e-08, 0}, {2.9802326e-08, 1}, {1e-30, 0},
	} {
		if got := f32ToF16(c.f); got != c.want {
			t.Errorf("f32ToF16(%v) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}

func TestBF16(t *testing.T) {
	for h := range 1 << 16 {
		f := bf16ToF32(uint16(h))
		if f != f {
			if g := bf16ToF32(f32ToBF16(f)); g == g {
				t.Errorf("NaN %#04x became %v", h, g)
			}
			continue
		}
		if back := f32ToBF16(f); back != uint16(h) {
			t.Fatalf("bf16 %#04x -> %v -> %#04x", h, f, back)
		}
		if h&0x7fff >= 0x7f7f {
			continue
		}
		bits := math.Float32bits(f) + 0x8000 // the midpoint to the next value
		even := uint16(h)
		if even&1 == 1 {
			even++
		}
		if got := f32ToBF16(math.Float32frombits(bits)); got != even {
			t.Fatalf("midpoint above %#04x rounds to %#04x, want %#04x", h, got, even)
		}
		if got := f32ToBF16(math.Float32frombits(bits + 1)); got != uint16(h)+1 {
			t.Fatalf("just above the midpoint above %#04x rounds to %#04x", h, got)
		}
	}
	if got := f32ToBF16(math.MaxFloat32); got != 0x7f80 {
		t.Errorf("MaxFloat32 -> %#04x, want infinity", got)
	}
}
