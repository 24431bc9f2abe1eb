package train

import "math/rand/v2"

// Stream kinds: each random stream of a run is derived from the seed, its
// kind, the epoch and the batch, so that any step can be reproduced on its
// own.
const (
	StreamOrder uint64 = 1 + iota // an epoch's sample order
	StreamData                    // a batch's subset choice and augmentation
	StreamModel                   // a step's dropout and drop-path
	StreamEval                    // an evaluation batch (voting)
)

// mix is SplitMix64's finaliser.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Stream returns the random stream of (seed, kind, epoch, batch).
func Stream(seed, kind uint64, epoch, batch int) *rand.Rand {
	a := mix(seed ^ mix(kind))
	b := mix(a ^ mix(uint64(epoch)<<32|uint64(uint32(batch))))
	return rand.New(rand.NewPCG(a, b))
}

// Permutation is epoch's order of n training samples.
func Permutation(seed uint64, epoch, n int) []int {
	return Stream(seed, StreamOrder, epoch, 0).Perm(n)
}
