package backbone

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/pointcloud"
)

func tinyViT(t testing.TB, img int) *ViT {
	t.Helper()
	m, err := NewViT(ViTConfig{ImageSize: img, PatchSize: 4, InChans: 3, Width: 12, Depth: 2, Heads: 3, MLPRatio: 4, Classes: 3, Eps: 1e-6},
		pointcloud.NewRand(7))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// npyBytes is a float32 .npy of the shape (its data shorter or longer
// when given so).
func npyBytes(shape []int, data []float32) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", tuple)
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	binary.Write(&b, binary.LittleEndian, data)
	return b.Bytes()
}

type npzEntry struct {
	name    string
	data    []byte
	deflate bool
}

func npzFile(t testing.TB, entries ...npzEntry) string {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, e := range entries {
		m := zip.Store
		if e.deflate {
			m = zip.Deflate
		}
		w, err := z.CreateHeader(&zip.FileHeader{Name: e.name, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	z.Close()
	p := filepath.Join(t.TempDir(), "w.npz")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadViTWeightsOwnCheckpoint: a pcx checkpoint of a ViT (patch kernel
// saved out×3×P×P) loads back whole.
func TestLoadViTWeightsOwnCheckpoint(t *testing.T) {
	src := tinyViT(t, 8)
	for i, p := range src.Params() {
		for j := range p.Data {
			p.Data[j] = float32(math.Sin(float64(i*1000 + j)))
		}
	}
	path := filepath.Join(t.TempDir(), "own.safetensors")
	if err := checkpoint.Save(path, src.Params(), nil, nil); err != nil {
		t.Fatal(err)
	}
	dst := tinyViT(t, 8)
	rep, err := LoadViTWeights(path, dst.Params(), LoadOptions{})
	if err != nil || len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Fatalf("%v; %v", err, rep)
	}
	for i, p := range dst.Params() {
		if !slices.Equal(p.Data, src.Params()[i].Data) {
			t.Errorf("%s not loaded", p.Name)
		}
	}
}

// TestLoadViTWeightsRefuses: shape mismatches name the key and both shapes;
// a checkpoint lacking backbone weights is refused unless partial; bad
// archives name the file.
func TestLoadViTWeightsRefuses(t *testing.T) {
	g := loadViTGolden(t).NPZ
	npz := writeB64(t, "ViT-B_16.npz", g.NPZ)
	// A model 24 wide: the file's patch kernel is 12 wide.
	wide, err := NewViT(ViTConfig{ImageSize: 8, PatchSize: 4, InChans: 3, Width: 24, Depth: 2, Heads: 3, MLPRatio: 4, Classes: 3, Eps: 1e-6}, pointcloud.NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadViTWeights(npz, wide.Params(), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), npz) || !strings.Contains(err.Error(), "pos_embed") {
		t.Errorf("width mismatch: %v", err)
	}
	// A deeper model: blocks.2 is missing.
	deep, err := NewViT(ViTConfig{ImageSize: 8, PatchSize: 4, InChans: 3, Width: 12, Depth: 3, Heads: 3, MLPRatio: 4, Classes: 3, Eps: 1e-6}, pointcloud.NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadViTWeights(npz, deep.Params(), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "loaded 30 of the ViT backbone's 42") || !strings.Contains(err.Error(), "blocks.2.norm1.weight") {
		t.Errorf("missing block: %v", err)
	}
	if rep, err := LoadViTWeights(npz, deep.Params(), LoadOptions{Partial: true}); err != nil || len(rep.Missing) != 14 {
		t.Errorf("partial: %v, missing %v", err, rep.Missing)
	}
	// A qkv kernel of the wrong size.
	kernel := make([]float32, 12*3*5)
	bad := npzFile(t, npzEntry{name: "Transformer/encoderblock_0/MultiHeadDotProductAttention_1/query/kernel.npy", data: npyBytes([]int{12, 3, 5}, kernel)},
		npzEntry{name: "Transformer/encoderblock_0/MultiHeadDotProductAttention_1/key/kernel.npy", data: npyBytes([]int{12, 3, 5}, kernel)},
		npzEntry{name: "Transformer/encoderblock_0/MultiHeadDotProductAttention_1/value/kernel.npy", data: npyBytes([]int{12, 3, 5}, kernel)})
	_, err = LoadViTWeights(bad, tinyViT(t, 8).Params(), LoadOptions{Partial: true})
	if err == nil || !strings.Contains(err.Error(), "blocks.0.attn.qkv.weight") || !strings.Contains(err.Error(), "[45 12]") || !strings.Contains(err.Error(), "[36 12]") {
		t.Errorf("qkv mismatch: %v", err)
	}
	// A huge declared shape over a few bytes.
	huge := npzFile(t, npzEntry{name: "cls.npy", data: npyBytes([]int{100000, 100000, 768}, []float32{1, 2})})
	_, err = LoadViTWeights(huge, tinyViT(t, 8).Params(), LoadOptions{Partial: true})
	if err == nil || !strings.Contains(err.Error(), huge) || !strings.Contains(err.Error(), "cls") {
		t.Errorf("huge shape: %v", err)
	}
	// A zip bomb: 8 MiB of zeros deflated to a few KiB.
	bomb := npzFile(t, npzEntry{name: "cls.npy", data: npyBytes([]int{2 << 20}, make([]float32, 2<<20)), deflate: true})
	_, err = LoadViTWeights(bomb, tinyViT(t, 8).Params(), LoadOptions{Partial: true})
	if err == nil || !strings.Contains(err.Error(), bomb) || !strings.Contains(err.Error(), "zip bomb") {
		t.Errorf("zip bomb: %v", err)
	}
	// A rank-2 out kernel.
	rank := npzFile(t, npzEntry{name: "Transformer/encoderblock_0/MultiHeadDotProductAttention_1/out/kernel.npy", data: npyBytes([]int{12, 12}, make([]float32, 144))})
	_, err = LoadViTWeights(rank, tinyViT(t, 8).Params(), LoadOptions{Partial: true})
	if err == nil || !strings.Contains(err.Error(), "out/kernel") || !strings.Contains(err.Error(), "[12 12]") {
		t.Errorf("rank: %v", err)
	}
	// Not a checkpoint at all.
	junk := filepath.Join(t.TempDir(), "junk.npz")
	os.WriteFile(junk, []byte("hello"), 0o644)
	if _, err := LoadViTWeights(junk, tinyViT(t, 8).Params(), LoadOptions{}); err == nil || !strings.Contains(err.Error(), junk) {
		t.Errorf("junk: %v", err)
	}
}

// TestResamplePosEmbedIdentity: resampling to the same grid returns the
// embedding unchanged (the cubic weights at t = 0 are 0, 1, 0, 0).
func TestResamplePosEmbedIdentity(t *testing.T) {
	pos := make([]float32, (1+25)*3)
	for i := range pos {
		pos[i] = float32(math.Cos(float64(i)))
	}
	got := ResamplePosEmbed(pos, 1, 5, 5, 5, 5, 3)
	for i := range pos {
		if math.Abs(float64(got[i]-pos[i])) > 1e-7 {
			t.Fatalf("%d: %v, want %v", i, got[i], pos[i])
		}
	}
}

// FuzzLoadViTNPZ feeds arbitrary bytes, seeded with real .npz files, to
// LoadViTWeights: it may refuse them, never panic.
func FuzzLoadViTNPZ(f *testing.F) {
	g := loadViTGolden(&testing.T{}).NPZ
	for _, s := range []string{g.NPZ, g.NPZDeflated} {
		b, _ := base64.StdEncoding.DecodeString(s)
		f.Add(b)
	}
	var small bytes.Buffer
	z := zip.NewWriter(&small)
	w, _ := z.Create("Transformer/posembed_input/pos_embedding.npy")
	w.Write(npyBytes([]int{1, 17, 12}, make([]float32, 17*12)))
	w, _ = z.Create("embedding/kernel.npy")
	w.Write(npyBytes([]int{4, 4, 3, 12}, make([]float32, 576)))
	z.Close()
	f.Add(small.Bytes())
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.npz")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		m := tinyViT(t, 8)
		LoadViTWeights(p, m.Params(), LoadOptions{})
		m = tinyViT(t, 16)
		LoadViTWeights(p, m.Params(), LoadOptions{Partial: true})
	})
}
