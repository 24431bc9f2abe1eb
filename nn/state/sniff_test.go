package state

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSniff tells safetensors files from PyTorch ones (zip and legacy) by
// their first bytes, and refuses directories, text and short files as not
// checkpoints, naming the file.
func TestSniff(t *testing.T) {
	for file, want := range map[string]string{
		"hand.safetensors":    FormatSafetensors,
		"pointmae.pth":        FormatPTH,
		"pointmae_legacy.pth": FormatPTH,
		"pointmae_proto4.pth": FormatPTH,
	} {
		got, err := Sniff(filepath.Join(fixtures, file))
		if got != want || err != nil {
			t.Errorf("%s: %q, %v; want %q", file, got, err, want)
		}
	}
	dir := t.TempDir()
	yaml := writeTemp(t, "config.yaml", []byte("# pcx run configuration\npcx: 1\ndata: synth\n"))
	for _, c := range []struct{ path, want string }{
		{dir, "is a directory"},
		{yaml, `is not a checkpoint (it starts with "# pcx run"`},
		{writeTemp(t, "empty.safetensors", nil), "it is empty"},
		// A header length larger than the file.
		{writeTemp(t, "long.safetensors", []byte{0xff, 0, 0, 0, 0, 0, 0, 0, '{', '}'}), "is not a checkpoint"},
		{filepath.Join(dir, "missing.safetensors"), "no such file"},
	} {
		got, err := Sniff(c.path)
		if err == nil || got != "" || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %q, %v; want an error naming it, with %q", c.path, got, err, c.want)
		}
	}
	// A safetensors file pcx writes is recognised.
	p := filepath.Join(dir, "w.safetensors")
	if err := WriteSafetensors(p, sampleDict()); err != nil {
		t.Fatal(err)
	}
	if got, err := Sniff(p); got != FormatSafetensors || err != nil {
		t.Errorf("written safetensors: %q, %v", got, err)
	}
}
