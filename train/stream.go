package train

import (
	"fmt"
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

// Subset picks n of a training split's total samples by the seed, as
// VTAB-1K takes 1,000 of a data set's training images (nil: n ≤ 0, all of
// them). The same n, total and seed pick the same samples, in the same
// order, for images and point clouds alike.
func Subset(n, total int, seed uint64) ([]int, error) {
	if n <= 0 {
		return nil, nil
	}
	if n > total {
		return nil, fmt.Errorf("train_subset %d is more than the %d training samples", n, total)
	}
	perm := rng.New(rng.Mix64(seed ^ 0x7375627365743031)).Perm(total)
	return perm[:n], nil
}
