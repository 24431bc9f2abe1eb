package train

import (
	"math/rand/v2"

	"github.com/pcx-dev/pcx/internal/rng"
)

// Stream kinds: each random stream of a run is derived from the seed, its
// kind, the epoch and the batch, so that any step can be reproduced on its
// own.
const (
	StreamOrder uint64 = 1 + iota // an epoch's sample order
	StreamData                    // a batch's subset choice and augmentation
	StreamModel                   // a step's dropout and drop-path
	StreamEval                    // an evaluation batch (voting)
)

// Stream returns the random stream of (seed, kind, epoch, batch); kind 0 is
// model initialisation.
func Stream(seed, kind uint64, epoch, batch int) *rand.Rand {
	return rng.Stream(seed, kind, epoch, batch)
}

// Permutation is epoch's order of n training samples.
func Permutation(seed uint64, epoch, n int) []int {
	return Stream(seed, StreamOrder, epoch, 0).Perm(n)
}
