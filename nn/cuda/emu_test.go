package cuda

import (
	"os"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn/cuda/emu"
)

func TestMain(m *testing.M) {
	code := m.Run()
	emu.Cleanup()
	os.Exit(code)
}

// emuDevice opens the CPU emulator (testdata/emu) through the real
// discovery, purego bindings and module loading; it skips without a C++
// compiler.
func emuDevice(t *testing.T) *Device {
	t.Helper()
	dir := emu.Dir(t)
	d, err := Open(Options{Libs: LibOptions{Dirs: []string{dir}, Only: true}, IgnoreEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

func TestEmuSmoke(t *testing.T) {
	d := emuDevice(t)
	if d.Info().Name != "pcx CPU emulator" || d.Info().Major != 8 {
		t.Fatalf("info %+v", d.Info())
	}
	s := d.Stream()
	a, _ := s.Alloc(5)
	b, _ := s.Alloc(5)
	out, _ := s.Alloc(5)
	if err := s.Upload(a, []float32{1, 2, 3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	if err := s.Upload(b, []float32{10, 20, 30, 40, 50}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(out, a, b); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 5)
	if err := s.Download(got, out); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != float32(11*(i+1)) {
			t.Fatalf("Add = %v", got)
		}
	}
	t.Log(d)
}

// TestEmuFaults: what the emulator catches comes back as readable driver
// errors through the real bindings: a kernel writing past its buffer, a
// pointer that is not device memory, and an allocation larger than the
// device.
func TestEmuFaults(t *testing.T) {
	d := emuDevice(t)
	s := d.Stream()
	x, err := s.Alloc(100)
	if err != nil {
		t.Fatal(err)
	}
	// Bypass the wrapper's check: fill 140 elements of a 100-element
	// buffer (its size class holds 128; the emulator's guard zone 64 more).
	err = s.run("pcx_fill", blocks1(140, 256), newArgs("test").buf("out", x, 100).f32(1).int("n", 140))
	if !IsResult(err, 700) || !strings.Contains(err.Error(), "cuLaunchKernel pcx_fill: CUDA_ERROR_ILLEGAL_ADDRESS") {
		t.Errorf("out-of-bounds write: %v", err)
	}
	x.Free()
	bogus := &Buffer{ptr: 0x10, n: 4}
	if err := s.Fill(bogus, 1); !IsResult(err, 700) {
		t.Errorf("pointer outside device memory: %v", err)
	}
	_, err = s.Alloc(400 << 20) // 1.6 GB on a 1 GiB emulated device
	if !IsResult(err, ErrOutOfMemory) || !strings.Contains(err.Error(), "CUDA_ERROR_OUT_OF_MEMORY (out of GPU memory) (allocating 1.75 GiB") {
		t.Errorf("oversized allocation: %v", err)
	}
	free, total, err := d.MemInfo()
	if err != nil || total != 1<<30 || free <= 0 || free > total {
		t.Errorf("MemInfo %d %d %v", free, total, err)
	}
}

// TestEmuCopies: synchronous and asynchronous copies, pinned memory,
// events and the prefetcher, through the real driver bindings.
func TestEmuCopies(t *testing.T) {
	d := emuDevice(t)
	s := d.Stream()
	h, err := d.AllocHost(8)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Free()
	for i := range h.Float32s() {
		h.Float32s()[i] = float32(i)
	}
	b, _ := s.Alloc(8)
	c, _ := s.Alloc(8)
	ev, err := d.NewEvent(true)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Destroy()
	if err := s.UploadAsync(b, 2, h, 0, 6); err != nil {
		t.Fatal(err)
	}
	if err := s.Zero(c); err != nil {
		t.Fatal(err)
	}
	if err := s.Copy(c, b); err != nil {
		t.Fatal(err)
	}
	if err := ev.Record(s); err != nil {
		t.Fatal(err)
	}
	if err := ev.Synchronize(); err != nil {
		t.Fatal(err)
	}
	if done, err := ev.Done(); !done || err != nil {
		t.Errorf("event done %v %v", done, err)
	}
	got := make([]float32, 8)
	if err := s.Download(got[:6], c); err != nil {
		t.Fatal(err)
	}
	if got[2] != 0 || got[3] != 1 || got[5] != 3 {
		t.Errorf("copies: %v", got)
	}
	if err := s.DownloadAsync(h, 0, c, 2, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Synchronize(); err != nil || h.Float32s()[0] != 0 || h.Float32s()[2] != 2 {
		t.Errorf("DownloadAsync: %v %v", h.Float32s(), err)
	}
	if err := s.UploadAsync(b, 4, h, 0, 6); err == nil {
		t.Error("UploadAsync past the end accepted")
	}
	// Prefetcher: three batches through two staging buffers, taken on a
	// second stream.
	p, err := d.NewPrefetcher(2, 4)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := d.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		data := []float32{float32(i), 1, 2, 3}
		pd, err := p.Put(data)
		if err != nil {
			t.Fatal(err)
		}
		buf, err := pd.Take(s2)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, 4)
		if err := s2.Download(out, buf); err != nil || out[0] != float32(i) || out[3] != 3 {
			t.Errorf("batch %d: %v %v", i, out, err)
		}
		buf.Free()
	}
	if _, err := p.Put(make([]float32, 5)); err == nil {
		t.Error("oversized batch accepted")
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
	if err := s2.Destroy(); err != nil {
		t.Error(err)
	}
}

// TestEmuSteadyState: a repeated sequence of operations allocates device
// memory only the first time (the caching allocator with the real
// driver).
func TestEmuSteadyState(t *testing.T) {
	d := emuDevice(t)
	s := d.Stream()
	x, _ := s.Alloc(6 * 5)
	y, _ := s.Alloc(6 * 5)
	w2, s2 := make([]*Buffer, 2), make([]*Buffer, 2)
	stepOnce := func() {
		for i := range w2 {
			w2[i], _ = s.Alloc(10)
			s2[i], _ = s.Alloc(5)
		}
		if err := s.Zero(x); err != nil {
			t.Fatal(err)
		}
		if err := s.BatchNormBackward(y, nil, nil, x, x, s2[1], w2[0], w2[1], 6, 5, false); err != nil {
			t.Fatal(err)
		}
		for i := range w2 {
			w2[i].Free()
			s2[i].Free()
		}
	}
	stepOnce()
	first := d.Allocator().Stats().DeviceAllocs
	for i := 0; i < 3; i++ {
		stepOnce()
	}
	if st := d.Allocator().Stats(); st.DeviceAllocs != first {
		t.Errorf("device allocations grew from %d to %d", first, st.DeviceAllocs)
	}
}
