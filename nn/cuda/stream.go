package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Stream is an ordered queue of GPU work (CUstream, created non-blocking).
// Kernels, products and copies queued on one stream run in order; streams
// run concurrently with each other. pcx's operations are methods of
// Stream (ops.go).
type Stream struct {
	dev *Device
	h   uintptr
	// gone is set by Destroy.
	gone bool
}

// NewStream creates a stream.
func (d *Device) NewStream() (*Stream, error) {
	s := &Stream{dev: d}
	if d.fake == nil {
		if err := d.with(func() error {
			return d.drv.call("cuStreamCreate", d.drv.cuStreamCreate(&s.h, streamNonBlocking))
		}); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	d.streams[s] = true
	d.mu.Unlock()
	return s, nil
}

// Device is the stream's device.
func (s *Stream) Device() *Device { return s.dev }

// Synchronize waits for the stream's work to finish; an error of an
// earlier asynchronous operation (a kernel fault) is reported here.
func (s *Stream) Synchronize() error {
	if s.dev.fake != nil {
		return nil
	}
	return s.dev.with(func() error { return s.dev.drv.call("cuStreamSynchronize", s.dev.drv.cuStreamSynchronize(s.h)) })
}

// Destroy waits for the stream, returns its cached memory and destroys it.
func (s *Stream) Destroy() error {
	if s.gone {
		return nil
	}
	err := s.Synchronize()
	s.gone = true
	err = errors.Join(err, s.dev.alloc.forgetStream(s))
	if s.dev.fake == nil {
		err = errors.Join(err, s.dev.with(func() error {
			return s.dev.drv.call("cuStreamDestroy", s.dev.drv.cuStreamDestroy(s.h))
		}))
	}
	s.dev.mu.Lock()
	delete(s.dev.streams, s)
	s.dev.mu.Unlock()
	return err
}

// Alloc returns a buffer of n 32-bit elements from the device's caching
// allocator, for use on this stream.
func (s *Stream) Alloc(n int) (*Buffer, error) { return s.dev.alloc.Alloc(s, n) }

// Wait makes the stream's later work wait for the event (recorded on any
// stream of the device), without blocking the host.
func (s *Stream) Wait(e *Event) error {
	if e == nil {
		return errors.New("cuda: Wait on a nil event")
	}
	if s.dev.fake != nil {
		return nil
	}
	return s.dev.with(func() error { return s.dev.drv.call("cuStreamWaitEvent", s.dev.drv.cuStreamWaitEvent(s.h, e.h, 0)) })
}

// Event marks a point in a stream's work.
type Event struct {
	dev *Device
	h   uintptr
}

// NewEvent creates an event; timing events can measure elapsed time.
func (d *Device) NewEvent(timing bool) (*Event, error) {
	e := &Event{dev: d}
	flags := uint32(eventDisableTiming)
	if timing {
		flags = eventDefault
	}
	if d.fake != nil {
		return e, nil
	}
	err := d.with(func() error { return d.drv.call("cuEventCreate", d.drv.cuEventCreate(&e.h, flags)) })
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Record marks the current end of the stream's work.
func (e *Event) Record(s *Stream) error {
	if s == nil {
		return errors.New("cuda: Record on a nil stream")
	}
	if e.dev.fake != nil {
		return nil
	}
	return e.dev.with(func() error { return e.dev.drv.call("cuEventRecord", e.dev.drv.cuEventRecord(e.h, s.h)) })
}

// Synchronize blocks until the work before the event is done.
func (e *Event) Synchronize() error {
	if e.dev.fake != nil {
		return nil
	}
	return e.dev.with(func() error { return e.dev.drv.call("cuEventSynchronize", e.dev.drv.cuEventSynchronize(e.h)) })
}

// Done reports whether the work before the event has finished.
func (e *Event) Done() (bool, error) {
	if e.dev.fake != nil {
		return true, nil
	}
	var r Result
	err := e.dev.with(func() error { r = e.dev.drv.cuEventQuery(e.h); return nil })
	if err != nil {
		return false, err
	}
	if r == ErrNotReady {
		return false, nil
	}
	return r == Success, e.dev.drv.call("cuEventQuery", r)
}

// Elapsed returns the milliseconds between two recorded timing events.
func (e *Event) Elapsed(end *Event) (float32, error) {
	var ms float32
	if e.dev.fake != nil {
		return 0, nil
	}
	err := e.dev.with(func() error {
		return e.dev.drv.call("cuEventElapsedTime", e.dev.drv.cuEventElapsedTime(&ms, e.h, end.h))
	})
	return ms, err
}

// Destroy frees the event.
func (e *Event) Destroy() error {
	if e.dev.fake != nil || e.h == 0 {
		return nil
	}
	h := e.h
	e.h = 0
	return e.dev.with(func() error { return e.dev.drv.call("cuEventDestroy", e.dev.drv.cuEventDestroy(h)) })
}

// HostBuffer is page-locked ("pinned") host memory, which asynchronous
// copies need: the GPU reads and writes it by DMA while the host goes on.
type HostBuffer struct {
	dev *Device
	p   unsafe.Pointer
	n   int
}

// AllocHost returns n 32-bit elements of pinned host memory.
func (d *Device) AllocHost(n int) (*HostBuffer, error) {
	if n <= 0 {
		return nil, fmt.Errorf("cuda: AllocHost of %d elements", n)
	}
	if d.fake != nil {
		return nil, errors.New("cuda: AllocHost without a device")
	}
	h := &HostBuffer{dev: d, n: n}
	err := d.with(func() error {
		return d.drv.call("cuMemAllocHost "+human(4*int64(n)), d.drv.cuMemAllocHost(&h.p, 4*uint64(n)))
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Float32s is the memory as float32 values (valid until Free).
func (h *HostBuffer) Float32s() []float32 { return unsafe.Slice((*float32)(h.p), h.n) }

// Int32s is the memory as int32 values (valid until Free).
func (h *HostBuffer) Int32s() []int32 { return unsafe.Slice((*int32)(h.p), h.n) }

// Len is the number of 32-bit elements.
func (h *HostBuffer) Len() int { return h.n }

// Free releases the pinned memory.
func (h *HostBuffer) Free() error {
	if h.p == nil {
		return nil
	}
	p := h.p
	h.p, h.n = nil, 0
	return h.dev.with(func() error { return h.dev.drv.call("cuMemFreeHost", h.dev.drv.cuMemFreeHost(p)) })
}

// checkCopy validates a copy of n elements at offset off of a device
// buffer.
func checkCopy(op string, b *Buffer, off, n int) error {
	if b == nil {
		return fmt.Errorf("cuda: %s with a nil buffer", op)
	}
	if b.freed {
		return fmt.Errorf("cuda: %s with a freed buffer", op)
	}
	if off < 0 || n < 0 || off+n > b.n {
		return fmt.Errorf("cuda: %s of %d elements at %d into %d", op, n, off, b.n)
	}
	return nil
}

// copyIn queues a host-to-device copy of n elements at src into dst at off.
func (s *Stream) copyIn(op string, dst *Buffer, off int, src unsafe.Pointer, n int) error {
	if n == 0 || s.dev.fake != nil {
		return nil
	}
	return s.dev.with(func() error {
		return s.dev.drv.call(op, s.dev.drv.cuMemcpyHtoDAsync(dst.ptr+4*uint64(off), src, 4*uint64(n), s.h))
	})
}

func (s *Stream) copyOut(op string, dst unsafe.Pointer, src *Buffer, off, n int) error {
	if n == 0 || s.dev.fake != nil {
		return nil
	}
	return s.dev.with(func() error {
		return s.dev.drv.call(op, s.dev.drv.cuMemcpyDtoHAsync(dst, src.ptr+4*uint64(off), 4*uint64(n), s.h))
	})
}

// Upload copies src into dst (len(src) elements from its start) and waits
// for the copy: src may be reused at once.
func (s *Stream) Upload(dst *Buffer, src []float32) error {
	if err := checkCopy("Upload", dst, 0, len(src)); err != nil || len(src) == 0 {
		return err
	}
	err := s.copyIn("cuMemcpyHtoDAsync", dst, 0, unsafe.Pointer(&src[0]), len(src))
	if err == nil {
		err = s.Synchronize()
	}
	runtime.KeepAlive(src)
	return err
}

// UploadInt32 is Upload for int32 data (indices, labels).
func (s *Stream) UploadInt32(dst *Buffer, src []int32) error {
	if err := checkCopy("UploadInt32", dst, 0, len(src)); err != nil || len(src) == 0 {
		return err
	}
	err := s.copyIn("cuMemcpyHtoDAsync", dst, 0, unsafe.Pointer(&src[0]), len(src))
	if err == nil {
		err = s.Synchronize()
	}
	runtime.KeepAlive(src)
	return err
}

// Download waits for the stream's work and copies src (len(dst) elements
// from its start) into dst.
func (s *Stream) Download(dst []float32, src *Buffer) error {
	if err := checkCopy("Download", src, 0, len(dst)); err != nil || len(dst) == 0 {
		return err
	}
	err := s.copyOut("cuMemcpyDtoHAsync", unsafe.Pointer(&dst[0]), src, 0, len(dst))
	if err == nil {
		err = s.Synchronize()
	}
	runtime.KeepAlive(dst)
	return err
}

// DownloadInt32 is Download for int32 data.
func (s *Stream) DownloadInt32(dst []int32, src *Buffer) error {
	if err := checkCopy("DownloadInt32", src, 0, len(dst)); err != nil || len(dst) == 0 {
		return err
	}
	err := s.copyOut("cuMemcpyDtoHAsync", unsafe.Pointer(&dst[0]), src, 0, len(dst))
	if err == nil {
		err = s.Synchronize()
	}
	runtime.KeepAlive(dst)
	return err
}

// UploadAsync queues a copy of n elements of pinned host memory (from
// hostOff) into dst (at off) and returns at once; src must not change until
// the stream has passed the copy (record an event after it).
func (s *Stream) UploadAsync(dst *Buffer, off int, src *HostBuffer, hostOff, n int) error {
	if err := checkCopy("UploadAsync", dst, off, n); err != nil {
		return err
	}
	if src == nil || hostOff < 0 || hostOff+n > src.n {
		return fmt.Errorf("cuda: UploadAsync of %d elements from %d of a host buffer of %d", n, hostOff, src.Len())
	}
	return s.copyIn("cuMemcpyHtoDAsync", dst, off, unsafe.Add(src.p, 4*hostOff), n)
}

// DownloadAsync queues a copy of n elements of src (from off) into pinned
// host memory (at hostOff); the data is there once the stream passes it.
func (s *Stream) DownloadAsync(dst *HostBuffer, hostOff int, src *Buffer, off, n int) error {
	if err := checkCopy("DownloadAsync", src, off, n); err != nil {
		return err
	}
	if dst == nil || hostOff < 0 || hostOff+n > dst.n {
		return fmt.Errorf("cuda: DownloadAsync of %d elements to %d of a host buffer of %d", n, hostOff, dst.Len())
	}
	return s.copyOut("cuMemcpyDtoHAsync", unsafe.Add(dst.p, 4*hostOff), src, off, n)
}

// Copy queues a device-to-device copy of src into dst (equal lengths).
func (s *Stream) Copy(dst, src *Buffer) error {
	if dst == nil || src == nil || dst.n != src.n {
		return fmt.Errorf("cuda: Copy from %v to %v", src, dst)
	}
	if src.n == 0 || s.dev.fake != nil {
		return nil
	}
	return s.dev.with(func() error {
		return s.dev.drv.call("cuMemcpyDtoDAsync", s.dev.drv.cuMemcpyDtoDAsync(dst.ptr, src.ptr, 4*uint64(src.n), s.h))
	})
}

// Zero queues the clearing of b (every 32-bit element to 0).
func (s *Stream) Zero(b *Buffer) error {
	if b == nil {
		return errors.New("cuda: Zero of a nil buffer")
	}
	if b.n == 0 || s.dev.fake != nil {
		return nil
	}
	return s.dev.with(func() error {
		return s.dev.drv.call("cuMemsetD32Async", s.dev.drv.cuMemsetD32Async(b.ptr, 0, uint64(b.n), s.h))
	})
}

// Prefetcher overlaps host-to-device copies with compute, for the data
// loader: Put stages a batch in pinned memory and queues its copy on a
// stream of its own, returning at once; the batch's consumer calls
// Pending.Take on its compute stream, which waits for the copy on the GPU
// (not on the host). Staging buffers are reused round-robin once their
// copy has finished, so at most depth batches are in flight.
type Prefetcher struct {
	copy  *Stream
	mu    sync.Mutex
	slots []*prefetchSlot
	next  int
}

type prefetchSlot struct {
	host *HostBuffer
	done *Event
	used bool
}

// NewPrefetcher creates a prefetcher with depth staging buffers of n
// elements each.
func (d *Device) NewPrefetcher(depth, n int) (*Prefetcher, error) {
	if depth < 1 || n < 1 {
		return nil, fmt.Errorf("cuda: prefetcher of depth %d for %d elements", depth, n)
	}
	s, err := d.NewStream()
	if err != nil {
		return nil, err
	}
	p := &Prefetcher{copy: s}
	for i := 0; i < depth; i++ {
		h, err := d.AllocHost(n)
		if err != nil {
			p.Close()
			return nil, err
		}
		e, err := d.NewEvent(false)
		if err != nil {
			h.Free()
			p.Close()
			return nil, err
		}
		p.slots = append(p.slots, &prefetchSlot{host: h, done: e})
	}
	return p, nil
}

// Pending is a batch whose copy is queued.
type Pending struct {
	buf  *Buffer
	done *Event
}

// Put copies data into the next staging buffer (waiting, on the host, for
// that buffer's previous copy to finish) and queues its upload into a new
// device buffer.
func (p *Prefetcher) Put(data []float32) (*Pending, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sl := p.slots[p.next]
	p.next = (p.next + 1) % len(p.slots)
	if len(data) > sl.host.Len() {
		return nil, fmt.Errorf("cuda: prefetch of %d elements into staging buffers of %d", len(data), sl.host.Len())
	}
	if sl.used {
		if err := sl.done.Synchronize(); err != nil {
			return nil, err
		}
	}
	copy(sl.host.Float32s(), data)
	buf, err := p.copy.Alloc(len(data))
	if err != nil {
		return nil, err
	}
	if err := p.copy.UploadAsync(buf, 0, sl.host, 0, len(data)); err != nil {
		buf.Free()
		return nil, err
	}
	if err := sl.done.Record(p.copy); err != nil {
		return nil, err
	}
	sl.used = true
	return &Pending{buf: buf, done: sl.done}, nil
}

// Take makes s wait for the copy and returns the device buffer, now owned
// by s (free it on s's side when done).
func (pd *Pending) Take(s *Stream) (*Buffer, error) {
	if err := s.Wait(pd.done); err != nil {
		return nil, err
	}
	pd.buf.stream = s
	return pd.buf, nil
}

// Close waits for the copies and frees the staging memory.
func (p *Prefetcher) Close() error {
	var errs []error
	errs = append(errs, p.copy.Destroy())
	for _, sl := range p.slots {
		errs = append(errs, sl.host.Free(), sl.done.Destroy())
	}
	return errors.Join(errs...)
}
