package blas

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/pcx-dev/pcx/internal/workers"
)

// kernel is a register-blocked micro-kernel and the cache blocking that suits
// it.
type kernel struct {
	name   string
	mr, nr int // tile computed by full
	// mc×kc is the largest block of A packed at once (kept in L2), kc×nr a
	// panel of packed B (kept in L1), kc×nc the block of packed B shared by
	// the threads.
	mc, kc, nc int
	// full computes the mr×nr tile C = [Add +] Ap·Bp over kc (Add at add,
	// rows ldadd apart, when add is not nil: C itself to accumulate, a
	// bias with ldadd 0); half, when not nil, the mr×(nr/2) tile for a
	// narrow last panel of B.
	full func(kc int, a, b, c *float32, ldc int, add *float32, ldadd int)
	half func(kc int, a, b, c *float32, ldc int, add *float32, ldadd int)
	// fullA and halfA, when not nil, are full and half reading a whole
	// panel of A in place (row i at a + i·lda) instead of packed, with
	// the same values: they serve products with A not transposed and
	// alpha 1, which then pack only a last panel of fewer than mr rows.
	fullA, halfA func(kc int, a *float32, lda int, b, c *float32, ldc int, add *float32, ldadd int)
	// fullB and halfB read a whole panel of B in place (row p at b +
	// p·ldb) with A packed; fullAB and halfAB read both in place. They
	// serve products with B not transposed (and, for A, as above); a
	// last panel narrower than the kernel's is packed.
	fullB, halfB   func(kc int, a, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)
	fullAB, halfAB func(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)
	// fullT, halfT, fullTB and halfTB are fullA, halfA, fullAB and halfAB
	// for A stored transposed: column p of a panel at a + p·lda (mr
	// values in a row of the stored A).
	fullT, halfT   func(kc int, a *float32, lda int, b, c *float32, ldc int, add *float32, ldadd int)
	fullTB, halfTB func(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, add *float32, ldadd int)
}

// inPlaceB reports whether the product reads B's full panels in place.
func inPlaceB(kn *kernel, p *problem) bool {
	return kn.fullB != nil && !p.tB && p.alpha == 1
}

// inPlaceA reports whether the product reads A's full panels in place,
// by rows (A not transposed) or by columns (A transposed).
func inPlaceA(kn *kernel, p *problem) bool {
	if p.alpha != 1 {
		return false
	}
	if p.tA {
		return kn.fullT != nil
	}
	return kn.fullA != nil
}

// goBackend is the pure-Go SGEMM: GotoBLAS/BLIS-style packing and cache
// blocking around an assembly micro-kernel, parallel over blocks of C.
type goBackend struct {
	kern atomic.Pointer[kernel] // nil: best for this CPU
}

func (g *goBackend) kernel() *kernel {
	if k := g.kern.Load(); k != nil {
		return k
	}
	return kernels()[0]
}

func (g *goBackend) name() string {
	return fmt.Sprintf("go (%s, %d threads)", g.kernel().name, g.threads())
}

// setThreads: the Go backend reads the setting of SetThreads at each call.
func (g *goBackend) setThreads(int) {}

func (g *goBackend) threads() int { return numThreads() }

// useKernel selects a kernel by name ("" for the best); for tests and
// benchmarks, and for Use("go:avx2") and the like.
func (g *goBackend) useKernel(name string) error {
	if name == "" {
		g.kern.Store(nil)
		return nil
	}
	var names []string
	for _, k := range kernels() {
		if k.name == name || (name == "avx2" && k.name == "avx2+fma") {
			g.kern.Store(k)
			return nil
		}
		names = append(names, k.name)
	}
	return fmt.Errorf("blas: kernel %q not available on this CPU (have %v)", name, names)
}

// problem is one product with its operands.
type problem struct {
	tA, tB      bool
	m, n, k     int
	alpha, beta float32
	a           []float32
	lda         int
	b           []float32
	ldb         int
	c           []float32
	ldc         int
	// bias, when set, is written into each row of C just before a block
	// of C gets its first k block's product (beta is then 1): C = bias +
	// alpha·op(A)·op(B) with the values of copying bias into C first.
	bias []float32
}

// Work sizes, in multiply-adds (m·n·k, summed over a batch), that decide
// how the threads are used. Waking a goroutine on an idle core took 10-20 µs
// on the 2-core VM this was tuned on, so a call is split only when each
// thread gets several times that in work (2²² multiply-adds are about 40 µs
// on one core). Variables so that tests can force the parallel paths.
var (
	parallelMin = 1 << 22 // less work than this runs on the calling goroutine
	smallMax    = 1 << 22 // batched products this small run one per thread
)

// perProduct reports whether a batch of such products is best spread over nt
// threads one product each, rather than each product split across them.
func perProduct(m, n, k, batch, nt int) bool {
	size := m * n * k
	return size < parallelMin || (size <= smallMax && batch >= 2*nt)
}

func (g *goBackend) sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := problem{tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, beta: beta, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}
	g.run(&p)
}

// sgemmBias is SgemmBias on the Go kernels (k > 0, alpha != 0).
func (g *goBackend) sgemmBias(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	p := problem{tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, beta: 1, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, bias: bias}
	g.run(&p)
}

func (g *goBackend) run(p *problem) {
	gemm(g.kernel(), p, threadsFor(p.m*p.n*p.k, g.threads))
}

// threadsFor is the number of threads for work multiply-adds: 1 below
// parallelMin, else threads(). Small products, of which a step issues
// thousands, so never ask for the thread count: runtime.GOMAXPROCS takes
// the scheduler's lock, which the threads of a parallel region then
// contend for.
func threadsFor(work int, threads func() int) int {
	if work < parallelMin {
		return 1
	}
	return threads()
}

func (g *goBackend) batched(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, batch, sA, sB, sC int) {
	if k == 0 || alpha == 0 {
		// A and B are not read (and may be empty).
		for i := range batch {
			scaleC(m, n, beta, c[i*sC:], ldc)
		}
		return
	}
	kern := g.kernel()
	at := func(i int) problem {
		return problem{tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, beta: beta, a: a[i*sA:], lda: lda, b: b[i*sB:], ldb: ldb, c: c[i*sC:], ldc: ldc}
	}
	nt := min(threadsFor(m*n*k*batch, g.threads), batch)
	if nt <= 1 || !perProduct(m, n, k, batch, nt) {
		t := threadsFor(m*n*k, g.threads)
		for i := range batch {
			p := at(i)
			gemm(kern, &p, t)
		}
		return
	}
	var next atomic.Int64
	parallel(nt, func(int) {
		ws := getWorkspace(kern)
		defer putWorkspace(ws)
		for {
			i := int(next.Add(1) - 1)
			if i >= batch {
				return
			}
			p := at(i)
			gemmSerial(kern, &p, ws)
		}
	})
}

// parallel runs f(0), …, f(n-1) at the same time, f(0) on the calling
// goroutine, and returns when all have.
func parallel(n int, f func(w int)) { workers.Run(n, f) }

// scaleC sets C = beta·C (C = 0 when beta == 0, without reading C).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// workspace holds one thread's packing buffers.
type workspace struct {
	a   []float32 // packed block of A, mc×kc
	b   []float32 // packed block of B (serial runs only), kc×nc
	tmp []float32 // one mr×nr tile, for the edges
	kn  *kernel
}

var wsPool sync.Pool

func getWorkspace(kn *kernel) *workspace {
	if ws, ok := wsPool.Get().(*workspace); ok && ws.kn == kn && len(ws.a) >= kn.mc*kn.kc {
		return ws
	}
	return &workspace{
		a:   alignedFloats(kn.mc * kn.kc),
		tmp: alignedFloats(kn.mr * kn.nr),
		kn:  kn,
	}
}

func putWorkspace(ws *workspace) { wsPool.Put(ws) }

// alignedFloats returns n zeroed floats starting on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := (64 - int(uintptr(unsafe.Pointer(&s[0]))%64)) % 64 / 4
	return s[off : off+n : off+n]
}

// split divides n items into parts near-equal runs; it returns the start of
// run i (i = 0..parts).
func split(n, parts, i int) int { return n * i / parts }

// gemm runs one product on nt threads.
func gemm(kn *kernel, p *problem, nt int) {
	if p.k == 0 || p.alpha == 0 {
		scaleC(p.m, p.n, p.beta, p.c, p.ldc)
		return
	}
	if nt <= 1 {
		ws := getWorkspace(kn)
		gemmSerial(kn, p, ws)
		putWorkspace(ws)
		return
	}
	gemmParallel(kn, p, nt)
}

// kBlocks returns the number of blocks along k and the size of the largest.
func kBlocks(kn *kernel, k int) (int, int) {
	nb := (k + kn.kc - 1) / kn.kc
	return nb, (k + nb - 1) / nb
}

// firstAcc prepares C for the first k block (scaling it by beta) and says
// whether the kernel adds to C there rather than overwriting it.
func firstAcc(p *problem) bool {
	switch p.beta {
	case 0:
		return false
	case 1:
		return true
	}
	scaleC(p.m, p.n, p.beta, p.c, p.ldc)
	return true
}

// gemmSerial runs one product on the calling goroutine.
func gemmSerial(kn *kernel, p *problem, ws *workspace) {
	if p.k == 0 || p.alpha == 0 {
		scaleC(p.m, p.n, p.beta, p.c, p.ldc)
		return
	}
	acc0 := firstAcc(p)
	nkb, kcMax := kBlocks(kn, p.k)
	ncMax := min(kn.nc, roundUp(p.n, kn.nr))
	if need := kcMax * roundUp(ncMax, kn.nr); len(ws.b) < need {
		ws.b = alignedFloats(need)
	}
	mPanels := (p.m + kn.mr - 1) / kn.mr
	mcPanels := kn.mc / kn.mr
	for jc := 0; jc < p.n; jc += ncMax {
		nc := min(ncMax, p.n-jc)
		for kb := range nkb {
			pc := split(p.k, nkb, kb)
			kc := split(p.k, nkb, kb+1) - pc
			acc := acc0 || kb > 0
			packB(kn, p, pc, kc, jc, nc, ws.b, 0, (nc+kn.nr-1)/kn.nr)
			for ip := 0; ip < mPanels; ip += mcPanels {
				ic := ip * kn.mr
				mc := min(mcPanels*kn.mr, p.m-ic)
				packA(kn, p, ic, mc, pc, kc, ws.a)
				macro(kn, p, ws, ic, mc, jc, nc, 0, (nc+kn.nr-1)/kn.nr, pc, kc, ws.b, acc, kb == 0)
			}
		}
	}
}

// gemmParallel runs one product on nt goroutines: for each block of packed B
// (shared, packed by all of them), the blocks of C rows — or, when there are
// too few, blocks of rows × runs of B panels — are handed out dynamically.
// A product whose B is read in place, every panel of it, goes to
// gemmInPlaceB instead.
func gemmParallel(kn *kernel, p *problem, nt int) {
	acc0 := firstAcc(p)
	if allInPlaceB(kn, p) {
		gemmInPlaceB(kn, p, nt, acc0)
		return
	}
	nkb, kcMax := kBlocks(kn, p.k)
	ncMax := min(kn.nc, roundUp(p.n, kn.nr))
	bbuf := getBBuf(kcMax * roundUp(ncMax, kn.nr))
	defer putBBuf(bbuf)
	wss := getWorkspaces(kn, nt)
	defer putWorkspaces(wss)
	for jc := 0; jc < p.n; jc += ncMax {
		nc := min(ncMax, p.n-jc)
		g := newGrid(kn, p, nc, nt)
		for kb := range nkb {
			pc := split(p.k, nkb, kb)
			kc := split(p.k, nkb, kb+1) - pc
			acc := acc0 || kb > 0
			// Pack B, the panels shared out among the threads; of a B read
			// in place, only the narrow last panel.
			if parts := min(nt, g.nPanels); !inPlaceB(kn, p) {
				parallel(parts, func(w int) {
					packB(kn, p, pc, kc, jc, nc, bbuf.s, split(g.nPanels, parts, w), split(g.nPanels, parts, w+1))
				})
			} else {
				packB(kn, p, pc, kc, jc, nc, bbuf.s, g.nPanels-1, g.nPanels)
			}
			// Multiply.
			var next atomic.Int64
			parallel(min(nt, g.tasks()), func(w int) {
				ws := wss[w]
				packed := -1
				for {
					t := int(next.Add(1) - 1)
					if t >= g.tasks() {
						return
					}
					ib, jb := t/g.jChunks, t%g.jChunks
					ic, mc := g.rows(ib)
					if packed != ib {
						packA(kn, p, ic, mc, pc, kc, ws.a)
						packed = ib
					}
					jp0, jp1 := g.panels(jb)
					macro(kn, p, ws, ic, mc, jc, nc, jp0, jp1, pc, kc, bbuf.s, acc, kb == 0)
				}
			})
		}
	}
}

// allInPlaceB reports whether the product reads every panel of B in place:
// B neither transposed nor scaled, and no narrow last panel to pack.
func allInPlaceB(kn *kernel, p *problem) bool {
	if !inPlaceB(kn, p) || p.n == 0 {
		return false
	}
	// Only the last block of columns can end in a narrow panel: the
	// others are nc wide, a multiple of nr.
	ncMax := min(kn.nc, roundUp(p.n, kn.nr))
	nc := p.n - (p.n-1)/ncMax*ncMax
	w, cols := panelWidth(kn, nc, (nc-1)/kn.nr)
	return cols == w
}

// gemmInPlaceB runs a product whose B is read in place, every panel, on nt
// goroutines in one parallel region: with nothing to pack and share
// between k blocks, each task takes its block of C through every k block in
// order, as gemmParallel's tasks do one k block at a time, so the values
// are the same bit for bit. The threads do not wait for each other between
// k blocks, and a task's block of C stays in cache from one to the next.
func gemmInPlaceB(kn *kernel, p *problem, nt int, acc0 bool) {
	nkb, _ := kBlocks(kn, p.k)
	ncMax := min(kn.nc, roundUp(p.n, kn.nr))
	var grids []grid // per block of columns
	tasks := 0
	for jc := 0; jc < p.n; jc += ncMax {
		g := newGrid(kn, p, min(ncMax, p.n-jc), nt)
		grids = append(grids, g)
		tasks += g.tasks()
	}
	wss := getWorkspaces(kn, nt)
	defer putWorkspaces(wss)
	var next atomic.Int64
	parallel(min(nt, tasks), func(w int) {
		ws := wss[w]
		for {
			t := int(next.Add(1) - 1)
			if t >= tasks {
				return
			}
			jcb := 0
			for t >= grids[jcb].tasks() {
				t -= grids[jcb].tasks()
				jcb++
			}
			g, jc := grids[jcb], jcb*ncMax
			ib, jb := t/g.jChunks, t%g.jChunks
			ic, mc := g.rows(ib)
			jp0, jp1 := g.panels(jb)
			for kb := range nkb {
				pc := split(p.k, nkb, kb)
				kc := split(p.k, nkb, kb+1) - pc
				packA(kn, p, ic, mc, pc, kc, ws.a)
				macro(kn, p, ws, ic, mc, jc, g.nc, jp0, jp1, pc, kc, nil, acc0 || kb > 0, kb == 0)
			}
		}
	})
}

// grid is how a parallel product's block of nc columns is cut into tasks:
// icBlocks blocks of rows (of near-equal sizes, a multiple of the number of
// threads when there are rows enough, so that they share out evenly), each
// cut into jChunks runs of B panels when there are too few blocks of rows
// for the threads. Products of fewer than two row panels per thread are
// cut by columns alone: a thread given a panel of mr rows and another the
// few rows left over would wait for the first.
type grid struct {
	mr, m, nc, nPanels         int
	mPanels, icBlocks, jChunks int
}

func newGrid(kn *kernel, p *problem, nc, nt int) grid {
	g := grid{mr: kn.mr, m: p.m, nc: nc, nPanels: (nc + kn.nr - 1) / kn.nr}
	g.mPanels = (p.m + kn.mr - 1) / kn.mr
	mcPanels := kn.mc / kn.mr
	g.icBlocks = min(g.mPanels, roundUp((g.mPanels+mcPanels-1)/mcPanels, nt))
	if g.mPanels < 2*nt {
		g.icBlocks = 1
	}
	g.jChunks = 1
	if g.icBlocks < nt {
		g.jChunks = min(g.nPanels, (nt+g.icBlocks-1)/g.icBlocks)
	}
	return g
}

func (g grid) tasks() int { return g.icBlocks * g.jChunks }

// rows returns the first row and the number of rows of row block ib.
func (g grid) rows(ib int) (ic, mc int) {
	ic = split(g.mPanels, g.icBlocks, ib) * g.mr
	return ic, min(split(g.mPanels, g.icBlocks, ib+1)*g.mr, g.m) - ic
}

// panels returns the B panels [jp0, jp1) of run jb.
func (g grid) panels(jb int) (jp0, jp1 int) {
	return split(g.nPanels, g.jChunks, jb), split(g.nPanels, g.jChunks, jb+1)
}

// getWorkspaces returns a workspace for each of nt threads.
func getWorkspaces(kn *kernel, nt int) []*workspace {
	wss := make([]*workspace, nt)
	for i := range wss {
		wss[i] = getWorkspace(kn)
	}
	return wss
}

func putWorkspaces(wss []*workspace) {
	for _, ws := range wss {
		putWorkspace(ws)
	}
}

// bBuf is a shared buffer of packed B.
type bBuf struct{ s []float32 }

var bPool sync.Pool

func getBBuf(n int) *bBuf {
	if b, ok := bPool.Get().(*bBuf); ok && len(b.s) >= n {
		return b
	}
	return &bBuf{alignedFloats(n)}
}

func putBBuf(b *bBuf) { bPool.Put(b) }

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// panelWidth is the width packB gives to panel jp of a block of nc columns:
// nr, or nr/2 for a narrow last panel when the kernel has a half variant.
func panelWidth(kn *kernel, nc, jp int) (w, cols int) {
	cols = min(kn.nr, nc-jp*kn.nr)
	if cols <= kn.nr/2 && kn.half != nil {
		return kn.nr / 2, cols
	}
	return kn.nr, cols
}

// packB packs panels [jp0, jp1) of the kc×nc block of op(B) at (pc, jc) into
// dst: panel jp starts at dst[jp*nr*kc] and holds kc rows of w values
// (w = panelWidth), zero-padded past the last column.
func packB(kn *kernel, p *problem, pc, kc, jc, nc int, dst []float32, jp0, jp1 int) {
	inPlace := inPlaceB(kn, p)
	for jp := jp0; jp < jp1; jp++ {
		w, cols := panelWidth(kn, nc, jp)
		if inPlace && cols == w {
			continue // macro reads it from B
		}
		d := dst[jp*kn.nr*kc : jp*kn.nr*kc+w*kc]
		j0 := jc + jp*kn.nr
		if !p.tB {
			// Row i of the panel is b[(pc+i)*ldb + j0 : +cols].
			packCopy(d, w, p.b[pc*p.ldb+j0:], p.ldb, cols, kc, 1)
		} else {
			// Column j of the panel is b[(j0+j)*ldb + pc : +kc].
			packGather(d, w, p.b[j0*p.ldb+pc:], p.ldb, cols, kc, 1)
		}
	}
}

// packA packs the mc×kc block of alpha·op(A) at (ic, pc) into dst: panels of
// mr rows, panel ip at dst[ip*mr*kc] holding kc columns of mr values,
// zero-padded past the last row. When the kernel reads A in place
// (inPlaceA), only a last panel of fewer than mr rows is packed.
func packA(kn *kernel, p *problem, ic, mc, pc, kc int, dst []float32) {
	mr := kn.mr
	inPlace := inPlaceA(kn, p)
	for ip := 0; ip*mr < mc; ip++ {
		rows := min(mr, mc-ip*mr)
		if inPlace && rows == mr {
			continue // macro reads it from A
		}
		d := dst[ip*mr*kc : (ip+1)*mr*kc]
		i0 := ic + ip*mr
		if !p.tA {
			// Row r of the panel is a[(i0+r)*lda + pc : +kc].
			packGather(d, mr, p.a[i0*p.lda+pc:], p.lda, rows, kc, p.alpha)
		} else {
			// Column i of the panel is a[(pc+i)*lda + i0 : +rows].
			packCopy(d, mr, p.a[pc*p.lda+i0:], p.lda, rows, kc, p.alpha)
		}
	}
}

// packCopy sets d[i*w+j] = alpha·src[i*ld+j] for i < kc, j < cols, and
// d[i*w+j] = 0 for cols <= j < w.
func packCopy(d []float32, w int, src []float32, ld, cols, kc int, alpha float32) {
	d = d[:w*kc]
	copyRows(d, w, src, ld, cols, kc, alpha)
	if cols < w {
		for i := range kc {
			clear(d[i*w+cols : i*w+w])
		}
	}
}

// packGather sets d[i*w+r] = alpha·src[r*ld+i] for i < kc, r < rows, and
// d[i*w+r] = 0 for rows <= r < w: it turns rows of src into columns of d,
// eight rows at a time, then four.
func packGather(d []float32, w int, src []float32, ld, rows, kc int, alpha float32) {
	d = d[:w*kc]
	r := 0
	for ; r+8 <= rows; r += 8 {
		gather8(d[r:], w, src[r*ld:], ld, kc, alpha)
	}
	for ; r+4 <= rows; r += 4 {
		gather4(d[r:], w, src[r*ld:], ld, kc, alpha)
	}
	if r < rows && rows >= 4 {
		// The last rows as a block of four overlapping the previous one.
		r = rows - 4
		gather4(d[r:], w, src[r*ld:], ld, kc, alpha)
		r = rows
	}
	for ; r < rows; r++ {
		s := src[r*ld : r*ld+kc]
		for i, v := range s {
			d[i*w+r] = alpha * v
		}
	}
	if rows < w {
		for i := range kc {
			clear(d[i*w+rows : i*w+w])
		}
	}
}

// macro multiplies the mc×kc block of A by panels [jp0, jp1) of the block
// of B into C at (ic, jc), each operand packed or read in place (inPlaceA,
// inPlaceB); acc adds the product to C, and first says this is the first k
// block, whose product the kernels add to the bias, if any, instead.
func macro(kn *kernel, p *problem, ws *workspace, ic, mc, jc, nc, jp0, jp1, pc, kc int, bp []float32, acc, first bool) {
	mr, nr, ldc := kn.mr, kn.nr, p.ldc
	aIn, bIn := inPlaceA(kn, p), inPlaceB(kn, p)
	// aAt is the start in a of the tile of op(A) at row i, column pc.
	aAt := func(i int) *float32 {
		if p.tA {
			return &p.a[pc*p.lda+i]
		}
		return &p.a[i*p.lda+pc]
	}
	c := p.c
	bias := p.bias
	if !first {
		bias = nil
	}
	for jp := jp0; jp < jp1; jp++ {
		w, cols := panelWidth(kn, nc, jp)
		fn, fnA, fnB, fnAB := kn.full, kn.fullA, kn.fullB, kn.fullAB
		if p.tA {
			fnA, fnAB = kn.fullT, kn.fullTB
		}
		if w < nr {
			fn, fnA, fnB, fnAB = kn.half, kn.halfA, kn.halfB, kn.halfAB
			if p.tA {
				fnA, fnAB = kn.halfT, kn.halfTB
			}
		}
		j := jc + jp*nr
		var bPanel *float32
		bHere := bIn && cols == w // this panel read from B itself
		if bHere {
			// Bounds: B[pc+kc-1][j+w-1] is inside b.
			_ = p.b[(pc+kc-1)*p.ldb+j+w-1]
			bPanel = &p.b[pc*p.ldb+j]
		} else {
			bPanel = &bp[jp*nr*kc]
		}
		// tile computes the tile at row i into dst (row stride ld), adding
		// it to add (rows ldadd apart) when add is not nil.
		tile := func(i int, aHere bool, dst *float32, ld int, add *float32, ldadd int) {
			switch {
			case aHere && bHere:
				fnAB(kc, aAt(i), p.lda, bPanel, p.ldb, dst, ld, add, ldadd)
			case aHere:
				fnA(kc, aAt(i), p.lda, bPanel, dst, ld, add, ldadd)
			case bHere:
				fnB(kc, &ws.a[(i-ic)*kc], bPanel, p.ldb, dst, ld, add, ldadd)
			default:
				fn(kc, &ws.a[(i-ic)*kc], bPanel, dst, ld, add, ldadd)
			}
		}
		for ip := 0; ip*mr < mc; ip++ {
			rows := min(mr, mc-ip*mr)
			i := ic + ip*mr
			aHere := aIn && rows == mr
			if aHere {
				// Bounds: op(A)[i+mr-1][pc+kc-1] is inside a.
				if p.tA {
					_ = p.a[(pc+kc-1)*p.lda+i+mr-1]
				} else {
					_ = p.a[(i+mr-1)*p.lda+pc+kc-1]
				}
			}
			if rows == mr && cols == w {
				// Bounds: C[i+mr-1][j+w-1] is inside c (checked by checkArgs).
				_ = c[(i+mr-1)*ldc+j+w-1]
				switch {
				case bias != nil: // C = bias + product, bias's row added to each
					_ = bias[j+w-1]
					tile(i, aHere, &c[i*ldc+j], ldc, &bias[j], 0)
				case acc:
					tile(i, aHere, &c[i*ldc+j], ldc, &c[i*ldc+j], ldc)
				default:
					tile(i, aHere, &c[i*ldc+j], ldc, nil, 0)
				}
				continue
			}
			t := ws.tmp[:mr*w]
			tile(i, aHere, &t[0], w, nil, 0)
			for r := range rows {
				dst := c[(i+r)*ldc+j : (i+r)*ldc+j+cols]
				src := t[r*w : r*w+cols]
				if bias != nil {
					copy(dst, bias[j:j+cols])
				}
				if acc {
					for x, v := range src {
						dst[x] += v
					}
				} else {
					copy(dst, src)
				}
			}
		}
	}
}
