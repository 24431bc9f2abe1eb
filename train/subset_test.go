package train

import (
	"slices"
	"testing"
)

// TestSubset: the subset is the seed's, of the asked size, without
// repeats, and refused when larger than the split.
func TestSubset(t *testing.T) {
	a, err := Subset(10, 100, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Subset(10, 100, 3)
	c, _ := Subset(10, 100, 4)
	seen := map[int]bool{}
	for i, v := range a {
		if v != b[i] {
			t.Fatal("the same seed picked another subset")
		}
		if seen[v] || v < 0 || v >= 100 {
			t.Fatalf("subset %v", a)
		}
		seen[v] = true
	}
	if slices.Equal(a, c) {
		t.Error("another seed picked the same subset")
	}
	if _, err := Subset(101, 100, 0); err == nil {
		t.Error("a subset larger than the split was accepted")
	}
	if s, _ := Subset(0, 100, 0); s != nil {
		t.Error("no subset asked, one given")
	}
}
