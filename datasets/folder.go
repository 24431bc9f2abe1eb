package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pcx-dev/pcx/pointcloud"
)

// FolderOptions tunes LoadFolder.
type FolderOptions struct {
	// Points is the number of points each mesh is sampled to
	// (DefaultMeshPoints when 0). A cloud with more points is cut to a
	// random subset of Points points, fixed per file, in the file's order;
	// a smaller cloud is kept whole, and so is every cloud when Points is 0.
	Points int
	// Seed seeds mesh sampling and cloud subsets; each file mixes in its
	// path relative to the root, so results do not depend on where the tree
	// lives or on the number of workers.
	Seed uint64
	// Normals keeps normals when every sample has them (clouds with normal
	// columns, and all sampled meshes).
	Normals bool
	// Normalize centres each sample and scales it into the unit sphere
	// (pointcloud.Normalize).
	Normalize bool
	// Workers bounds the goroutines reading files; 0 means GOMAXPROCS.
	Workers int
}

// folderJob is one file to load.
type folderJob struct {
	path, rel string
	label     int
}

// LoadFolder loads <root>/<class>/{train,test}/<files>: every file whose
// extension pointcloud.FormatOf knows (others, and dot files, are skipped),
// labelled by its class folder. Classes are the sub-folders that hold a
// train/ or test/ folder, in name order, or the names listed in
// <root>/shape_names.txt in that order (a listed class may lack a folder; a
// class folder must be listed). Files load in parallel; samples come in
// class order, then file name order.
func LoadFolder(root string, opt FolderOptions) (*Dataset, error) {
	if opt.Points < 0 {
		return nil, fmt.Errorf("cannot sample %d points", opt.Points)
	}
	if !isDir(root) {
		if _, err := os.Stat(root); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s: not a folder", root)
	}
	classes, err := folderClasses(root)
	if err != nil {
		return nil, err
	}
	d := &Dataset{Name: filepath.Base(filepath.Clean(root)), Classes: classes}
	total := 0
	for _, sp := range []struct {
		name string
		dst  **Split
	}{{"train", &d.Train}, {"test", &d.Test}} {
		var jobs []folderJob
		for label, c := range classes {
			dir := filepath.Join(root, c, sp.name)
			entries, err := os.ReadDir(dir)
			if err != nil {
				if os.IsNotExist(err) {
					continue
				}
				return nil, err
			}
			var names []string
			for _, e := range entries {
				if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
					continue
				}
				if _, err := pointcloud.FormatOf(e.Name()); err != nil {
					continue
				}
				names = append(names, e.Name())
			}
			sort.Strings(names)
			for _, n := range names {
				jobs = append(jobs, folderJob{
					path:  filepath.Join(dir, n),
					rel:   c + "/" + sp.name + "/" + n,
					label: label,
				})
			}
		}
		s, err := loadFolderJobs(jobs, opt)
		if err != nil {
			return nil, err
		}
		total += s.Len()
		*sp.dst = s
	}
	if total == 0 {
		return nil, fmt.Errorf("%s: no point-cloud or mesh files in <class>/train/ or <class>/test/", root)
	}
	return d, nil
}

// folderClasses returns the class list of a folder tree.
func folderClasses(root string) ([]string, error) {
	dirs, err := sortedDirs(root)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, c := range dirs {
		if isDir(filepath.Join(root, c, "train")) || isDir(filepath.Join(root, c, "test")) {
			found = append(found, c)
		}
	}
	names := filepath.Join(root, "shape_names.txt")
	if !isFile(names) {
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no <class>/train/ or <class>/test/ folders", root)
		}
		return found, nil
	}
	data, err := os.ReadFile(names)
	if err != nil {
		return nil, err
	}
	listed, err := parseShapeNames(names, data)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, c := range listed {
		known[c] = true
	}
	for _, c := range found {
		if !known[c] {
			return nil, fmt.Errorf("%s: class folder %q is not listed", names, c)
		}
	}
	return listed, nil
}

func loadFolderJobs(jobs []folderJob, opt FolderOptions) (*Split, error) {
	s, _, err := loadJobs(jobs, opt, 0, false)
	return s, err
}

// loadJobs loads the files of jobs as LoadFolder does. A cloud of fewer
// than minPoints points (after sampling and cutting) is left out, and so,
// with skipBad, is a file that cannot be read or sampled (without, that is
// an error); leftOut says why of each file left out, in job order.
func loadJobs(jobs []folderJob, opt FolderOptions, minPoints int, skipBad bool) (s *Split, leftOut []string, err error) {
	s = &Split{
		Points:  make([][]float32, len(jobs)),
		Normals: make([][]float32, len(jobs)),
		Labels:  make([]int, len(jobs)),
	}
	meshPoints := opt.Points
	if meshPoints == 0 {
		meshPoints = DefaultMeshPoints
	}
	failed := make([]error, len(jobs))
	err = forEach(len(jobs), opt.Workers, func(i int) error {
		j := jobs[i]
		c, err := pointcloud.ReadFile(j.path)
		if err == nil && c.IsMesh() {
			if c, err = pointcloud.SampleSurface(c, meshPoints, fileSeed(opt.Seed, j.rel)); err != nil {
				err = fmt.Errorf("%s: %w", j.path, err)
			}
		}
		if err != nil {
			if skipBad {
				failed[i] = err
				return nil
			}
			return err
		}
		if !c.IsMesh() && opt.Points > 0 && c.Len() > opt.Points {
			c = subsample(c, opt.Points, fileSeed(opt.Seed, j.rel))
		}
		if c.Len() < minPoints {
			failed[i] = fmt.Errorf("%s: %d points, fewer than %d", j.path, c.Len(), minPoints)
			return nil
		}
		if opt.Normalize {
			pointcloud.Normalize(c.XYZ)
		}
		s.Points[i], s.Normals[i], s.Labels[i] = c.XYZ, c.Normals, j.label
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	k := 0
	for i := range jobs {
		if failed[i] != nil {
			leftOut = append(leftOut, failed[i].Error())
			continue
		}
		s.Points[k], s.Normals[k], s.Labels[k] = s.Points[i], s.Normals[i], s.Labels[i]
		k++
	}
	s.Points, s.Normals, s.Labels = s.Points[:k], s.Normals[:k], s.Labels[:k]
	keep := opt.Normals
	for _, n := range s.Normals {
		if n == nil {
			keep = false
		}
	}
	if !keep {
		s.Normals = nil
	}
	return s, leftOut, nil
}

// subsample returns k of c's points, chosen at random from seed, in their
// original order.
func subsample(c *pointcloud.Cloud, k int, seed uint64) *pointcloud.Cloud {
	n := c.Len()
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	r := pointcloud.NewRand(seed)
	for i := 0; i < k; i++ {
		j := i + r.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	pick := idx[:k]
	sort.Ints(pick)
	out := &pointcloud.Cloud{XYZ: make([]float32, 3*k)}
	if c.Normals != nil {
		out.Normals = make([]float32, 3*k)
	}
	for o, i := range pick {
		copy(out.XYZ[3*o:3*o+3], c.XYZ[3*i:3*i+3])
		if c.Normals != nil {
			copy(out.Normals[3*o:3*o+3], c.Normals[3*i:3*i+3])
		}
	}
	return out
}
