package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pcx-dev/pcx/pointcloud"
)

// run runs pcx with args in-process and returns what it printed on stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, _, err := runCapture(t, args...)
	return out, err
}

// runCapture runs pcx with args in-process and returns what it printed on
// stdout and on its error writer.
func runCapture(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	r, w, perr := os.Pipe()
	if perr != nil {
		t.Fatal(perr)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	var eb bytes.Buffer
	app := newApp()
	app.ErrWriter = &eb
	err = app.Run(interspersed(app, append([]string{"pcx"}, args...)))
	w.Close()
	os.Stdout = old
	return <-done, eb.String(), err
}

func TestInterspersed(t *testing.T) {
	app := newApp()
	for _, tc := range []struct{ in, want string }{
		{"pcx sample m.off --points 5 --out o.ply", "pcx sample --points 5 --out o.ply m.off"},
		{"pcx fps in.ply --plain --n 3", "pcx fps --plain --n 3 in.ply"},
		{"pcx data info synth --json --variant bg", "pcx data info --json --variant bg synth"},
		{"pcx bench fps --batch=2", "pcx bench fps --batch=2"},
		{"pcx bench knn --points 256 --k 8 x", "pcx bench knn --points 256 --k 8 x"},
		{"pcx group a.ply --k 4 -- -odd", "pcx group --k 4 a.ply -- -odd"},
	} {
		got := strings.Join(interspersed(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("%q → %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSampleFPSGroup(t *testing.T) {
	dir := t.TempDir()
	mesh := filepath.Join("..", "..", "testdata", "formats", "sphere.off")
	out := filepath.Join(dir, "s.ply")
	if _, err := run(t, "sample", mesh, "--points", "300", "--out", out, "--seed", "3"); err != nil {
		t.Fatal(err)
	}
	c, err := pointcloud.ReadFile(out)
	if err != nil || c.Len() != 300 {
		t.Fatalf("sampled file: %v, %v", c, err)
	}
	cen := filepath.Join(dir, "c.xyz")
	if _, err := run(t, "fps", out, "--n", "10", "--out", cen); err != nil {
		t.Fatal(err)
	}
	cc, err := pointcloud.ReadFile(cen)
	if err != nil || cc.Len() != 10 || cc.Point(0) != c.Point(0) {
		t.Fatalf("fps output: %v %v", cc, err)
	}
	js, err := run(t, "group", out, "--groups", "8", "--k", "5", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep groupReport
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("group --json: %v\n%s", err, js)
	}
	if len(rep.Idx) != 8 || len(rep.Idx[0]) != 5 || rep.Idx[0][0] != rep.CentreIdx[0] {
		t.Errorf("group report: %+v", rep)
	}
}

func TestDataInfoAndExport(t *testing.T) {
	js, err := run(t, "data", "info", "synth", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Classes []string
		Train   struct{ Samples int }
	}
	if err := json.Unmarshal([]byte(js), &info); err != nil || len(info.Classes) < 10 || info.Train.Samples == 0 {
		t.Fatalf("data info --json: %v %s", err, js)
	}
	dir := t.TempDir()
	if _, err := run(t, "data", "export", "synth", "--points", "64", "--format", "npy", "--out", dir); err != nil {
		t.Fatal(err)
	}
	js2, err := run(t, "data", "info", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var back struct{ Classes []string }
	if err := json.Unmarshal([]byte(js2), &back); err != nil || !reflect.DeepEqual(back.Classes, info.Classes) {
		t.Fatalf("exported set reads back with classes %v (%v)", back.Classes, err)
	}
}

func TestBadInputNamesFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "lying.ply")
	os.WriteFile(bad, []byte("ply\nformat ascii 1.0\nelement vertex 100\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n"), 0o644)
	for _, args := range [][]string{
		{"fps", bad, "--n", "2"},
		{"group", bad},
		{"sample", bad},
		{"data", "info", filepath.Join(dir, "missing")},
	} {
		_, err := run(t, args...)
		if err == nil {
			t.Errorf("%v: no error", args)
			continue
		}
		if !strings.Contains(err.Error(), dir) {
			t.Errorf("%v: error %q does not name the file", args, err)
		}
	}
	if _, err := run(t, "fps", filepath.Join("..", "..", "testdata", "formats", "sphere.off"), "--n", "100000"); err == nil {
		t.Error("fps asked for more centres than points: no error")
	}
}

func TestBenchJSON(t *testing.T) {
	js, err := run(t, "bench", "knn", "--points", "256", "--centres", "16", "--k", "8", "--batch", "2", "--repeat", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r benchReport
	if err := json.Unmarshal([]byte(js), &r); err != nil || r.MsPerCloud <= 0 || r.K != 8 {
		t.Fatalf("bench --json: %v %s", err, js)
	}
}

func TestParamsCommand(t *testing.T) {
	for _, tc := range []struct {
		method  string
		tunable int
	}{{"full", 22093327}, {"linear", 267535}, {"dapt", 1087771}, {"dapt-x", 422671}} {
		js, err := run(t, "params", "--preset", "scan_objbg", "--method", tc.method, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var r struct{ Tunable int }
		if err := json.Unmarshal([]byte(js), &r); err != nil || r.Tunable != tc.tunable {
			t.Errorf("%s: tunable %d (%v), want %d", tc.method, r.Tunable, err, tc.tunable)
		}
	}
	if _, err := run(t, "params", "--method", "lora"); err == nil {
		t.Error("unknown method accepted")
	}
}
