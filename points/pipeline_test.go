package points

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/internal/rng"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/points/knn"
)

// clouds returns count random clouds of n points each.
func clouds(seed uint64, count, n int) [][]float32 {
	r := rng.New(seed)
	out := make([][]float32, count)
	for i := range out {
		out[i] = make([]float32, 3*n)
		for j := range out[i] {
			out[i][j] = float32(r.NormFloat64())
		}
	}
	return out
}

func hashF32(parts ...[]float32) string {
	h := sha256.New()
	var w [4]byte
	for _, p := range parts {
		for _, v := range p {
			binary.LittleEndian.PutUint32(w[:], math.Float32bits(v))
			h.Write(w[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// pipelineCases are batches whose groups were fingerprinted with the
// classification loader this pipeline came from (classify.Task.Batch): the
// pipeline must reproduce them bit for bit, draw for draw.
var pipelineCases = []struct {
	name     string
	p        Pipeline
	n        int // points per cloud
	training bool
	want     string
}{
	{"train rotate", Pipeline{Points: 1024, Groups: 16, GroupSize: 8, Rotate: "y"}, 1300, true, "bfead6de1736e4ed"},
	{"train capped", Pipeline{Points: 1024, Groups: 16, GroupSize: 8}, 1100, true, "70b88f0dcd15c637"},
	{"test", Pipeline{Points: 1024, Groups: 16, GroupSize: 8, Rotate: "y"}, 1300, false, "3777dc52c2946320"},
	{"test vote", Pipeline{Points: 1024, Groups: 16, GroupSize: 8, Rotate: "y", Vote: true}, 1300, false, "45a8190e67c361d7"},
	{"small", Pipeline{Points: 64, Groups: 8, GroupSize: 4, Rotate: "z"}, 64, true, "24fd686acc7f2574"},
}

func TestPipelineMatchesLoader(t *testing.T) {
	for _, c := range pipelineCases {
		cs := clouds(1, 3, c.n)
		b, err := c.p.Build(cs, []int{2, 0}, c.training, rng.Stream(1, 2, 0, 0), "train", "rand")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		g := b.Groups
		if g.B != 2 || g.G != c.p.Groups || g.M != c.p.GroupSize {
			t.Fatalf("%s: groups %d×%d×%d", c.name, g.B, g.G, g.M)
		}
		if got := hashF32(g.Centres, g.Neighbourhoods); got != c.want {
			t.Errorf("%s: groups hash %s, want %s", c.name, got, c.want)
		}
	}
}

// fakeGrouper is a Grouper whose device Build never touches: Build only
// checks that the batch can be grouped and leaves the grouping to Group.
type fakeGrouper struct{ nn.Device }

func (fakeGrouper) GroupPoints([]float32, int, int, int, int) (nn.DeviceBuffer, nn.DeviceBuffer) {
	panic("GroupPoints called by Build")
}

// TestPipelineDeviceBatch: with a Grouper, Build draws the same stream and
// returns the sampled clouds, whose host grouping is the host batch's.
func TestPipelineDeviceBatch(t *testing.T) {
	for _, c := range pipelineCases {
		cs := clouds(1, 3, c.n)
		host, err := c.p.Build(cs, []int{2, 0}, c.training, rng.Stream(1, 2, 0, 0), "train", "rand")
		if err != nil {
			t.Fatal(err)
		}
		p := c.p
		p.Grouper = fakeGrouper{}
		dev, err := p.Build(cs, []int{2, 0}, c.training, rng.Stream(1, 2, 0, 0), "train", "rand")
		if err != nil {
			t.Fatal(err)
		}
		if dev.Groups != nil || dev.B != 2 || dev.N != c.p.Points || len(dev.XYZ) != 2*c.p.Points*3 {
			t.Fatalf("%s: device batch %d×%d, %d values, groups %v", c.name, dev.B, dev.N, len(dev.XYZ), dev.Groups != nil)
		}
		g, err := Group(dev.XYZ, dev.B, dev.N, c.p.Groups, c.p.GroupSize, knn.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if hashF32(g.Centres, g.Neighbourhoods) != hashF32(host.Groups.Centres, host.Groups.Neighbourhoods) {
			t.Errorf("%s: the device batch's clouds group differently from the host batch", c.name)
		}
		if p.Group(nil, host) != host.Groups {
			t.Errorf("%s: Group regrouped a grouped batch", c.name)
		}
	}
}

// TestPipelineTestBatchesIgnoreStream: test batches without voting draw
// nothing, so they need no stream.
func TestPipelineTestBatchesIgnoreStream(t *testing.T) {
	p := Pipeline{Points: 64, Groups: 8, GroupSize: 4, Rotate: "y"}
	cs := clouds(2, 2, 100)
	a, err := p.Build(cs, []int{0, 1}, false, nil, "test", "rand")
	if err != nil {
		t.Fatal(err)
	}
	r := rng.New(5)
	b, err := p.Build(cs, []int{0, 1}, false, r, "test", "rand")
	if err != nil {
		t.Fatal(err)
	}
	if hashF32(a.Groups.Centres, a.Groups.Neighbourhoods) != hashF32(b.Groups.Centres, b.Groups.Neighbourhoods) {
		t.Error("test batches depend on the random stream")
	}
	if r.Uint64() != rng.New(5).Uint64() {
		t.Error("a test batch drew from its stream")
	}
}

func TestPipelineErrors(t *testing.T) {
	// Finite clouds that scaling overflows (a device cannot report it).
	huge := clouds(3, 1, 64)
	for i := range huge[0] {
		huge[0][i] = 3e38
	}
	for _, c := range []struct {
		name   string
		p      Pipeline
		clouds [][]float32
		want   string
	}{
		{"few points", Pipeline{Points: 64, Groups: 8, GroupSize: 4}, clouds(3, 1, 50),
			"test sample 0 of rand has 50 points, fewer than the 64 the model takes"},
		{"bad axis", Pipeline{Points: 64, Groups: 8, GroupSize: 4, Rotate: "w", Vote: true}, clouds(3, 1, 64), ""},
		{"too many groups", Pipeline{Points: 64, Groups: 65, GroupSize: 4}, clouds(3, 1, 64), "grouping a test batch of rand: "},
		{"device: too many groups", Pipeline{Points: 64, Groups: 8, GroupSize: 65, Grouper: fakeGrouper{}}, clouds(3, 1, 64),
			"grouping a test batch of rand: 8 groups of 65 from 64 points"},
		{"device: overflow", Pipeline{Points: 64, Groups: 8, GroupSize: 4, Vote: true, Grouper: fakeGrouper{}}, huge,
			"grouping a test batch of rand: a coordinate is +Inf"},
	} {
		_, err := c.p.Build(c.clouds, []int{0}, false, rng.New(1), "test", "rand")
		if c.name == "bad axis" {
			// Rotation applies to training batches only.
			if err != nil {
				t.Errorf("%s: test batch: %v", c.name, err)
			}
			_, err = c.p.Build(c.clouds, []int{0}, true, rng.New(1), "train", "rand")
			if err == nil {
				t.Errorf("%s: accepted", c.name)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestGroupAtMatchesGroup: gathering at knn's own centre and neighbour
// indices gives Group's groups.
func TestGroupAtMatchesGroup(t *testing.T) {
	cs := clouds(4, 2, 200)
	xyz := append(append([]float32(nil), cs[0]...), cs[1]...)
	want, err := Group(xyz, 2, 200, 16, 8, knn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var cidx, nidx []int32
	for i := 0; i < 2; i++ {
		cloud := xyz[i*600 : (i+1)*600]
		gr, err := knn.Group(cloud, 1, 200, 16, 8, knn.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cidx, nidx = append(cidx, gr.CentreIdx...), append(nidx, gr.Idx...)
	}
	got := GroupAt(xyz, 2, 200, cidx, nidx, 16, 8)
	if hashF32(got.Centres, got.Neighbourhoods) != hashF32(want.Centres, want.Neighbourhoods) {
		t.Error("GroupAt at knn's indices differs from Group")
	}
}
