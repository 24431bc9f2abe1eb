package cuda

import (
	"errors"
	"fmt"

	"github.com/pcx-dev/pcx/nn"
	ncuda "github.com/pcx-dev/pcx/nn/cuda"
	"github.com/pcx-dev/pcx/points"
)

// Engine is an nn/cuda engine that also groups point clouds on its GPU: a
// points.Grouper, so that a batch's clouds need not be grouped on the
// host. Every other method is the engine's.
type Engine struct {
	*ncuda.Engine
}

var _ points.Grouper = (*Engine)(nil)

// Grouper returns e as a points.Grouper.
func Grouper(e *ncuda.Engine) *Engine { return &Engine{e} }

// GroupPoints implements points.Grouper with Group: the clouds are
// uploaded, grouped on the GPU (indices equal to package knn's), and the
// index buffers are freed; the caller owns the centres and neighbourhoods.
// Errors panic as *nn.DeviceError, as the engine's do.
func (e *Engine) GroupPoints(xyz []float32, b, n, g, k int) (centres, nbhd nn.DeviceBuffer) {
	must := func(err error) {
		if err != nil {
			panic(&nn.DeviceError{Err: err})
		}
	}
	if len(xyz) != b*n*3 {
		must(fmt.Errorf("cuda: GroupPoints of %d coordinates as %d clouds of %d points", len(xyz), b, n))
	}
	s := e.Stream()
	x, err := s.Alloc(len(xyz))
	must(err)
	defer x.Free()
	must(s.Upload(x, xyz))
	gr, err := Group(s, x, b, n, g, k)
	must(err)
	must(errors.Join(gr.CentreIdx.Free(), gr.Idx.Free()))
	return gr.Centres, gr.Neighbourhoods
}
