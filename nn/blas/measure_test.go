package blas

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMeasure prints a table of best-of-N GFLOP/s for every backend and
// benchmark shape. On a machine shared with other work the best of many short
// runs is steadier than the mean that go test -bench reports:
//
//	PCX_BLAS_MEASURE=1 go test ./nn/blas -run TestMeasure -v
//
// PCX_BENCH_BACKENDS (comma-separated, default all), PCX_MEASURE_REPS
// (default 20) and PCX_MEASURE_THREADS (default GOMAXPROCS) adjust it.
func TestMeasure(t *testing.T) {
	if os.Getenv("PCX_BLAS_MEASURE") == "" {
		t.Skip("set PCX_BLAS_MEASURE=1 to measure")
	}
	reps, _ := strconv.Atoi(os.Getenv("PCX_MEASURE_REPS"))
	if reps <= 0 {
		reps = 20
	}
	nt, _ := strconv.Atoi(os.Getenv("PCX_MEASURE_THREADS"))
	SetThreads(nt)
	defer SetThreads(0)
	backends := append(benchBackends(), "openblas-loop")
	if n := os.Getenv("PCX_BENCH_BACKENDS"); n != "" {
		backends = strings.Split(n, ",")
	}
	best := func(f func()) float64 {
		d := time.Duration(1 << 62)
		for range reps {
			t0 := time.Now()
			f()
			d = min(d, time.Since(t0))
		}
		return d.Seconds()
	}
	rows := map[string][]string{}
	var order []string
	for _, be := range backends {
		use := strings.TrimSuffix(be, "-loop")
		prev := active()
		if err := Use(use); err != nil {
			t.Logf("%s: %v", be, err)
			continue
		}
		header := be + " (" + Backend() + ")"
		if len(order) == 0 || order[len(order)-1] != header {
			order = append(order, header)
		}
		if !strings.HasSuffix(be, "-loop") {
			for _, s := range benchShapes {
				lda, ldb := s.k, s.n
				if s.tA {
					lda = s.m
				}
				if s.tB {
					ldb = s.k
				}
				a, bb, c := randSlice(s.m*s.k), randSlice(s.k*s.n), make([]float32, s.m*s.n)
				sec := best(func() { Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n) })
				rows[s.name] = append(rows[s.name], fmt.Sprintf("%6.0f", 2*float64(s.m*s.n*s.k)/sec/1e9))
			}
		}
		for _, s := range benchBatched {
			lda, ldb := s.k, s.n
			if s.tA {
				lda = s.m
			}
			if s.tB {
				ldb = s.k
			}
			sA, sB, sC := s.m*s.k, s.k*s.n, s.m*s.n
			a, bb, c := randSlice(sA*s.batch), randSlice(sB*s.batch), make([]float32, sC*s.batch)
			batched := SgemmBatched
			if strings.HasSuffix(be, "-loop") {
				batched = loopBatched
			}
			sec := best(func() { batched(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n, s.batch, sA, sB, sC) })
			rows[s.name] = append(rows[s.name], fmt.Sprintf("%6.0f", 2*float64(s.m*s.n*s.k*s.batch)/sec/1e9))
		}
		current.Store(&prev)
	}
	fmt.Printf("GFLOP/s, best of %d, %d threads; columns:\n", reps, numThreads())
	for i, h := range order {
		fmt.Printf("  %d: %s\n", i+1, h)
	}
	for _, s := range benchShapes {
		fmt.Printf("%-22s %s\n", s.name, strings.Join(rows[s.name], " "))
	}
	for _, s := range benchBatched {
		fmt.Printf("%-22s %s\n", s.name, strings.Join(rows[s.name], " "))
	}
}
