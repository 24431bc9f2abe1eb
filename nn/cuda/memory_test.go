package cuda

import (
	"errors"
	"testing"
)

// fakeMem is a device memory of a fixed capacity that counts its calls.
type fakeMem struct {
	next          uint64
	capacity      int64
	used          int64
	live          map[uint64]int64
	allocs, frees int
	syncs         int
}

func newFakeMem(capacity int64) *fakeMem {
	return &fakeMem{next: 1 << 20, capacity: capacity, live: map[uint64]int64{}}
}

func (m *fakeMem) memAlloc(b int64) (uint64, error) {
	if m.used+b > m.capacity {
		return 0, check("cuMemAlloc", ErrOutOfMemory)
	}
	p := m.next
	m.next += uint64(b)
	m.used += b
	m.live[p] = b
	m.allocs++
	return p, nil
}

func (m *fakeMem) memFree(p uint64) error {
	b, ok := m.live[p]
	if !ok {
		return errors.New("free of an unknown pointer")
	}
	delete(m.live, p)
	m.used -= b
	m.frees++
	return nil
}

func (m *fakeMem) synchronize() error { m.syncs++; return nil }

func TestSizeClass(t *testing.T) {
	for _, tc := range []struct{ n, want int64 }{
		{1, 512}, {512, 512}, {513, 640}, {1000, 1024}, {1024, 1024}, {1025, 1280}, {1500, 1536},
		{4096, 4096}, {4097, 5120}, {1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 1<<18}, {3 << 20, 3 << 20},
	} {
		if got := sizeClass(tc.n); got != tc.want {
			t.Errorf("sizeClass(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	for n := int64(1); n < 1<<22; n = n*5/4 + 1 {
		c := sizeClass(n)
		if c < n || (n > 512 && float64(c) > 1.25*float64(n)+1) {
			t.Errorf("sizeClass(%d) = %d wastes more than 25%%", n, c)
		}
	}
}

// step allocates and frees what one training step of a small model might:
// activations kept until backward, temporaries freed at once.
func step(t *testing.T, a *Allocator, s *Stream) {
	t.Helper()
	var keep []*Buffer
	for _, n := range []int{32 * 65 * 384, 32 * 65 * 1536, 32 * 65, 32 * 65, 40, 1} {
		b, err := a.Alloc(s, n)
		if err != nil {
			t.Fatal(err)
		}
		keep = append(keep, b)
		tmp, err := a.Alloc(s, n/2+1)
		if err != nil {
			t.Fatal(err)
		}
		if err := tmp.Free(); err != nil {
			t.Fatal(err)
		}
	}
	for i := len(keep) - 1; i >= 0; i-- {
		if err := keep[i].Free(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSteadyState: after the first step, steps reuse the cache and call
// the device allocator no more.
func TestSteadyState(t *testing.T) {
	m := newFakeMem(1 << 30)
	a := newAllocator(m)
	s := &Stream{}
	step(t, a, s)
	first := a.Stats()
	if first.DeviceAllocs == 0 || first.InUse != 0 || first.Cached == 0 {
		t.Fatalf("after one step: %+v", first)
	}
	for i := 0; i < 5; i++ {
		step(t, a, s)
	}
	st := a.Stats()
	if st.DeviceAllocs != first.DeviceAllocs || m.allocs != first.DeviceAllocs || m.frees != 0 {
		t.Errorf("steady state allocated: first step %d, after six %d (device %d allocs, %d frees)", first.DeviceAllocs, st.DeviceAllocs, m.allocs, m.frees)
	}
	if st.Reuses < 5*12 || st.Peak != first.Peak {
		t.Errorf("stats %+v (first %+v)", st, first)
	}
	if err := a.EmptyCache(); err != nil {
		t.Fatal(err)
	}
	if m.used != 0 || len(m.live) != 0 || a.Stats().Cached != 0 || m.syncs != 1 {
		t.Errorf("EmptyCache left %d bytes, %d blocks; %d syncs", m.used, len(m.live), m.syncs)
	}
}

// TestPerStream: a block freed on one stream is not handed to another
// without a synchronisation.
func TestPerStream(t *testing.T) {
	m := newFakeMem(1 << 30)
	a := newAllocator(m)
	s1, s2 := &Stream{}, &Stream{}
	b, _ := a.Alloc(s1, 1000)
	p := b.Ptr()
	b.Free()
	b2, _ := a.Alloc(s2, 1000)
	if b2.Ptr() == p || m.allocs != 2 {
		t.Errorf("stream 2 got stream 1's block")
	}
	b3, _ := a.Alloc(s1, 900) // same class
	if b3.Ptr() != p || m.allocs != 2 {
		t.Errorf("stream 1 did not reuse its block")
	}
	if b3.Len() != 900 || b3.Bytes() != 3600 {
		t.Errorf("len %d bytes %d", b3.Len(), b3.Bytes())
	}
	b3.Free()
	if err := a.forgetStream(s1); err != nil || m.frees != 1 {
		t.Errorf("forgetStream: %v, %d frees", err, m.frees)
	}
}

// TestOutOfMemoryFlush: when the device is full, the cache is returned
// (after a synchronisation) and the allocation retried; when that is not
// enough, the error says how much was asked for.
func TestOutOfMemoryFlush(t *testing.T) {
	m := newFakeMem(8 << 20)
	a := newAllocator(m)
	s := &Stream{}
	x, err := a.Alloc(s, 1<<20) // 4 MiB
	if err != nil {
		t.Fatal(err)
	}
	x.Free()                    // cached, still on the device
	y, err := a.Alloc(s, 3<<19) // 6 MiB: fits only once the cache is gone
	if err != nil {
		t.Fatalf("no flush: %v", err)
	}
	if st := a.Stats(); st.Flushes != 1 || m.syncs != 1 || st.Cached != 0 {
		t.Errorf("stats %+v, %d syncs", st, m.syncs)
	}
	_, err = a.Alloc(s, 1<<20)
	if !IsResult(err, ErrOutOfMemory) || err.Error() != "cuda: cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (out of GPU memory) (allocating 4.0 MiB; 6.0 MiB in use, 0 B cached)" {
		t.Errorf("err = %v", err)
	}
	y.Free()
}

func TestBufferMisuse(t *testing.T) {
	a := newAllocator(newFakeMem(1 << 30))
	s := &Stream{}
	if _, err := a.Alloc(s, -1); err == nil {
		t.Error("negative size")
	}
	z, err := a.Alloc(s, 0)
	if err != nil || z.Ptr() != 0 || z.Len() != 0 {
		t.Errorf("empty buffer: %v %v", z, err)
	}
	b, _ := a.Alloc(s, 10)
	v, err := b.Slice(2, 5)
	if err != nil || v.Ptr() != b.Ptr()+8 || v.Len() != 3 {
		t.Fatalf("slice %v %v", v, err)
	}
	if err := v.Free(); err != nil || a.Stats().InUse == 0 {
		t.Error("freeing a view freed its parent")
	}
	for _, r := range [][2]int{{-1, 2}, {3, 2}, {0, 11}} {
		if _, err := b.Slice(r[0], r[1]); err == nil {
			t.Errorf("Slice%v accepted", r)
		}
	}
	if err := b.Free(); err != nil {
		t.Fatal(err)
	}
	if err := b.Free(); err == nil {
		t.Error("double free accepted")
	}
	if _, err := b.Slice(0, 1); err == nil {
		t.Error("slice of a freed buffer")
	}
	var nb *Buffer
	if nb.Len() != 0 || nb.Ptr() != 0 || nb.Free() != nil || nb.String() != "Buffer(nil)" {
		t.Error("nil buffer")
	}
	if _, err := nb.Slice(0, 0); err == nil {
		t.Error("slice of nil")
	}
}
