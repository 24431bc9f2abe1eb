package rng

import (
	"math/rand/v2"
	"testing"
)

// The functions below are the generators pcx used before this package; the
// tests hold the package to them bit for bit.

func oldMix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func oldStream(seed, kind uint64, epoch, batch int) *rand.Rand {
	a := oldMix(seed ^ oldMix(kind))
	b := oldMix(a ^ oldMix(uint64(epoch)<<32|uint64(uint32(batch))))
	return rand.New(rand.NewPCG(a, b))
}

func oldNewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

func oldSplitmix(state uint64) func() uint64 {
	return func() uint64 {
		state += 0x9E3779B97F4A7C15
		z := state
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		return z ^ (z >> 31)
	}
}

const seeds = 10000

// seedAt spreads the test seeds over small and large values.
func seedAt(i int) uint64 {
	if i%2 == 0 {
		return uint64(i / 2)
	}
	return oldMix(uint64(i)) // arbitrary 64-bit words
}

func TestMix64MatchesOld(t *testing.T) {
	for i := range seeds {
		x := seedAt(i)
		if got, want := Mix64(x), oldMix(x); got != want {
			t.Fatalf("Mix64(%#x) = %#x, want %#x", x, got, want)
		}
	}
}

func TestSplitMix64MatchesOld(t *testing.T) {
	for i := range seeds {
		s := SplitMix64{State: seedAt(i)}
		next := oldSplitmix(seedAt(i))
		for k := range 4 {
			if got, want := s.Next(), next(); got != want {
				t.Fatalf("seed %#x draw %d: %#x, want %#x", seedAt(i), k, got, want)
			}
		}
	}
}

func TestNewMatchesOld(t *testing.T) {
	for i := range seeds {
		a, b := New(seedAt(i)), oldNewRand(seedAt(i))
		for k := range 3 {
			if got, want := a.Uint64(), b.Uint64(); got != want {
				t.Fatalf("seed %#x draw %d: %#x, want %#x", seedAt(i), k, got, want)
			}
		}
	}
}

func TestStreamMatchesOld(t *testing.T) {
	for i := range seeds {
		seed := seedAt(i)
		kind := uint64(i % 5) // kind 0 is model initialisation
		epoch, batch := i%7, i%11-1
		a, b := Stream(seed, kind, epoch, batch), oldStream(seed, kind, epoch, batch)
		for k := range 3 {
			if got, want := a.Uint64(), b.Uint64(); got != want {
				t.Fatalf("Stream(%#x,%d,%d,%d) draw %d: %#x, want %#x", seed, kind, epoch, batch, k, got, want)
			}
		}
	}
}

// TestStreamsDiffer guards against a stream that ignores one of its inputs.
func TestStreamsDiffer(t *testing.T) {
	base := Stream(1, 2, 3, 4).Uint64()
	for _, r := range []*rand.Rand{Stream(0, 2, 3, 4), Stream(1, 0, 3, 4), Stream(1, 2, 0, 4), Stream(1, 2, 3, 0)} {
		if r.Uint64() == base {
			t.Fatal("changing one input of Stream left its first draw unchanged")
		}
	}
}
