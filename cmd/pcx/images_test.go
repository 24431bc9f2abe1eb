package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// imageFolder writes a two-class image folder (dim and bright 10×12
// images) without a train/test split.
func imageFolder(t *testing.T, perClass int) string {
	t.Helper()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	for ci, class := range []string{"dim", "bright"} {
		if err := os.MkdirAll(filepath.Join(dir, class), 0o755); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < perClass; k++ {
			m := image.NewNRGBA(image.Rect(0, 0, 12, 10))
			for i := range m.Pix {
				m.Pix[i] = uint8(30 + 160*ci + r.IntN(50))
				if i%4 == 3 {
					m.Pix[i] = 255
				}
			}
			m.SetNRGBA(0, 0, color.NRGBA{0, 0, 0, 255})
			var b bytes.Buffer
			if err := png.Encode(&b, m); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, class, string(rune('a'+k))+".png"), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// TestImageTrainEvalPredict: pcx train images, then eval, predict and
// resume of the finished run, as a user runs them.
func TestImageTrainEvalPredict(t *testing.T) {
	folder := imageFolder(t, 10)
	runDir := filepath.Join(t.TempDir(), "run")
	out, err := run(t, "train", "images", "--data", folder, "--preset", "vit-mini", "--image-size", "8", "--epochs", "2",
		"--batch", "4", "--method", "adapter-x", "--out", runDir, "--plots=false")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"adapter-x on ", "16 train / 4 test, 8×8", "best test accuracy", "pcx eval --ckpt"} {
		if !strings.Contains(out, want) {
			t.Errorf("train output lacks %q:\n%s", want, out)
		}
	}
	out, err = run(t, "eval", "--ckpt", runDir)
	if err != nil || !strings.Contains(out, "(4 test samples)") || !strings.Contains(out, "bright") {
		t.Errorf("eval: %v\n%s", err, out)
	}
	if _, err := run(t, "eval", "--ckpt", runDir, "--vote"); err == nil || !strings.Contains(err.Error(), "one pass") {
		t.Errorf("eval --vote of an image model: %v", err)
	}
	img := filepath.Join(folder, "dim", "a.png")
	out, err = run(t, "predict", "--ckpt", runDir, "--top", "1", img)
	if err != nil || !strings.HasPrefix(out, img+":") {
		t.Errorf("predict: %v\n%s", err, out)
	}
	out, err = run(t, "train", "images", "--resume", "--out", runDir)
	if err != nil || !strings.Contains(out, "is complete") {
		t.Errorf("resume of a finished run: %v\n%s", err, out)
	}
	if _, err := run(t, "train", "images", "--resume", "--out", runDir, "--epochs", "3"); err == nil {
		t.Error("--resume accepted a setting")
	}
	// The run's weights as a pretrained backbone at another image size:
	// the position embedding is resampled from 2×2 to 3×3 patches.
	out, err = run(t, "train", "images", "--data", folder, "--preset", "vit-mini", "--image-size", "12", "--epochs", "1",
		"--batch", "4", "--method", "adaptformer", "--ckpt", filepath.Join(runDir, "last.safetensors"),
		"--out", filepath.Join(t.TempDir(), "ft"), "--plots=false")
	if err != nil || !strings.Contains(out, "loaded ") || !strings.Contains(out, "2×2") || !strings.Contains(out, "3×3") {
		t.Errorf("fine-tuning from a run's checkpoint at 12×12: %v\n%s", err, out)
	}
	if _, err := run(t, "train", "images", "--data", folder, "--method", "adapter", "--smoa-only"); err == nil {
		t.Error("--smoa-only accepted for adapter")
	}
	if _, err := run(t, "train", "images", "--data", folder, "--method", "dapt-x"); err == nil || !strings.Contains(err.Error(), "unknown image method") {
		t.Errorf("a point-cloud method on images: %v", err)
	}
}

// TestVTABSweep: two exported tasks, the sweep writes the Table 1 row and
// keeps finished tasks on a second run.
func TestVTABSweep(t *testing.T) {
	folder := imageFolder(t, 10)
	root := filepath.Join(t.TempDir(), "vtab")
	for _, task := range []string{"fm_a", "fm_b"} {
		out, err := run(t, "data", "vtab1k", "images", "--data", folder, "--out", root, "--task", task, "--train", "12", "--val", "2")
		if err != nil || !strings.Contains(out, "12 train, 2 val") {
			t.Fatalf("data vtab1k: %v\n%s", err, out)
		}
	}
	if _, err := run(t, "data", "vtab1k", "images", "--data", folder, "--out", root, "--task", "fm_b"); err == nil {
		t.Error("data vtab1k overwrote a task")
	}
	sweep := filepath.Join(t.TempDir(), "sweep")
	args := []string{"vtab", "--data", root, "--tasks", "fm_a,fm_b", "--preset", "vit-mini", "--image-size", "8",
		"--epochs", "1", "--batch", "4", "--method", "adaptformer-x", "--out", sweep, "--plots=false"}
	if _, err := run(t, args...); err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile(filepath.Join(sweep, "table.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"task,group,best_acc", "fm_a,other,", "fm_b,other,", "mean_other,other,", "average,,"} {
		if !strings.Contains(string(csv), want) {
			t.Errorf("table.csv lacks %q:\n%s", want, csv)
		}
	}
	md, _ := os.ReadFile(filepath.Join(sweep, "table.md"))
	if !strings.Contains(string(md), "| adaptformer-x (best) |") {
		t.Errorf("table.md:\n%s", md)
	}
	out, err := run(t, args...)
	if err != nil || strings.Count(out, "complete (1 epochs), kept") != 2 {
		t.Errorf("second sweep: %v\n%s", err, out)
	}
	if _, err := run(t, "vtab", "--data", root, "--tasks", "cifar10"); err == nil || !strings.Contains(err.Error(), "neither a VTAB-1K task") {
		t.Errorf("unknown task: %v", err)
	}
	if _, err := run(t, "vtab", "--data", root, "--tasks", "svhn", "--out", sweep); err == nil || !strings.Contains(err.Error(), "--skip-missing") {
		t.Errorf("missing task: %v", err)
	}
}

// TestImageParams: the counts of Table 1's methods on ViT-B/16 without
// the head.
func TestImageParams(t *testing.T) {
	out, err := run(t, "params", "--model", "vit-b16")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"233668", "156768", "1189632", "185856"} {
		if !strings.Contains(out, want) {
			t.Errorf("params lacks %q:\n%s", want, out)
		}
	}
	out, err = run(t, "params", "--model", "vit-b16", "--method", "adapter-x", "--smoa-only")
	if err != nil || !strings.Contains(out, "148992") {
		t.Errorf("smoa-only: %v\n%s", err, out)
	}
}
