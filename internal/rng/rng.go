// Package rng holds pcx's deterministic random-number helpers: the SplitMix64
// hash that derives seeds, and the PCG streams built from them. Every random
// draw in pcx comes from one of these, so a run repeats bit for bit.
package rng

import "math/rand/v2"

// Gamma is SplitMix64's increment, the 64-bit golden ratio.
const Gamma uint64 = 0x9e3779b97f4a7c15

// Mix64 is one SplitMix64 step from state x: it adds Gamma and applies the
// finaliser, a bijective hash of 64-bit words.
func Mix64(x uint64) uint64 {
	x += Gamma
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// SplitMix64 is the SplitMix64 generator: each Next advances State by Gamma
// and returns the hash of the new state.
type SplitMix64 struct{ State uint64 }

// Next returns the next word of the sequence.
func (s *SplitMix64) Next() uint64 {
	v := Mix64(s.State)
	s.State += Gamma
	return v
}

// New returns pcx's deterministic random stream for a seed.
func New(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, Gamma))
}

// Stream returns the random stream of (seed, kind, epoch, batch): any step of
// a run can be reproduced on its own from these four numbers.
func Stream(seed, kind uint64, epoch, batch int) *rand.Rand {
	a := Mix64(seed ^ Mix64(kind))
	b := Mix64(a ^ Mix64(uint64(epoch)<<32|uint64(uint32(batch))))
	return rand.New(rand.NewPCG(a, b))
}
