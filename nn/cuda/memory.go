package cuda

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
)

// Buffer is an array of 32-bit values (float32 or int32) in device memory.
// Buffers come from an Allocator (Stream.Alloc) or are views of one
// (Slice). The zero-length buffer has no device memory.
type Buffer struct {
	ptr    uint64
	n      int // 32-bit elements
	owner  *Allocator
	stream *Stream // the stream whose free list takes it back
	class  int64   // bytes actually reserved
	freed  bool
	view   bool
}

// Ptr is the device address (CUdeviceptr).
func (b *Buffer) Ptr() uint64 {
	if b == nil {
		return 0
	}
	return b.ptr
}

// Len is the number of 32-bit elements.
func (b *Buffer) Len() int {
	if b == nil {
		return 0
	}
	return b.n
}

// Bytes is the size in bytes.
func (b *Buffer) Bytes() int64 { return 4 * int64(b.Len()) }

// String describes the buffer for messages.
func (b *Buffer) String() string {
	if b == nil {
		return "Buffer(nil)"
	}
	return fmt.Sprintf("Buffer(%#x, %d)", b.ptr, b.n)
}

// Slice returns a view of elements lo..hi-1, sharing the memory; a view is
// never freed (free its parent).
func (b *Buffer) Slice(lo, hi int) (*Buffer, error) {
	if b == nil {
		return nil, errors.New("cuda: Slice of a nil buffer")
	}
	if b.freed {
		return nil, errors.New("cuda: Slice of a freed buffer")
	}
	if lo < 0 || hi < lo || hi > b.n {
		return nil, fmt.Errorf("cuda: Slice [%d, %d) of %d elements", lo, hi, b.n)
	}
	return &Buffer{ptr: b.ptr + 4*uint64(lo), n: hi - lo, view: true, stream: b.stream}, nil
}

// Free gives the buffer back to its allocator's cache for reuse by later
// allocations on the same stream (work queued on that stream before the
// free is ordered before any reuse). Freeing twice is an error; freeing a
// view or nil does nothing.
func (b *Buffer) Free() error {
	if b == nil || b.view || b.owner == nil {
		return nil
	}
	return b.owner.release(b)
}

// devMem is what the allocator needs from a device, injected for tests.
type devMem interface {
	memAlloc(bytes int64) (uint64, error)
	memFree(ptr uint64) error
	// synchronize waits for all queued work (before cached memory that
	// may still be in use by it is returned to the device).
	synchronize() error
}

// AllocStats counts the allocator's work.
type AllocStats struct {
	// DeviceAllocs and DeviceFrees count calls to cuMemAlloc and
	// cuMemFree; in a training loop's steady state they stop growing.
	DeviceAllocs, DeviceFrees int
	// Reuses counts allocations served from the cache.
	Reuses int
	// InUse and Cached are the bytes handed out and held for reuse; Peak
	// is the largest InUse+Cached seen (the device memory the allocator
	// held at its high-water mark, as torch.cuda.max_memory_reserved) and
	// PeakInUse the largest InUse (as torch.cuda.max_memory_allocated, but
	// counted in size classes).
	InUse, Cached, Peak, PeakInUse int64
	// Flushes counts the times the cache was emptied to satisfy an
	// allocation that ran out of memory.
	Flushes int
}

// Allocator is a caching device-memory allocator: freed buffers go to a
// free list per (stream, size class) and later allocations of the same
// class on the same stream reuse them, so a training step that repeats the
// same allocations calls cuMemAlloc only during the first step.
//
// Size classes: requests are rounded up to 512 bytes, and above that to
// four classes per power of two (at most 25% waste). A buffer is reused
// only by the stream it was freed on, whose queued work is ordered before
// the reuse; memory never moves between streams without a synchronisation
// (EmptyCache). When cuMemAlloc reports out of memory, the allocator waits
// for the device, returns every cached block and tries once more.
type Allocator struct {
	mu    sync.Mutex
	mem   devMem
	free  map[freeKey][]uint64
	stats AllocStats
}

type freeKey struct {
	stream *Stream
	class  int64
}

func newAllocator(mem devMem) *Allocator {
	return &Allocator{mem: mem, free: map[freeKey][]uint64{}}
}

// sizeClass returns the bytes reserved for a request of n bytes.
func sizeClass(n int64) int64 {
	if n <= 512 {
		return 512
	}
	p := int64(1) << (63 - bits.LeadingZeros64(uint64(n))) // largest power of two ≤ n
	step := p / 4
	return (n + step - 1) / step * step
}

// Alloc returns a buffer of n 32-bit elements for use on stream s (its
// contents are undefined).
func (a *Allocator) Alloc(s *Stream, n int) (*Buffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("cuda: Alloc of %d elements", n)
	}
	if n == 0 {
		return &Buffer{owner: a, stream: s}, nil
	}
	if int64(n) > (1<<62)/4 {
		return nil, fmt.Errorf("cuda: Alloc of %d elements is too large", n)
	}
	class := sizeClass(4 * int64(n))
	k := freeKey{s, class}
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.free[k]; len(l) > 0 {
		p := l[len(l)-1]
		a.free[k] = l[:len(l)-1]
		a.stats.Reuses++
		a.stats.Cached -= class
		a.stats.InUse += class
		a.stats.PeakInUse = max(a.stats.PeakInUse, a.stats.InUse)
		return &Buffer{ptr: p, n: n, owner: a, stream: s, class: class}, nil
	}
	p, err := a.mem.memAlloc(class)
	if err != nil && IsResult(err, ErrOutOfMemory) && a.stats.Cached > 0 {
		if ferr := a.flushLocked(); ferr != nil {
			return nil, ferr
		}
		a.stats.Flushes++
		p, err = a.mem.memAlloc(class)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (allocating %s; %s in use, %s cached)", err, human(class), human(a.stats.InUse), human(a.stats.Cached))
	}
	a.stats.DeviceAllocs++
	a.stats.InUse += class
	a.stats.Peak = max(a.stats.Peak, a.stats.InUse+a.stats.Cached)
	a.stats.PeakInUse = max(a.stats.PeakInUse, a.stats.InUse)
	return &Buffer{ptr: p, n: n, owner: a, stream: s, class: class}, nil
}

func (a *Allocator) release(b *Buffer) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if b.freed {
		return fmt.Errorf("cuda: %v freed twice", b)
	}
	b.freed = true
	if b.n == 0 {
		return nil
	}
	k := freeKey{b.stream, b.class}
	a.free[k] = append(a.free[k], b.ptr)
	a.stats.InUse -= b.class
	a.stats.Cached += b.class
	return nil
}

// EmptyCache waits for the device and returns every cached block to it.
func (a *Allocator) EmptyCache() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.flushLocked()
}

// forgetStream returns the blocks cached for a stream being destroyed.
func (a *Allocator) forgetStream(s *Stream) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for k, l := range a.free {
		if k.stream != s {
			continue
		}
		for _, p := range l {
			errs = append(errs, a.mem.memFree(p))
			a.stats.DeviceFrees++
			a.stats.Cached -= k.class
		}
		delete(a.free, k)
	}
	return errors.Join(errs...)
}

func (a *Allocator) flushLocked() error {
	if len(a.free) == 0 {
		return nil
	}
	if err := a.mem.synchronize(); err != nil {
		return err
	}
	var errs []error
	for k, l := range a.free {
		for _, p := range l {
			errs = append(errs, a.mem.memFree(p))
			a.stats.DeviceFrees++
			a.stats.Cached -= k.class
		}
		delete(a.free, k)
	}
	return errors.Join(errs...)
}

// Stats returns a snapshot of the counters.
func (a *Allocator) Stats() AllocStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// human formats a byte count.
func human(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
