package datasets

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/scigolib/hdf5"
)

// Export formats.
const (
	// ExportH5 writes training_objectdataset.h5 and test_objectdataset.h5
	// (datasets "data", float32 samples × points × 3, and "label", int64),
	// as ScanObjectNN's objbg files, plus shape_names.txt.
	ExportH5 = "h5"
	// ExportNPY writes {train,test}_data.npy (float32 samples × points × 3),
	// {train,test}_label.npy (int64) and shape_names.txt; see LoadNPY.
	ExportNPY = "npy"
	// ExportPLY writes <class>/{train,test}/<class>_NNNN.ply (binary, with
	// normals where the data set has them) and shape_names.txt, the folder
	// layout LoadFolder reads.
	ExportPLY = "ply"
)

// ExportFormats lists the formats Export writes.
func ExportFormats() []string { return []string{ExportH5, ExportNPY, ExportPLY} }

// Export writes d into dir (created if needed) in one of the ExportFormats,
// in a layout that Open reads back as the same samples, labels and class
// names. h5 and npy need every sample of a split to have the same number of
// points and both splits to be non-empty. Files are written atomically;
// files already in dir are overwritten or left alone, never removed, so
// export into a new or empty folder.
func Export(d *Dataset, dir, format string) error {
	if err := d.Validate(); err != nil {
		return err
	}
	for _, c := range d.Classes {
		if !safeName(c) {
			return fmt.Errorf("class name %q cannot be written as one line or folder name", c)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	switch format {
	case ExportH5, ExportNPY:
		splits := []struct {
			name, h5 string
			s        *Split
		}{{"train", "training_objectdataset.h5", d.Train}, {"test", "test_objectdataset.h5", d.Test}}
		for _, sp := range splits {
			p, err := uniformPoints(sp.s)
			if err != nil {
				return fmt.Errorf("cannot export the %s split as %s: %v", sp.name, format, err)
			}
			if format == ExportH5 {
				err = writeH5(filepath.Join(dir, sp.h5), sp.s, p)
			} else {
				err = writeNPYSplit(dir, sp.name, sp.s, p)
			}
			if err != nil {
				return err
			}
		}
	case ExportPLY:
		if err := writePLYTree(d, dir); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown export format %q (want %s)", format, strings.Join(ExportFormats(), ", "))
	}
	return writeShapeNames(filepath.Join(dir, "shape_names.txt"), d.Classes)
}

func writeShapeNames(path string, classes []string) error {
	return pointcloud.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := io.WriteString(w, strings.Join(classes, "\n")+"\n")
		return err
	})
}

// uniformPoints returns the common point count of a split's samples.
func uniformPoints(s *Split) (int, error) {
	if s.Len() == 0 {
		return 0, fmt.Errorf("it is empty")
	}
	p := len(s.Points[0]) / 3
	for i, x := range s.Points {
		if len(x)/3 != p {
			return 0, fmt.Errorf("sample %d has %d points, sample 0 has %d", i, len(x)/3, p)
		}
	}
	return p, nil
}

// writeH5 writes one ScanObjectNN-style file, through a temporary file.
func writeH5(path string, s *Split, p int) (err error) {
	tmp := path + ".tmp"
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	err = h5Guard(path, func() error {
		fw, err := hdf5.CreateForWrite(tmp, hdf5.CreateTruncate)
		if err != nil {
			return err
		}
		n := uint64(s.Len())
		flat := make([]float32, 0, s.Len()*3*p)
		for _, x := range s.Points {
			flat = append(flat, x...)
		}
		labels := make([]int64, s.Len())
		for i, l := range s.Labels {
			labels[i] = int64(l)
		}
		ds, err := fw.CreateDataset("/data", hdf5.Float32, []uint64{n, uint64(p), 3})
		if err == nil {
			err = ds.Write(flat)
		}
		if err == nil {
			var ls *hdf5.DatasetWriter
			if ls, err = fw.CreateDataset("/label", hdf5.Int64, []uint64{n}); err == nil {
				err = ls.Write(labels)
			}
		}
		if cerr := fw.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: writing HDF5: %v", path, err)
	}
	return os.Rename(tmp, path)
}

func writeNPYSplit(dir, split string, s *Split, p int) error {
	if err := writeNPY(filepath.Join(dir, split+"_data.npy"), "<f4", []int{s.Len(), p, 3}, float32Bytes(s.Points)); err != nil {
		return err
	}
	return writeNPY(filepath.Join(dir, split+"_label.npy"), "<i8", []int{s.Len()}, int64Bytes(s.Labels))
}

// writePLYTree writes one binary PLY file per sample on parallel workers.
func writePLYTree(d *Dataset, dir string) error {
	type job struct {
		path   string
		xyz    []float32
		normal []float32
	}
	var jobs []job
	for _, sp := range []struct {
		name string
		s    *Split
	}{{"train", d.Train}, {"test", d.Test}} {
		count := make([]int, len(d.Classes))
		for _, c := range d.Classes {
			if err := os.MkdirAll(filepath.Join(dir, c, sp.name), 0o755); err != nil {
				return err
			}
		}
		for i, l := range sp.s.Labels {
			count[l]++
			c := d.Classes[l]
			j := job{path: filepath.Join(dir, c, sp.name, fmt.Sprintf("%s_%04d.ply", c, count[l])), xyz: sp.s.Points[i]}
			if sp.s.Normals != nil {
				j.normal = sp.s.Normals[i]
			}
			jobs = append(jobs, j)
		}
	}
	return forEach(len(jobs), 0, func(i int) error {
		return pointcloud.WriteFile(jobs[i].path, &pointcloud.Cloud{XYZ: jobs[i].xyz, Normals: jobs[i].normal})
	})
}
