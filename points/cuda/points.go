// Package cuda runs pcx's point operations on a GPU through the engine's
// CUDA back end (package nn/cuda): farthest-point sampling, kNN and
// Point-MAE's grouping, whose CUDA C (kernels/points.cu, compiled to the
// embedded kernels/points.ptx by scripts/gen_ptx.sh) gives exactly the
// indices of packages fps and knn. Importing it registers its kernels with
// nn/cuda (open devices afterwards) and its cases with `pcx selftest`
// (package nn/cuda/check); Grouper makes an engine a points.Grouper.
package cuda

//go:generate bash ../../scripts/gen_ptx.sh

import (
	_ "embed"
	"errors"
	"fmt"

	ncuda "github.com/pcx-dev/pcx/nn/cuda"
)

// ptx is kernels/points.cu compiled by scripts/gen_ptx.sh.
//
//go:embed kernels/points.ptx
var ptx []byte

// Module is the name of the kernels' module as registered with nn/cuda.
const Module = "points"

// Kernels are the kernels of kernels/points.cu.
var Kernels = []ncuda.Kernel{
	{Name: "pcx_fps", Params: "pppiii"},
	{Name: "pcx_knn", Params: "pppiiii"},
	{Name: "pcx_gather3", Params: "pppiii"},
	{Name: "pcx_group_rel", Params: "ppppiiii"},
}

func init() {
	if err := ncuda.RegisterModule(Module, ptx, Kernels...); err != nil {
		panic(err)
	}
}

// Stream and Buffer are nn/cuda's.
type (
	Stream = ncuda.Stream
	Buffer = ncuda.Buffer
)

// FPS runs batched farthest-point sampling on b clouds of n points (xyz,
// b×n×3), writing m centre indices per cloud into idx (b×m int32), with the
// semantics of package fps's default (pointnet2) mode: the first centre is
// point 0, running distances start at 1e10, points with |p|² ≤ 1e-3 are
// never chosen, the next centre has the largest running distance with ties
// to the lowest index, and index 0 is repeated when no candidate is left.
// One block per cloud.
func FPS(s *Stream, idx, xyz *Buffer, b, n, m int) error {
	const op = "FPS"
	nx, err := ncuda.Shape(op, "b×n×3", b, n, 3)
	if err != nil {
		return err
	}
	nm, err := ncuda.Shape(op, "b×m", b, m)
	if err != nil {
		return err
	}
	if n == 0 || m == 0 || m > n {
		return fmt.Errorf("cuda: FPS cannot choose %d centres from %d points", m, n)
	}
	if b == 0 {
		return nil
	}
	dist, err := s.Alloc(b * n)
	if err != nil {
		return err
	}
	defer dist.Free()
	threads := min(512, (n+31)/32*32)
	a := ncuda.NewArgs(op).Buf("idx", idx, nm).Buf("dist", dist, b*n).Buf("xyz", xyz, nx).Int("b", b).Int("n", n).Int("m", m)
	return s.Launch("pcx_fps", [3]uint32{uint32(b), 1, 1}, [3]uint32{uint32(threads), 1, 1}, a)
}

// KNN writes, for each of the q queries of each of b clouds (queries
// b×q×3; points b×n×3), the indices of its k nearest points into idx
// (b×q×k int32), nearest first with ties to the lower index, as package
// knn: exact, and a query that is a point of the cloud is its own first
// neighbour. Coordinates must be finite. One warp per query.
func KNN(s *Stream, idx, points, queries *Buffer, b, n, q, k int) error {
	const op = "KNN"
	np, err := ncuda.Shape(op, "b×n×3", b, n, 3)
	if err != nil {
		return err
	}
	nq, err := ncuda.Shape(op, "b×q×3", b, q, 3)
	if err != nil {
		return err
	}
	nk, err := ncuda.Shape(op, "b×q×k", b, q, k)
	if err != nil {
		return err
	}
	if k <= 0 || k > n {
		return fmt.Errorf("cuda: KNN cannot find %d neighbours among %d points", k, n)
	}
	if b*q == 0 {
		return nil
	}
	a := ncuda.NewArgs(op).Buf("idx", idx, nk).Buf("points", points, np).Buf("queries", queries, nq).Int("b", b).Int("n", n).Int("q", q).Int("k", k)
	return s.Launch("pcx_knn", [3]uint32{uint32((b*q + 3) / 4), 1, 1}, [3]uint32{128, 1, 1}, a)
}

// Gather3 writes into out (b×m×3) the points of xyz (b×n×3) named by idx
// (b×m int32); an index outside the cloud gives NaN coordinates.
func Gather3(s *Stream, out, xyz, idx *Buffer, b, n, m int) error {
	const op = "Gather3"
	nx, err := ncuda.Shape(op, "b×n×3", b, n, 3)
	if err != nil {
		return err
	}
	no, err := ncuda.Shape(op, "b×m×3", b, m, 3)
	if err != nil {
		return err
	}
	a := ncuda.NewArgs(op).Buf("out", out, no).Buf("xyz", xyz, nx).Buf("idx", idx, b*m).Int("b", b).Int("n", n).Int("m", m)
	grid, block := ncuda.Blocks1(b*m, 256)
	return s.Launch("pcx_gather3", grid, block, a)
}

// GroupRel writes Point-MAE's neighbourhoods: nbhd (b×g×k×3) = the points
// named by idx (b×g×k int32) minus their centre (centres b×g×3).
func GroupRel(s *Stream, nbhd, xyz, centres, idx *Buffer, b, n, g, k int) error {
	const op = "GroupRel"
	nx, err := ncuda.Shape(op, "b×n×3", b, n, 3)
	if err != nil {
		return err
	}
	nn, err := ncuda.Shape(op, "b×g×k×3", b, g, k, 3)
	if err != nil {
		return err
	}
	a := ncuda.NewArgs(op).Buf("nbhd", nbhd, nn).Buf("xyz", xyz, nx).Buf("centres", centres, b*g*3).Buf("idx", idx, b*g*k).
		Int("b", b).Int("n", n).Int("g", g).Int("k", k)
	grid, block := ncuda.Blocks1(b*g*k, 256)
	return s.Launch("pcx_group_rel", grid, block, a)
}

// Groups are the device buffers of a grouping (knn.Groups on the GPU).
type Groups struct {
	B, G, K int
	// CentreIdx (B×G int32), Centres (B×G×3), Idx (B×G×K int32) and
	// Neighbourhoods (B×G×K×3), as in knn.Groups.
	CentreIdx, Centres, Idx, Neighbourhoods *Buffer
}

// Free returns the groups' buffers.
func (g *Groups) Free() error {
	return errors.Join(g.CentreIdx.Free(), g.Centres.Free(), g.Idx.Free(), g.Neighbourhoods.Free())
}

// Group is knn.Group on the GPU, queued on s: FPS picks g centres per cloud of xyz
// (b×n×3), then each centre's k nearest points (itself included) are
// gathered relative to it.
func Group(s *Stream, xyz *Buffer, b, n, g, k int) (*Groups, error) {
	if b <= 0 || g <= 0 || k <= 0 || g > n || k > n {
		return nil, fmt.Errorf("cuda: Group of %d clouds of %d points into %d groups of %d", b, n, g, k)
	}
	if _, err := ncuda.Shape("Group", "b×g×k×3", b, g, k, 3); err != nil {
		return nil, err
	}
	gr := &Groups{B: b, G: g, K: k}
	var err error
	alloc := func(n int) *Buffer {
		if err != nil {
			return nil
		}
		var buf *Buffer
		buf, err = s.Alloc(n)
		return buf
	}
	gr.CentreIdx, gr.Centres, gr.Idx, gr.Neighbourhoods = alloc(b*g), alloc(b*g*3), alloc(b*g*k), alloc(b*g*k*3)
	if err == nil {
		err = FPS(s, gr.CentreIdx, xyz, b, n, g)
	}
	if err == nil {
		err = Gather3(s, gr.Centres, xyz, gr.CentreIdx, b, n, g)
	}
	if err == nil {
		err = KNN(s, gr.Idx, xyz, gr.Centres, b, n, g, k)
	}
	if err == nil {
		err = GroupRel(s, gr.Neighbourhoods, xyz, gr.Centres, gr.Idx, b, n, g, k)
	}
	if err != nil {
		gr.Free()
		return nil, err
	}
	return gr, nil
}
