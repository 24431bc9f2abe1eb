package datasets

import (
	"fmt"
	"math"
	"strings"
)

// Split is one side (train or test) of a data set.
type Split struct {
	// Points holds each sample's coordinates, x, y, z of each point in turn.
	Points [][]float32
	// Normals is nil, or holds per sample a slice as long as its Points.
	Normals [][]float32
	// Labels holds each sample's class, an index into Dataset.Classes.
	Labels []int
}

// Len returns the number of samples.
func (s *Split) Len() int {
	if s == nil {
		return 0
	}
	return len(s.Labels)
}

// Dataset is a classification data set: class names and two splits.
type Dataset struct {
	// Name says what was loaded, e.g. "scanobjectnn-hardest" or "modelnet40".
	Name string
	// Classes names the classes; labels index it.
	Classes []string
	// Train and Test are never nil for a loaded data set, but may be empty.
	Train, Test *Split
	// LeftOut, when a loader leaves files out (LoadUnlabelled), says why
	// of each: "path: reason".
	LeftOut []string
}

// WithTrain returns a data set whose training split holds only the
// samples idx of d's, in that order (sharing their values); the rest of d
// is shared as is.
func (d *Dataset) WithTrain(idx []int) *Dataset {
	out := *d
	tr := &Split{Points: make([][]float32, len(idx)), Labels: make([]int, len(idx))}
	if d.Train.Normals != nil {
		tr.Normals = make([][]float32, len(idx))
	}
	for k, i := range idx {
		tr.Points[k], tr.Labels[k] = d.Train.Points[i], d.Train.Labels[i]
		if tr.Normals != nil {
			tr.Normals[k] = d.Train.Normals[i]
		}
	}
	out.Train = tr
	return &out
}

// Validate checks that the data set is consistent: as many labels as
// samples, labels that index Classes, whole points, normals (where present)
// matching their points, and finite values.
func (d *Dataset) Validate() error {
	if len(d.Classes) == 0 {
		return fmt.Errorf("%s: no classes", d.Name)
	}
	for _, sp := range []struct {
		name string
		s    *Split
	}{{"train", d.Train}, {"test", d.Test}} {
		if sp.s == nil {
			return fmt.Errorf("%s: no %s split", d.Name, sp.name)
		}
		if err := sp.s.validate(len(d.Classes)); err != nil {
			return fmt.Errorf("%s: %s split: %w", d.Name, sp.name, err)
		}
	}
	return nil
}

func (s *Split) validate(numClasses int) error {
	if len(s.Points) != len(s.Labels) {
		return fmt.Errorf("%d samples but %d labels", len(s.Points), len(s.Labels))
	}
	if s.Normals != nil && len(s.Normals) != len(s.Points) {
		return fmt.Errorf("%d samples but %d normal sets", len(s.Points), len(s.Normals))
	}
	for i, p := range s.Points {
		if err := checkSample(p); err != nil {
			return fmt.Errorf("sample %d %v", i, err)
		}
		if s.Normals != nil {
			if len(s.Normals[i]) != len(p) {
				return fmt.Errorf("sample %d has %d normal values for %d points", i, len(s.Normals[i]), len(p)/3)
			}
			if bad := nonFinite(s.Normals[i]); bad != "" {
				return fmt.Errorf("sample %d has %s normals", i, bad)
			}
		}
		if l := s.Labels[i]; l < 0 || l >= numClasses {
			return fmt.Errorf("sample %d has label %d, outside [0,%d)", i, l, numClasses)
		}
	}
	return nil
}

// checkSample returns an error, phrased to follow "sample N", when xyz is not
// a non-empty list of whole, finite points.
func checkSample(xyz []float32) error {
	if len(xyz) == 0 {
		return fmt.Errorf("has no points")
	}
	if len(xyz)%3 != 0 {
		return fmt.Errorf("has %d coordinates, not a multiple of 3", len(xyz))
	}
	if bad := nonFinite(xyz); bad != "" {
		return fmt.Errorf("has %s coordinates", bad)
	}
	return nil
}

// nonFinite returns "NaN" or "infinite" for the first such value in v, or "".
func nonFinite(v []float32) string {
	for _, x := range v {
		if x != x {
			return "NaN"
		}
		if math.IsInf(float64(x), 0) {
			return "infinite"
		}
	}
	return ""
}

// Info summarises a data set, for `pcx data info`.
type Info struct {
	Name    string    `json:"name"`
	Classes []string  `json:"classes"`
	Train   SplitInfo `json:"train"`
	Test    SplitInfo `json:"test"`
}

// SplitInfo summarises one split.
type SplitInfo struct {
	Samples int `json:"samples"`
	// MinPoints and MaxPoints are the smallest and largest point counts of
	// a sample (0 for an empty split).
	MinPoints int  `json:"min_points"`
	MaxPoints int  `json:"max_points"`
	Normals   bool `json:"normals"`
	// PerClass[i] counts the samples of Classes[i].
	PerClass []int `json:"per_class"`
}

// Info returns the data set's summary.
func (d *Dataset) Info() Info {
	return Info{
		Name:    d.Name,
		Classes: append([]string{}, d.Classes...),
		Train:   splitInfo(d.Train, len(d.Classes)),
		Test:    splitInfo(d.Test, len(d.Classes)),
	}
}

func splitInfo(s *Split, numClasses int) SplitInfo {
	si := SplitInfo{PerClass: make([]int, numClasses)}
	if s == nil {
		return si
	}
	si.Samples = len(s.Labels)
	si.Normals = s.Normals != nil
	for i, p := range s.Points {
		n := len(p) / 3
		if i == 0 || n < si.MinPoints {
			si.MinPoints = n
		}
		if n > si.MaxPoints {
			si.MaxPoints = n
		}
	}
	for _, l := range s.Labels {
		if l >= 0 && l < numClasses {
			si.PerClass[l]++
		}
	}
	return si
}

// String renders the summary as a short table.
func (in Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d classes\n", in.Name, len(in.Classes))
	for _, s := range []struct {
		name string
		si   SplitInfo
	}{{"train", in.Train}, {"test", in.Test}} {
		pts := fmt.Sprintf("%d", s.si.MinPoints)
		if s.si.MaxPoints != s.si.MinPoints {
			pts = fmt.Sprintf("%d-%d", s.si.MinPoints, s.si.MaxPoints)
		}
		nrm := ""
		if s.si.Normals {
			nrm = ", with normals"
		}
		fmt.Fprintf(&b, "%-5s %6d samples, %s points each%s\n", s.name, s.si.Samples, pts, nrm)
	}
	w := 5
	for _, c := range in.Classes {
		w = max(w, len(c))
	}
	fmt.Fprintf(&b, "%-*s %6s %6s\n", w, "class", "train", "test")
	for i, c := range in.Classes {
		tr, te := 0, 0
		if i < len(in.Train.PerClass) {
			tr = in.Train.PerClass[i]
		}
		if i < len(in.Test.PerClass) {
			te = in.Test.PerClass[i]
		}
		fmt.Fprintf(&b, "%-*s %6d %6d\n", w, c, tr, te)
	}
	return b.String()
}
