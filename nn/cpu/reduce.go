package cpu

import "sync"

// Reductions: every sum the kernels compute themselves accumulates in
// float64 and is rounded to float32 once. A sum over rows is split into
// chunks whose bounds depend only on the number of rows and columns (never
// on GOMAXPROCS or the number of goroutines); each chunk is summed in row
// order into its own partial, and the partials are added in chunk order.
// The result is therefore the same bit for bit whatever the core count and
// however the goroutines are scheduled.

// maxChunks bounds the partial sums kept for one reduction.
const maxChunks = 64

// reduceChunk is the number of rows per chunk of a reduction over rows×c
// values: at least grainFor(c) rows, and no more than maxChunks chunks.
func reduceChunk(rows, c int) int {
	return max(grainFor(c), (rows+maxChunks-1)/maxChunks)
}

// ReduceRows sums over rows: it calls f once per chunk of rows [lo, hi)
// (possibly concurrently) with k zeroed float64 accumulators of c values,
// f adding its rows' contributions into them, and returns the k totals,
// the chunks added in order. f may also write per-row outputs of its rows.
func ReduceRows(rows, c, k int, f func(lo, hi int, acc [][]float64)) [][]float64 {
	chunk := reduceChunk(rows, c)
	n := max(1, (rows+chunk-1)/chunk)
	// The partials of all chunks in one buffer, reused from call to call
	// (a step's backward makes hundreds of these reductions; fresh memory
	// for each would be garbage the kernel must map anew).
	bp := partialsPool.Get().(*[]float64)
	buf := *bp
	if cap(buf) < n*k*c {
		buf = make([]float64, n*k*c)
	}
	buf = buf[:n*k*c]
	parts := make([][][]float64, n)
	ParallelRows(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			acc := make([][]float64, k)
			for j := range acc {
				acc[j] = buf[(i*k+j)*c : (i*k+j+1)*c]
				clear(acc[j])
			}
			f(i*chunk, min((i+1)*chunk, rows), acc)
			parts[i] = acc
		}
	})
	total := make([][]float64, k)
	for j := range total {
		total[j] = append([]float64(nil), parts[0][j]...)
	}
	for _, p := range parts[1:] {
		for j := range total {
			for x, v := range p[j] {
				total[j][x] += v
			}
		}
	}
	*bp = buf
	partialsPool.Put(bp)
	return total
}

// partialsPool holds ReduceRows's buffers of partial sums.
var partialsPool = sync.Pool{New: func() any { return new([]float64) }}

// AddRounded adds the float64 sums src to dst, each rounded to float32 once.
func AddRounded(dst []float32, src []float64) {
	for i, v := range src {
		dst[i] += float32(v)
	}
}

// ColSum accumulates db[j] += Σ_r dy[r·c+j] over rows (a bias gradient).
func ColSum(db, dy []float32, rows, c int) {
	s := ReduceRows(rows, c, 1, func(lo, hi int, acc [][]float64) {
		ColSums(acc[0], dy[lo*c:hi*c], hi-lo, c, 0, c)
	})
	AddRounded(db, s[0])
}
