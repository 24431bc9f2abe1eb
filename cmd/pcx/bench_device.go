package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/pcx-dev/pcx/nn/cuda"
	pcuda "github.com/pcx-dev/pcx/points/cuda"
	"github.com/pcx-dev/pcx/points/fps"
	"github.com/pcx-dev/pcx/points/knn"
	"github.com/urfave/cli/v2"
)

// benchOnDevice times pcx bench fps|knn on the GPU: the clouds are
// uploaded once, each pass queues the kernels and waits for the device,
// and the indices of the last pass are compared with the CPU's.
func benchOnDevice(c *cli.Context, dev *cuda.Device, op string, xyz []float32, r *benchReport) (err error) {
	b, n, g, rep := r.Batch, r.Points, r.Centres, r.Repeat
	s := dev.Stream()
	var bufs []*cuda.Buffer
	alloc := func(n int) *cuda.Buffer {
		if err != nil {
			return nil
		}
		var buf *cuda.Buffer
		buf, err = s.Alloc(n)
		bufs = append(bufs, buf)
		return buf
	}
	defer func() {
		for _, buf := range bufs {
			err = errors.Join(err, buf.Free())
		}
	}()
	x := alloc(len(xyz))
	if err != nil {
		return err
	}
	if err := s.Upload(x, xyz); err != nil {
		return err
	}
	r.Device, r.GPU, r.Workers, r.AVX2 = "cuda", dev.Info().Name, 0, false
	var run func() error
	var got func() ([]int32, error)
	var want func() ([]int32, error)
	switch op {
	case "fps":
		idx := alloc(b * g)
		if err != nil {
			return err
		}
		run = func() error { return pcuda.FPS(s, idx, x, b, n, g) }
		got = func() ([]int32, error) { out := make([]int32, b*g); return out, s.DownloadInt32(out, idx) }
		want = func() ([]int32, error) {
			if b == 1 {
				return fps.Sample(xyz, g, fps.Options{})
			}
			return fps.SampleBatch(xyz, b, n, g, fps.Options{})
		}
	case "knn":
		k := c.Int("k")
		if k <= 0 || k > n || g > n {
			return fmt.Errorf("bench knn: cannot find %d neighbours of %d centres among %d points", k, g, n)
		}
		r.K, r.Method = k, "cuda"
		cidx := make([]int32, b*g)
		for i := range cidx {
			cidx[i] = int32((i % g) * (n / g)) // every (n/g)-th point, as on the CPU
		}
		ci, centres, idx, nbhd := alloc(b*g), alloc(b*g*3), alloc(b*g*k), alloc(b*g*k*3)
		if err != nil {
			return err
		}
		if err := s.UploadInt32(ci, cidx); err != nil {
			return err
		}
		// As knn.GroupAt: the centres, their neighbours and the
		// neighbourhoods relative to them.
		run = func() error {
			return errors.Join(pcuda.Gather3(s, centres, x, ci, b, n, g), pcuda.KNN(s, idx, x, centres, b, n, g, k),
				pcuda.GroupRel(s, nbhd, x, centres, idx, b, n, g, k))
		}
		got = func() ([]int32, error) { out := make([]int32, b*g*k); return out, s.DownloadInt32(out, idx) }
		want = func() ([]int32, error) {
			gr, err := knn.GroupAt(xyz, b, n, cidx, g, k, knn.Options{})
			if err != nil {
				return nil, err
			}
			return gr.Idx, nil
		}
	}
	dt, err := medianTime(func() error {
		if err := run(); err != nil {
			return err
		}
		return s.Synchronize()
	}, rep)
	if err != nil {
		return err
	}
	r.MsPerBatch = round4(dt.Seconds() * 1e3)
	r.MsPerCloud = round4(dt.Seconds() * 1e3 / float64(b))
	gi, err := got()
	if err != nil {
		return err
	}
	wi, err := want()
	if err != nil {
		return err
	}
	same := slices.Equal(gi, wi)
	r.MatchesCPU = &same
	r.GPUPeakMB = mib(dev.Allocator().Stats().Peak)
	if !same {
		r.Mismatch = firstDiff(gi, wi)
	}
	return nil
}

func firstDiff(a, b []int32) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("first at %d: %d against %d", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("%d indices against %d", len(a), len(b))
}
