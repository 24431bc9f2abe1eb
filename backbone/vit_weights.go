package backbone

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pcx-dev/pcx/internal/memlimit"
	"github.com/pcx-dev/pcx/nn"
	"github.com/pcx-dev/pcx/nn/checkpoint"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/pointcloud"
)

// vitPTHKeys are where a ViT .pth may keep its state dict, in the order
// tried: a bare state dict (timm), then "model" (MAE, DeiT) and
// "state_dict".
var vitPTHKeys = []string{"", "model", "state_dict"}

// vitPretrained matches the keys of the weights a ViT pre-training
// checkpoint provides: the embedding, every block's own layers and the
// final norm (not the head, not a method's adapters).
var vitPretrained = regexp.MustCompile(`^(cls_token$|pos_embed$|patch_embed\.proj\.|norm\.(weight|bias)$|blocks\.[0-9]+\.(norm1|attn\.qkv|attn\.proj|norm2|mlp\.fc1|mlp\.fc2)\.)`)

// IsViTPretrained reports whether a parameter name is one of the ViT
// backbone weights a pre-training checkpoint provides (see LoadViTWeights).
func IsViTPretrained(name string) bool { return vitPretrained.MatchString(name) }

// ViTLoad is what LoadViTCheckpoint did: the keys it did not match and, when
// the checkpoint's position embedding was made for another patch grid, how
// it was resampled ("" when it was not).
type ViTLoad struct {
	checkpoint.Report
	Resampled string
}

// LoadViTWeights loads ViT weights into ps (a backbone.ViT's parameters,
// or a method's that include them) from a checkpoint:
//
//   - the original Google ViT .npz (ViT-B_16.npz: a zip of .npy arrays in
//     the Flax layout), converted to timm's keys as timm's _load_weights
//     does; its pre_logits and head are reported unexpected, not loaded;
//   - a timm state dict as .pth (bare, or under "model" or "state_dict") or
//     .safetensors (a pcx checkpoint among them);
//   - MAE's pre-training checkpoint (mae_pretrain_vit_base.pth: the state
//     dict under "model"; its decoder and mask token are unexpected).
//
// A position embedding made for another patch grid (224/16 into a 28/4
// model, or a 384 fine-tuning) is resampled as timm's
// resample_abs_pos_embed does (LoadViTCheckpoint says so). Any other shape
// mismatch is an error naming the key and both shapes, and so, unless
// opt.Partial, is a checkpoint that lacks any of the backbone's pretrained
// weights (IsViTPretrained).
func LoadViTWeights(path string, ps nn.Params, opt LoadOptions) (checkpoint.Report, error) {
	l, err := LoadViTCheckpoint(path, ps, opt)
	return l.Report, err
}

// LoadViTCheckpoint is LoadViTWeights, also saying whether the position
// embedding was resampled.
func LoadViTCheckpoint(path string, ps nn.Params, opt LoadOptions) (ViTLoad, error) {
	var out ViTLoad
	d, err := readViTDict(path)
	if err != nil {
		return out, err
	}
	byName := map[string]*nn.Param{}
	for _, p := range ps {
		byName[p.Name] = p
	}
	if p, t := byName["pos_embed"], d.Tensors["pos_embed"]; p != nil && t != nil && !slices.Equal(t.Shape, p.Shape) {
		if out.Resampled, err = resampleInDict(d, p); err != nil {
			return out, fmt.Errorf("%s: %w", path, err)
		}
	}
	if out.Report, err = checkpoint.LoadDict(d, ps); err != nil {
		return out, fmt.Errorf("%s: %w", path, err)
	}
	if opt.Partial {
		return out, nil
	}
	return out, checkPretrained(path, "ViT backbone", out.Report, ps, IsViTPretrained)
}

// readViTDict reads path as a state dict with timm's keys.
func readViTDict(path string) (*state.Dict, error) {
	const what = "ViT weights (Google's .npz, a timm or MAE .pth, or a .safetensors)"
	format, err := state.Sniff(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if format == state.FormatSafetensors {
		return state.ReadSafetensors(path)
	}
	if isNPZ, err := zipHoldsNPY(path); err != nil {
		return nil, err
	} else if isNPZ {
		return readViTNPZ(path)
	}
	obj, err := state.ReadPTH(path)
	if err != nil {
		return nil, err
	}
	var first error
	for _, key := range vitPTHKeys {
		d, err := state.StateDict(obj, key)
		if err == nil {
			if err := state.StripPrefixes(d); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return d, nil
		}
		if !errors.Is(err, state.ErrNoStateDict) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if first == nil {
			first = err
		}
	}
	return nil, fmt.Errorf("%s: %w", path, first)
}

// zipHoldsNPY reports whether path is a zip archive of .npy arrays (an
// .npz) rather than torch.save's zip (whose pickle is a data.pkl).
func zipHoldsNPY(path string) (bool, error) {
	z, err := zip.OpenReader(path)
	if err != nil {
		return false, nil // a legacy pickle: ReadPTH says what is wrong
	}
	defer z.Close()
	npy := false
	for _, f := range z.File {
		if strings.HasSuffix(f.Name, "data.pkl") {
			return false, nil
		}
		npy = npy || strings.HasSuffix(f.Name, ".npy")
	}
	return npy, nil
}

// npz limits: the most arrays, and the most a deflated entry larger than
// maxNPZSlack may expand (float weights compress little; np.savez does not
// compress at all, and stored entries are not limited).
const (
	maxNPZEntries = 1 << 16
	maxNPZRatio   = 100
	maxNPZSlack   = 1 << 20
)

// npzArray is one array of an .npz, as float32 in C order.
type npzArray struct {
	shape []int
	data  []float32
}

// readNPZ reads every .npy of the zip at r (size bytes; name for errors)
// as float32, refusing archives whose entries declare more data than the
// archive can hold or the machine has.
func readNPZ(r io.ReaderAt, size int64, name string) (map[string]*npzArray, []string, error) {
	z, err := zip.NewReader(r, size)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: not a readable .npz (zip) archive: %w", name, err)
	}
	if len(z.File) > maxNPZEntries {
		return nil, nil, fmt.Errorf("%s: %d entries, more than an .npz of weights holds (%d)", name, len(z.File), maxNPZEntries)
	}
	var total int64
	for _, f := range z.File {
		u, c := f.UncompressedSize64, f.CompressedSize64
		if u > math.MaxInt64/8 || (f.Method != zip.Store && u > maxNPZRatio*c+maxNPZSlack) || (f.Method == zip.Store && u != c) {
			return nil, nil, fmt.Errorf("%s: entry %s declares %d bytes from %d stored: not an .npz of weights (a zip bomb?)", name, state.Quote(f.Name), u, c)
		}
		total = memlimit.Sum(total, int64(u))
	}
	// float32 copies of at most as many elements as there are bytes.
	if err := memlimit.Check(fmt.Sprintf("reading %s", name), memlimit.Bytes(total, 5)); err != nil {
		return nil, nil, err
	}
	arrays := map[string]*npzArray{}
	var keys []string
	for _, f := range z.File {
		key, ok := strings.CutSuffix(f.Name, ".npy")
		if !ok {
			continue
		}
		if _, dup := arrays[key]; dup {
			return nil, nil, fmt.Errorf("%s: array %s appears twice", name, state.Quote(key))
		}
		a, err := readNPZEntry(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: array %s: %w", name, state.Quote(key), err)
		}
		arrays[key] = a
		keys = append(keys, key)
	}
	return arrays, keys, nil
}

func readNPZEntry(f *zip.File) (*npzArray, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	size := int64(f.UncompressedSize64)
	a, err := pointcloud.ReadNPYArray(io.LimitReader(rc, size), size, func(a *pointcloud.NPYArray) error {
		n := int64(1)
		for _, d := range a.Shape {
			// No dimension exceeds the entry's bytes, even beside a zero
			// one, so that no loop over a dimension outruns the file.
			if d > max(size, 1) {
				return fmt.Errorf("shape %s has a dimension larger than the entry's %d bytes", a.ShapeString(), size)
			}
			if d > 0 && n > math.MaxInt32/d {
				return fmt.Errorf("shape %s is too large", a.ShapeString())
			}
			n *= d
		}
		if a.Kind() != 'f' {
			return fmt.Errorf("dtype %s is not a float", a.DType)
		}
		if n > size {
			return fmt.Errorf("shape %s needs more data than the entry's %d bytes", a.ShapeString(), size)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	shape := make([]int, len(a.Shape))
	n := 1
	for i, d := range a.Shape {
		shape[i] = int(d)
		n *= int(d)
	}
	out := &npzArray{shape: shape, data: make([]float32, n)}
	if !a.Fortran || len(shape) < 2 {
		for i := range out.data {
			out.data[i] = float32(a.Float(int64(i)))
		}
		return out, nil
	}
	// Fortran order: element (i0, …, ik) is stored at Σ i_j·Π_{l<j} shape_l.
	idx := make([]int, len(shape))
	for i := range out.data {
		at, stride := 0, 1
		for j, v := range idx {
			at += v * stride
			stride *= shape[j]
		}
		out.data[i] = float32(a.Float(int64(at)))
		for j := len(idx) - 1; j >= 0; j-- {
			if idx[j]++; idx[j] < shape[j] {
				break
			}
			idx[j] = 0
		}
	}
	return out, nil
}

// readViTNPZ reads Google's ViT .npz and converts it to timm's keys.
func readViTNPZ(path string) (*state.Dict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	arrays, keys, err := readNPZ(f, st.Size(), path)
	if err != nil {
		return nil, err
	}
	d, err := ConvertViTNPZ(arrays2Tensors(arrays), keys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

func arrays2Tensors(arrays map[string]*npzArray) map[string]*state.Tensor {
	out := make(map[string]*state.Tensor, len(arrays))
	for k, a := range arrays {
		out[k] = &state.Tensor{Shape: a.shape, DType: state.F32, F32: a.data}
	}
	return out
}

var npzBlock = regexp.MustCompile(`^Transformer/encoderblock_([0-9]+)/(.+)$`)

// ConvertViTNPZ converts the arrays of Google's ViT .npz (Flax names and
// layouts, in the order keys lists them) to a state dict with timm's names
// and layouts (timm's _load_weights): HWIO→OIHW for the patch kernel; q, k
// and v kernels (C, heads, D) flattened, transposed and concatenated into
// qkv; the out kernel (heads, D, C) to C×C; Dense kernels transposed;
// LayerNorm scale → weight. Arrays it does not know (pre_logits, head)
// keep their npz names, so that loading reports them unexpected. A known
// array of the wrong rank or size is an error naming it.
func ConvertViTNPZ(arrays map[string]*state.Tensor, keys []string) (*state.Dict, error) {
	d := state.NewDict()
	set := func(name string, shape []int, v []float32) {
		d.Set(name, &state.Tensor{Shape: shape, DType: state.F32, F32: v})
	}
	done := map[string]bool{}
	get := func(k string, rank int) (*state.Tensor, error) {
		t := arrays[k]
		if t == nil {
			return nil, fmt.Errorf("npz array %s is missing", k)
		}
		if len(t.Shape) != rank {
			return nil, fmt.Errorf("npz array %s has shape %s, want %d dimensions", k, state.FormatShape(t.Shape), rank)
		}
		done[k] = true
		return t, nil
	}
	for _, k := range keys {
		if done[k] {
			continue
		}
		t := arrays[k]
		switch {
		case k == "embedding/kernel": // HWIO → out × (in·P·P)
			if _, err := get(k, 4); err != nil {
				return nil, err
			}
			ph, pw, ci, co := t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
			v := make([]float32, len(t.F32))
			for y := 0; y < ph; y++ {
				for x := 0; x < pw; x++ {
					for c := 0; c < ci; c++ {
						for o := 0; o < co; o++ {
							v[((o*ci+c)*ph+y)*pw+x] = t.F32[((y*pw+x)*ci+c)*co+o]
						}
					}
				}
			}
			set("patch_embed.proj.weight", []int{co, ci, ph, pw}, v)
		case k == "embedding/bias":
			set("patch_embed.proj.bias", t.Shape, t.F32)
		case k == "cls":
			set("cls_token", t.Shape, t.F32)
		case k == "Transformer/posembed_input/pos_embedding":
			set("pos_embed", t.Shape, t.F32)
		case k == "Transformer/encoder_norm/scale":
			set("norm.weight", t.Shape, t.F32)
		case k == "Transformer/encoder_norm/bias":
			set("norm.bias", t.Shape, t.F32)
		case npzBlock.MatchString(k):
			m := npzBlock.FindStringSubmatch(k)
			i, err := strconv.Atoi(m[1])
			if err != nil || i > 1<<20 {
				set(k, t.Shape, t.F32)
				continue
			}
			pre, rest := fmt.Sprintf("Transformer/encoderblock_%d/", i), m[2]
			out := fmt.Sprintf("blocks.%d.", i)
			ln := map[string]string{"LayerNorm_0/scale": "norm1.weight", "LayerNorm_0/bias": "norm1.bias",
				"LayerNorm_2/scale": "norm2.weight", "LayerNorm_2/bias": "norm2.bias"}
			const att = "MultiHeadDotProductAttention_1/"
			switch {
			case ln[rest] != "":
				set(out+ln[rest], t.Shape, t.F32)
			case strings.HasPrefix(rest, "MlpBlock_3/Dense_") && strings.HasSuffix(rest, "/kernel"):
				if _, err := get(k, 2); err != nil {
					return nil, err
				}
				fc := map[string]string{"MlpBlock_3/Dense_0/kernel": "mlp.fc1", "MlpBlock_3/Dense_1/kernel": "mlp.fc2"}[rest]
				if fc == "" {
					set(k, t.Shape, t.F32)
					continue
				}
				set(out+fc+".weight", []int{t.Shape[1], t.Shape[0]}, transpose(t.F32, t.Shape[0], t.Shape[1]))
			case rest == "MlpBlock_3/Dense_0/bias":
				set(out+"mlp.fc1.bias", t.Shape, t.F32)
			case rest == "MlpBlock_3/Dense_1/bias":
				set(out+"mlp.fc2.bias", t.Shape, t.F32)
			case strings.HasPrefix(rest, att+"query/") || strings.HasPrefix(rest, att+"key/") || strings.HasPrefix(rest, att+"value/"):
				if strings.HasSuffix(rest, "/kernel") {
					w, shape, err := qkvKernel(get, pre+att)
					if err != nil {
						return nil, err
					}
					set(out+"attn.qkv.weight", shape, w)
				} else if strings.HasSuffix(rest, "/bias") {
					var b []float32
					for _, part := range []string{"query", "key", "value"} {
						t, err := get(pre+att+part+"/bias", 2)
						if err != nil {
							return nil, err
						}
						b = append(b, t.F32...)
					}
					set(out+"attn.qkv.bias", []int{len(b)}, b)
				} else {
					set(k, t.Shape, t.F32)
				}
			case rest == att+"out/kernel": // (heads, D, C) → C × heads·D
				if _, err := get(k, 3); err != nil {
					return nil, err
				}
				hd, c := t.Shape[0]*t.Shape[1], t.Shape[2]
				set(out+"attn.proj.weight", []int{c, hd}, transpose(t.F32, hd, c))
			case rest == att+"out/bias":
				set(out+"attn.proj.bias", t.Shape, t.F32)
			default:
				set(k, t.Shape, t.F32)
			}
		default: // pre_logits/*, head/*, anything else: unexpected
			set(k, t.Shape, t.F32)
		}
	}
	return d, nil
}

// qkvKernel concatenates the query, key and value kernels (C, heads, D)
// of one attention layer into timm's qkv weight (3·heads·D) × C.
func qkvKernel(get func(string, int) (*state.Tensor, error), pre string) ([]float32, []int, error) {
	var w []float32
	var c, hd int
	for _, part := range []string{"query", "key", "value"} {
		t, err := get(pre+part+"/kernel", 3)
		if err != nil {
			return nil, nil, err
		}
		if w != nil && (t.Shape[0] != c || t.Shape[1]*t.Shape[2] != hd) {
			return nil, nil, fmt.Errorf("npz array %s%s/kernel has shape %s, the query's is (%d, %d heads·D)", pre, part, state.FormatShape(t.Shape), c, hd)
		}
		c, hd = t.Shape[0], t.Shape[1]*t.Shape[2]
		w = append(w, transpose(t.F32, c, hd)...)
	}
	return w, []int{3 * hd, c}, nil
}

// transpose returns the c×r transpose of an r×c row-major matrix.
func transpose(v []float32, r, c int) []float32 {
	out := make([]float32, len(v))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = v[i*c+j]
		}
	}
	return out
}

// resampleInDict replaces d's pos_embed, made for another patch grid, by
// one resampled to p's, and describes what it did.
func resampleInDict(d *state.Dict, p *nn.Param) (string, error) {
	t := d.Tensors["pos_embed"]
	bad := fmt.Errorf("pos_embed: shape %s in the checkpoint, %v in the model, and neither is 1 × (1 + a square grid) × width with the same width",
		state.FormatShape(t.Shape), p.Shape)
	if len(t.Shape) != 3 || len(p.Shape) != 3 || t.Shape[0] != 1 || p.Shape[0] != 1 || t.Shape[2] != p.Shape[2] {
		return "", bad
	}
	oldG, okOld := squareGrid(t.Shape[1] - 1)
	newG, okNew := squareGrid(p.Shape[1] - 1)
	if !okOld || !okNew {
		return "", bad
	}
	c := p.Shape[2]
	t.F32 = ResamplePosEmbed(t.F32, 1, oldG, oldG, newG, newG, c)
	t.Shape = append([]int(nil), p.Shape...)
	return fmt.Sprintf("pos_embed resampled from a %d×%d to a %d×%d patch grid (bicubic, the cls position kept)", oldG, oldG, newG, newG), nil
}

// squareGrid returns g with g·g = n.
func squareGrid(n int) (int, bool) {
	if n <= 0 {
		return 0, false
	}
	g := int(math.Round(math.Sqrt(float64(n))))
	return g, g*g == n
}

// ResamplePosEmbed resamples a position embedding of prefix tokens (the
// cls token's positions, kept as they are) then an oldH×oldW grid of
// c-wide positions to a newH×newW grid, as timm's resample_abs_pos_embed
// does: the grid as a c-channel image through F.interpolate(mode="bicubic",
// align_corners=False, antialias=False), i.e. cubic convolution with
// A = −0.75, source coordinates (dst + ½)·old/new − ½, neighbours clamped
// to the border. Computed in float64.
func ResamplePosEmbed(pos []float32, prefix, oldH, oldW, newH, newW, c int) []float32 {
	out := make([]float32, (prefix+newH*newW)*c)
	copy(out, pos[:prefix*c])
	grid := pos[prefix*c:]
	ys, wy := cubicTaps(oldH, newH)
	xs, wx := cubicTaps(oldW, newW)
	acc := make([]float64, c)
	for y := 0; y < newH; y++ {
		for x := 0; x < newW; x++ {
			clear(acc)
			for i := 0; i < 4; i++ {
				for j := 0; j < 4; j++ {
					w := wy[y][i] * wx[x][j]
					src := grid[(ys[y][i]*oldW+xs[x][j])*c:]
					for k := range acc {
						acc[k] += w * float64(src[k])
					}
				}
			}
			dst := out[(prefix+y*newW+x)*c:]
			for k, v := range acc {
				dst[k] = float32(v)
			}
		}
	}
	return out
}

// cubicTaps returns, for each of out positions, the four source indices
// (clamped) and weights of PyTorch's bicubic interpolation from in.
func cubicTaps(in, out int) ([][4]int, [][4]float64) {
	const a = -0.75
	cc1 := func(x float64) float64 { return ((a+2)*x-(a+3))*x*x + 1 }
	cc2 := func(x float64) float64 { return ((a*x-5*a)*x+8*a)*x - 4*a }
	scale := float64(in) / float64(out)
	idx, wts := make([][4]int, out), make([][4]float64, out)
	for o := 0; o < out; o++ {
		src := (float64(o)+0.5)*scale - 0.5
		f := math.Floor(src)
		t := src - f
		wts[o] = [4]float64{cc2(t + 1), cc1(t), cc1(1 - t), cc2(2 - t)}
		for i := 0; i < 4; i++ {
			idx[o][i] = min(max(int(f)-1+i, 0), in-1)
		}
	}
	return idx, wts
}
