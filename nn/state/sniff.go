package state

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
)

// The checkpoint formats Sniff tells apart.
const (
	FormatSafetensors = "safetensors"
	FormatPTH         = "pth"
)

// Sniff tells from its first bytes which checkpoint format the file at path
// holds: FormatSafetensors (an 8-byte little-endian header length that fits
// the file, then the header's opening '{') or FormatPTH (a zip archive, as
// torch.save writes since torch 1.6, or a pickle, whose first byte is the
// protocol opcode 0x80, as in the legacy format). Anything else, a
// directory included, is an error that names the file and says it is not a
// checkpoint. Sniff reads only the first bytes; the readers check the rest.
func Sniff(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("state: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("state: %w", err)
	}
	if st.IsDir() {
		return "", fmt.Errorf("state: %s is a directory, not a checkpoint file", path)
	}
	var head [9]byte
	n, err := io.ReadFull(f, head[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", fmt.Errorf("state: %s: %w", path, err)
	}
	b := head[:n]
	switch {
	case n == 9 && b[8] == '{' && binary.LittleEndian.Uint64(b) <= uint64(st.Size()-8):
		return FormatSafetensors, nil
	case n >= 4 && string(b[:4]) == "PK\x03\x04":
		return FormatPTH, nil
	case n >= 2 && b[0] == 0x80:
		return FormatPTH, nil
	}
	what := "it is empty"
	if n > 0 {
		what = "it starts with " + strconv.Quote(string(b))
	}
	return "", fmt.Errorf("state: %s is not a checkpoint (%s; a safetensors file starts with an 8-byte header length and '{', a PyTorch one is a zip archive or a pickle)", path, what)
}
