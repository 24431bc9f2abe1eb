package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/pretrain"
)

// idxFolder writes a tiny Fashion-MNIST-like idx set: n training and m
// test 8×8 images with labels.
func idxFolder(t *testing.T, n, m int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fashion")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, dims []int, data []byte) {
		var b bytes.Buffer
		b.Write([]byte{0, 0, 8, byte(len(dims))})
		for _, d := range dims {
			binary.Write(&b, binary.BigEndian, uint32(d))
		}
		b.Write(data)
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(b.Bytes())
		w.Close()
		if err := os.WriteFile(filepath.Join(dir, name), z.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []struct {
		prefix string
		n      int
	}{{"train", n}, {"t10k", m}} {
		pix := make([]byte, p.n*64)
		for i := range pix {
			pix[i] = byte(i*7 + (i/64)*13)
		}
		labels := make([]byte, p.n)
		for i := range labels {
			labels[i] = byte(i % 10)
		}
		write(p.prefix+"-images-idx3-ubyte.gz", []int{p.n, 8, 8}, pix)
		write(p.prefix+"-labels-idx1-ubyte.gz", []int{p.n}, labels)
	}
	return dir
}

// TestPretrainImagesCommand: pcx pretrain images runs on a folder, writes
// its files (the reconstruction figure among them), resumes, repeats, and
// its backbone fine-tunes with pcx train images --ckpt.
func TestPretrainImagesCommand(t *testing.T) {
	folder := imageFolder(t, 6)
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"pretrain", "images", "--data", folder, "--preset", "vit-mini", "--image-size", "8", "--epochs", "2",
		"--batch", "4", "--mask-ratio", "0.5", "--seed", "3", "--out", out}
	text, err := run(t, append(args, "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Metric, Backbone string
		Best, Last       float64
		Figures          []string
	}
	if err := json.Unmarshal([]byte(text[strings.Index(text, "{"):]), &res); err != nil {
		t.Fatalf("%v in %q", err, text)
	}
	if res.Metric != "train_loss" || !(res.Best > 0) || res.Backbone != filepath.Join(out, pretrain.BackboneFile) || len(res.Figures) != 2 {
		t.Errorf("result %+v", res)
	}
	for _, f := range []string{"config.yaml", "metrics.jsonl", "metrics.csv", "last.safetensors", "best.safetensors", "backbone.safetensors", "curves.png", "reconstruction.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if f, err := os.Open(filepath.Join(out, "reconstruction.png")); err == nil {
		m, err := png.Decode(f)
		f.Close()
		if err != nil || m.Bounds().Dy() < 8*100 {
			t.Errorf("reconstruction.png: %v, %v (8 rows wanted)", err, m.Bounds())
		}
	}
	cfg, err := pretrain.ReadImageConfig(filepath.Join(out, pretrain.ConfigFile))
	if err != nil || cfg.Model.MaskRatio != 0.5 || cfg.Model.ImageSize != 8 || cfg.Model.Width != 192 || !cfg.TestLoss || cfg.Train.Epochs != 2 || cfg.Kind != "images" {
		t.Errorf("config.yaml %+v, %v", cfg, err)
	}
	ms := metricsOf(t, out)
	if len(ms) != 2 {
		t.Fatalf("%d epochs", len(ms))
	}
	if _, ok := ms[0].Get("test_loss"); !ok {
		t.Errorf("no test_loss in %v", ms[0].Names())
	}
	if text, err := run(t, "pretrain", "images", "--resume", "--out", out); err != nil || !strings.Contains(text, "complete") {
		t.Errorf("resuming a complete run: %q, %v", text, err)
	}
	if _, err := run(t, "pretrain", "fashion-mnist", "--resume", "--out", out); err == nil || !strings.Contains(err.Error(), "pcx pretrain images run") {
		t.Errorf("resuming with another kind: %v", err)
	}
	if _, err := run(t, "pretrain", "synth", "--resume", "--out", out); err == nil || !strings.Contains(err.Error(), "image pretraining configuration") {
		t.Errorf("resuming an image run as synth: %v", err)
	}
	if _, err := run(t, args...); err == nil {
		t.Error("a new run over a finished one without --overwrite: no error")
	}
	bb, _ := os.ReadFile(filepath.Join(out, pretrain.BackboneFile))
	if _, err := run(t, append(args, "--overwrite", "--plots=false")...); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(filepath.Join(out, pretrain.BackboneFile)); !bytes.Equal(again, bb) {
		t.Error("the run did not repeat: backbone.safetensors differs")
	}
	if _, err := os.Stat(filepath.Join(out, "reconstruction.png")); err == nil {
		t.Error("--overwrite kept the old run's reconstruction.png")
	}
	// The backbone fine-tunes: every backbone weight loaded.
	ft := filepath.Join(t.TempDir(), "ft")
	text, err = run(t, "train", "images", "--data", folder, "--preset", "vit-mini", "--image-size", "8", "--epochs", "1",
		"--batch", "4", "--method", "adaptformer", "--ckpt", res.Backbone, "--out", ft, "--plots=false")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "loaded "+res.Backbone) || !onlyHeadAdaptersMissing(text) {
		t.Errorf("fine-tuning did not load the backbone whole:\n%s", text)
	}
}

// TestPretrainFashionMNISTCommand: pcx pretrain fashion-mnist on idx files
// with --subset, its held-out images the test split's, and its backbone
// loads into pcx train fashion-mnist.
func TestPretrainFashionMNISTCommand(t *testing.T) {
	data := idxFolder(t, 24, 6)
	out := filepath.Join(t.TempDir(), "run")
	text, err := run(t, "pretrain", "fashion-mnist", "--data", data, "--image-size", "8", "--subset", "12", "--epochs", "1",
		"--batch", "4", "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(12 training images, 6 held out)", "figure " + filepath.Join(out, "reconstruction.png"),
		"fine-tune: pcx train fashion-mnist --data " + data + " --ckpt " + filepath.Join(out, pretrain.BackboneFile) + " --image-size 8"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	ft := filepath.Join(t.TempDir(), "ft")
	text, err = run(t, "train", "fashion-mnist", "--data", data, "--image-size", "8", "--epochs", "1", "--batch", "4",
		"--method", "linear", "--ckpt", filepath.Join(out, pretrain.BackboneFile), "--out", ft, "--plots=false")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "loaded ") || !onlyHeadAdaptersMissing(text) {
		t.Errorf("fine-tuning did not load the backbone whole:\n%s", text)
	}
}

// TestPretrainImagesBadFlags: settings that cannot run are refused before
// a run directory is made.
func TestPretrainImagesBadFlags(t *testing.T) {
	folder := imageFolder(t, 2)
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	pc := filepath.Join(dir, "pc.yaml")
	os.WriteFile(pc, []byte("pcx: 1\ntask: pretrain\ndata: synth\n"), 0o644)
	for _, tc := range []struct {
		kind string
		args []string
		want string
	}{
		{"images", []string{"--mask-ratio", "1.5"}, "mask ratio"},
		{"images", []string{"--mask-ratio", "0.99"}, "masks 4 of 4"},
		{"images", []string{"--epochs", "0"}, "epochs"},
		{"images", []string{"--preset", "nope"}, "unknown image pretraining preset"},
		{"images", []string{"--image-size", "10"}, "patches"},
		{"images", []string{"--subset", "-2"}, "subset"},
		{"images", []string{"--resume", "--overwrite"}, "give one of them"},
		{"images", []string{"--resume", "--epochs", "3"}, "--epochs"},
		{"images", []string{"--resume"}, "no run to resume"},
		{"images", []string{"extra"}, "takes no arguments"},
		{"images", []string{"--config", pc}, "point-cloud pretraining configuration"},
		{"cifar", []string{"--data", ""}, "needs --data"},
	} {
		args := append([]string{"pretrain", tc.kind, "--out", out}, tc.args...)
		if tc.kind == "images" && tc.args[0] != "--resume" {
			args = append(args, "--data", folder, "--preset", "vit-mini", "--image-size", "8")
			if tc.want == "patches" || tc.want == "unknown image pretraining preset" {
				args = args[:len(args)-4]
				args = append(args, "--data", folder)
				if tc.want == "patches" {
					args = append(args, "--preset", "vit-mini")
				}
			}
		}
		_, err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v, want an error naming %q", tc.kind, tc.args, err, tc.want)
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Fatalf("%v: %s was made", tc.args, out)
		}
	}
}

// onlyHeadAdaptersMissing reports whether a fine-tuning run's load report
// misses no backbone weight: only the head's and the adapters' keys.
func onlyHeadAdaptersMissing(text string) bool {
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, "missing keys: ")
		if !ok {
			continue
		}
		for _, k := range strings.Split(rest, ", ") {
			if !strings.HasPrefix(k, "head.") && !strings.Contains(k, ".adaptmlp.") {
				return false
			}
		}
	}
	return true
}

// TestPretrainCIFARCommand: pcx pretrain cifar on CIFAR-10's binary files
// pretrains the vit-mini at pcx train cifar's 32 pixels.
func TestPretrainCIFARCommand(t *testing.T) {
	dir := t.TempDir()
	rec := func(k int) []byte {
		b := []byte{byte(k % 10)}
		for i := 0; i < 3072; i++ {
			b = append(b, byte(i/32*4+k*9+i%32*3))
		}
		return b
	}
	for b := 1; b <= 5; b++ {
		if err := os.WriteFile(filepath.Join(dir, "data_batch_"+string(rune('0'+b))+".bin"), append(rec(2*b), rec(2*b+1)...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "test_batch.bin"), append(rec(20), rec(21)...), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "run")
	text, err := run(t, "pretrain", "cifar", "--data", dir, "--epochs", "1", "--batch", "5", "--out", out, "--plots=false")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(10 training images, 2 held out)", "48 of 64 patches masked, 32×32 images",
		"fine-tune: pcx train cifar --data " + dir + " --ckpt " + filepath.Join(out, pretrain.BackboneFile) + "\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}
