package datasets

import (
	"hash/fnv"
	"runtime"
	"sync"
	"sync/atomic"
)

// forEach calls fn(i) for i in [0, n) on up to workers goroutines
// (runtime.GOMAXPROCS(0) when workers <= 0). It stops handing out indices
// after the first failure and returns the error of the lowest failing index,
// so the error reported does not depend on scheduling: indices are handed
// out in order, so every index below a failing one has run.
func forEach(n, workers int, fn func(i int) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next   atomic.Int64
		failed atomic.Bool
		mu     sync.Mutex
		errIdx = n
		errVal error
		wg     sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if i < errIdx {
						errIdx, errVal = i, err
					}
					mu.Unlock()
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return errVal
}

// fileSeed derives the sampling seed of one file from the user's seed and
// the file's slash-separated path relative to the data set root, so that a
// file samples the same points wherever the tree lives and whatever order
// the workers take files in.
func fileSeed(seed uint64, rel string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(rel))
	return seed ^ h.Sum64()
}
