// Package points holds pcx's point-cloud input pipeline: the groups a
// Point-MAE-style network takes (centres and their neighbourhoods), grouping
// on the host or on a device, and the per-batch sampling and augmentation of
// classification. The engine (package nn) knows nothing of it.
package points

import (
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/points/knn"
)

// Groups is the input of the network proper: B clouds' centres (B×G×3) and
// neighbourhoods relative to them (B×G×M×3).
type Groups struct {
	B, G, M        int
	Centres        []float32
	Neighbourhoods []float32
	// DevCentres and DevNeighbourhoods, when set, hold the same values on
	// a device (from GroupOn) and are used instead of the slices, which
	// are then nil.
	DevCentres, DevNeighbourhoods *nn.Tensor
}

// Grouper is a Device that groups point clouds itself (Point-MAE's Group:
// farthest-point sampling, then kNN around each centre), so that a batch's
// clouds need not be grouped on the host. package nn/cuda's Engine is one.
type Grouper interface {
	nn.Device
	// GroupPoints uploads the clouds xyz (b×n×3) and returns, in device
	// memory, the g centres of each (b×g×3) and their k nearest points
	// relative to them (b×g×k×3), with package knn's Group semantics
	// (pointnet2 FPS from point 0, exact kNN, ties to the lower index).
	// The caller owns both buffers.
	GroupPoints(xyz []float32, b, n, g, k int) (centres, nbhd nn.DeviceBuffer)
}

// Group runs Point-MAE's Group (pointnet2 FPS, then kNN) on the host: b
// clouds of n points (xyz is b×n×3) into g groups of k points each.
func Group(xyz []float32, b, n, g, k int, o knn.Options) (*Groups, error) {
	gr, err := knn.Group(xyz, b, n, g, k, o)
	if err != nil {
		return nil, err
	}
	return &Groups{B: b, G: gr.G, M: gr.K, Centres: gr.Centres, Neighbourhoods: gr.Neighbourhoods}, nil
}

// GroupOn groups b clouds of n points (xyz is b×n×3) into g groups of k
// points on device d, as Group does on the host (the same centre and
// neighbour indices): the groups' tensors live on d, owned by tp.
func GroupOn(tp *nn.Tape, d Grouper, xyz []float32, b, n, g, k int) *Groups {
	c, nb := d.GroupPoints(xyz, b, n, g, k)
	return &Groups{B: b, G: g, M: k, DevCentres: nn.FromDevice(tp, d, c, b, g, 3),
		DevNeighbourhoods: nn.FromDevice(tp, d, nb, b*g, k, 3)}
}

// GroupAt gathers groups from given centre and neighbour indices (b×g and
// b×g×k into each cloud), as a reference implementation with fixed
// indices does.
func GroupAt(xyz []float32, b, n int, centreIdx, nbIdx []int32, g, k int) *Groups {
	out := &Groups{B: b, G: g, M: k, Centres: make([]float32, b*g*3), Neighbourhoods: make([]float32, b*g*k*3)}
	for i := 0; i < b; i++ {
		cloud := xyz[i*n*3 : (i+1)*n*3]
		for j := 0; j < g; j++ {
			c := centreIdx[i*g+j]
			copy(out.Centres[(i*g+j)*3:(i*g+j)*3+3], cloud[3*c:3*c+3])
			for q := 0; q < k; q++ {
				p := nbIdx[(i*g+j)*k+q]
				for a := 0; a < 3; a++ {
					out.Neighbourhoods[((i*g+j)*k+q)*3+a] = cloud[3*int(p)+a] - cloud[3*int(c)+a]
				}
			}
		}
	}
	return out
}
