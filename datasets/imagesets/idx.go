package imagesets

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pcx-dev/pcx/internal/memlimit"
)

// FashionMNISTClasses are Fashion-MNIST's class names, in label order.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// maxDeflateRatio bounds how much deflate can expand: about 1032 to 1.
const maxDeflateRatio = 1032

// maxIDXSide bounds an idx image's side.
const maxIDXSide = 1 << 14

// openMaybeGzip opens p, transparently decompressing gzip (recognised by
// its magic bytes). limit is the most bytes the content can have: the
// file's size, or its size times deflate's largest ratio.
func openMaybeGzip(p string) (r io.Reader, limit int64, closer func(), err error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		z, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, 0, nil, fmt.Errorf("%s: bad gzip header: %v", p, err)
		}
		return bufio.NewReaderSize(z, 1<<16), memlimit.Bytes(st.Size(), maxDeflateRatio), func() { f.Close() }, nil
	}
	return br, st.Size(), func() { f.Close() }, nil
}

// readIDX reads an idx file of unsigned bytes with dims dimensions (1 for
// labels, 3 for images), returning the dimensions and the data.
func readIDX(p string, dims int) ([]int, []byte, error) {
	r, limit, closer, err := openMaybeGzip(p)
	if err != nil {
		return nil, nil, err
	}
	defer closer()
	return parseIDX(p, r, limit, dims)
}

func parseIDX(p string, r io.Reader, limit int64, dims int) ([]int, []byte, error) {
	hdr := make([]byte, 4+4*dims)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, nil, fmt.Errorf("%s: truncated idx header: %v", p, err)
	}
	if hdr[0] != 0 || hdr[1] != 0 || hdr[2] != 0x08 {
		return nil, nil, fmt.Errorf("%s: not an idx file of unsigned bytes (magic % x)", p, hdr[:4])
	}
	if int(hdr[3]) != dims {
		return nil, nil, fmt.Errorf("%s: idx file of %d dimensions, want %d", p, hdr[3], dims)
	}
	shape := make([]int, dims)
	need := int64(1)
	for i := range shape {
		v := binary.BigEndian.Uint32(hdr[4+4*i:])
		if v == 0 || v > 1<<30 || (i > 0 && v > maxIDXSide) {
			return nil, nil, fmt.Errorf("%s: idx dimension %d is %d", p, i, v)
		}
		shape[i] = int(v)
		need = memlimit.Bytes(need, int64(v))
	}
	if need > limit-int64(len(hdr)) {
		return nil, nil, fmt.Errorf("%s: idx header declares %d bytes of data, more than the file can hold", p, need)
	}
	if err := memlimit.Check("reading "+p, need); err != nil {
		return nil, nil, err
	}
	data := make([]byte, need)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, nil, fmt.Errorf("%s: truncated: the header declares %d bytes of data: %v", p, need, err)
	}
	var one [1]byte
	if n, _ := r.Read(one[:]); n > 0 {
		return nil, nil, fmt.Errorf("%s: data after the %d bytes the header declares", p, need)
	}
	return shape, data, nil
}

// findIDX finds one of the idx files under its usual names.
func findIDX(dir, prefix, kind string) (string, error) {
	var tried []string
	for _, sep := range []string{"-", "."} {
		for _, ext := range []string{"", ".gz"} {
			n := prefix + sep + kind + "-ubyte" + ext
			p := filepath.Join(dir, n)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			tried = append(tried, n)
		}
	}
	return "", fmt.Errorf("%s: no idx file %s", dir, strings.Join(tried, ", "))
}

// OpenIDX opens MNIST-style idx files (train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
// each optionally gzipped) in dir, decoding them into memory. The classes
// are Fashion-MNIST's when dir's path mentions "fashion", the digits
// otherwise; OpenIDXNamed chooses explicitly.
func OpenIDX(dir string) (*Dataset, error) {
	abs, _ := filepath.Abs(dir)
	return OpenIDXNamed(dir, strings.Contains(strings.ToLower(abs), "fashion"))
}

// OpenIDXNamed is OpenIDX with the class names chosen by fashion:
// Fashion-MNIST's, or the digits "0" to "9".
func OpenIDXNamed(dir string, fashion bool) (*Dataset, error) {
	classes := numbered(10)
	if fashion {
		classes = append([]string(nil), FashionMNISTClasses...)
	}
	d := &Dataset{Name: filepath.Base(filepath.Clean(dir)), Classes: classes}
	for _, part := range []struct {
		prefix, name string
		dst          **Split
	}{{"train", "train", &d.Train}, {"t10k", "test", &d.Test}} {
		ip, err := findIDX(dir, part.prefix, "images-idx3")
		if err != nil {
			return nil, err
		}
		lp, err := findIDX(dir, part.prefix, "labels-idx1")
		if err != nil {
			return nil, err
		}
		lshape, labels, err := readIDX(lp, 1)
		if err != nil {
			return nil, err
		}
		ishape, pix, err := readIDX(ip, 3)
		if err != nil {
			return nil, err
		}
		if ishape[0] != lshape[0] {
			return nil, fmt.Errorf("%s: %d images but %s has %d labels", ip, ishape[0], lp, lshape[0])
		}
		s := &Split{Labels: make([]int, len(labels)), pix: pix, w: ishape[2], h: ishape[1], ch: 1, part: part.name}
		for i, l := range labels {
			if int(l) >= len(classes) {
				return nil, fmt.Errorf("%s: label %d of image %d is outside the %d classes", lp, l, i, len(classes))
			}
			s.Labels[i] = int(l)
		}
		*part.dst = s
	}
	return d, nil
}
