package datasets

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testdata = "../testdata/datasets"

func td(parts ...string) string {
	return filepath.Join(append([]string{testdata}, parts...)...)
}

// expected is what numpy saw in the fixtures (testdata/datasets/expected.json,
// written by scripts/fixtures_datasets.py).
type expected struct {
	H5 map[string]struct {
		Shape  []int     `json:"shape"`
		Labels []int     `json:"labels"`
		Sum    float64   `json:"sum"`
		Last   []float64 `json:"last"`
	} `json:"h5"`
	Dat map[string]struct {
		Shape             []int     `json:"shape"`
		Labels            []int     `json:"labels"`
		XYZSum            float64   `json:"xyz_sum"`
		NormalSum         float64   `json:"normal_sum"`
		Last              []float64 `json:"last"`
		Normalized16First []float64 `json:"normalized16_first"`
		Normalized16Abs   float64   `json:"normalized16_abs_sum"`
	} `json:"dat"`
	Txt map[string][]struct {
		Item          string  `json:"item"`
		Points        int     `json:"points"`
		Sum           float64 `json:"sum"`
		NormalizedAbs float64 `json:"normalized_abs_sum"`
	} `json:"txt"`
}

func loadExpected(t testing.TB) *expected {
	t.Helper()
	data, err := os.ReadFile(td("expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

func sum(vals []float32) float64 {
	s := 0.0
	for _, v := range vals {
		s += float64(v)
	}
	return s
}

func sumAll(vals [][]float32) float64 {
	s := 0.0
	for _, v := range vals {
		s += sum(v)
	}
	return s
}

func absSum(vals []float32) float64 {
	s := 0.0
	for _, v := range vals {
		s += math.Abs(float64(v))
	}
	return s
}

func near(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// wantErr fails unless err is non-nil and contains every part.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
