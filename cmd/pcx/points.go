package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/pcx-dev/pcx/internal/atomicfile"
	"github.com/pcx-dev/pcx/internal/memlimit"
	"github.com/pcx-dev/pcx/nn/state"
	"github.com/pcx-dev/pcx/pointcloud"
	"github.com/pcx-dev/pcx/points/fps"
	"github.com/pcx-dev/pcx/points/knn"
	"github.com/urfave/cli/v2"
)

// readPoints reads a cloud or mesh file; a mesh becomes its vertices.
func readPoints(path string) (*pointcloud.Cloud, error) {
	c, err := pointcloud.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func sampleCommand() *cli.Command {
	return &cli.Command{
		Name:      "sample",
		Usage:     "sample points uniformly over the surface of a mesh",
		ArgsUsage: "MESH",
		Description: `Area-weighted uniform surface sampling; the same seed gives the same points.
Reads PLY, OFF, STL, OBJ; writes any format pcx knows, chosen by the extension.
Each point carries the normal of the face it was drawn on: without --out, pcx
prints "x y z nx ny nz" lines, as a .xyz file holds them (cut -d' ' -f1-3 keeps
x y z). An existing --out file is replaced only with --overwrite.

Example:
   pcx sample chair.off --points 2048 --out chair.ply`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "points", Aliases: []string{"n"}, Value: 2048, Usage: "points to draw"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "output file (.ply .xyz .txt .csv .npy .obj .off); default: x y z nx ny nz lines on stdout"},
			&cli.Uint64Flag{Name: "seed", Value: 0, Usage: "random seed"},
			&cli.BoolFlag{Name: "normalize", Usage: "centre on the mean and scale into the unit sphere (Point-MAE pc_normalize)"},
			overwriteFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("sample: give one mesh file")
			}
			n, err := intAtLeast(c, "points", 1)
			if err != nil {
				return err
			}
			// The points and their normals, three float32 each.
			if err := memlimit.Check(fmt.Sprintf("sampling %d points", n), memlimit.Bytes(int64(n), 24)); err != nil {
				return err
			}
			if n > math.MaxInt32 {
				return fmt.Errorf("--points %d: pcx reads at most %d points per cloud", n, math.MaxInt32)
			}
			if err := checkNewFile(c.String("out"), c.Bool("overwrite")); err != nil {
				return err
			}
			defer atomicfile.RemoveOnSignal()()
			m, err := pointcloud.ReadFile(c.Args().First())
			if err != nil {
				return err
			}
			if !m.IsMesh() {
				return fmt.Errorf("%s: has no faces to sample (it is a point cloud)", c.Args().First())
			}
			out, err := pointcloud.SampleSurface(m, n, c.Uint64("seed"))
			if err != nil {
				return fmt.Errorf("%s: %w", c.Args().First(), err)
			}
			if c.Bool("normalize") {
				pointcloud.Normalize(out.XYZ)
			}
			return writeCloud(c.String("out"), out)
		},
	}
}

// writeCloud writes to a file by extension, or to stdout as a .xyz file
// holds it: "x y z" lines, with "nx ny nz" after when c has normals.
func writeCloud(path string, c *pointcloud.Cloud) error {
	if path == "" || path == "-" {
		return pointcloud.Write(os.Stdout, c, pointcloud.XYZ)
	}
	return pointcloud.WriteFile(path, c)
}

func fpsCommand() *cli.Command {
	return &cli.Command{
		Name:      "fps",
		Usage:     "farthest-point sampling of a cloud or mesh",
		ArgsUsage: "IN",
		Description: `Writes the chosen points in the order chosen (format by the extension of --out;
without --out, "x y z" lines on stdout, with "nx ny nz" after when the input has
normals), or with --indices their indices, one per line. An existing --out file
is replaced only with --overwrite.
The default follows pointnet2_ops (start at point 0, points with |p|² ≤ 1e-3 never
chosen, ties to the lowest index); --plain is textbook FPS.

Example:
   pcx fps scan.ply --n 1024 --out centres.ply`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "n", Value: 1024, Usage: "points to choose"},
			&cli.BoolFlag{Name: "plain", Usage: "textbook FPS instead of pointnet2_ops semantics"},
			&cli.IntFlag{Name: "start", Usage: "first point in --plain mode"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "output file; default: stdout"},
			&cli.BoolFlag{Name: "indices", Usage: "write the chosen indices, one per line, instead of points"},
			overwriteFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("fps: give one input file")
			}
			if _, err := intAtLeast(c, "n", 1); err != nil {
				return err
			}
			if _, err := intAtLeast(c, "start", 0); err != nil {
				return err
			}
			if err := checkNewFile(c.String("out"), c.Bool("overwrite")); err != nil {
				return err
			}
			defer atomicfile.RemoveOnSignal()()
			in, err := readPoints(c.Args().First())
			if err != nil {
				return err
			}
			opt := fps.Options{Start: c.Int("start")}
			if c.Bool("plain") {
				opt.Mode = fps.Plain
			}
			idx, err := fps.Sample(in.XYZ, c.Int("n"), opt)
			if err != nil {
				return fmt.Errorf("%s: %w", c.Args().First(), err)
			}
			if c.Bool("indices") {
				write := func(w io.Writer) error {
					for _, i := range idx {
						if _, err := fmt.Fprintln(w, i); err != nil {
							return err
						}
					}
					return nil
				}
				if out := c.String("out"); out != "" && out != "-" {
					return atomicfile.Write(out, write)
				}
				bw := bufio.NewWriter(os.Stdout)
				if err := write(bw); err != nil {
					return err
				}
				return bw.Flush()
			}
			out := &pointcloud.Cloud{XYZ: fps.Gather(in.XYZ, idx)}
			if in.Normals != nil {
				out.Normals = fps.Gather(in.Normals, idx)
			}
			return writeCloud(c.String("out"), out)
		},
	}
}

// groupReport is the machine-readable output of pcx group.
type groupReport struct {
	File      string       `json:"file"`
	Points    int          `json:"points"`
	Groups    int          `json:"groups"`
	K         int          `json:"k"`
	Method    string       `json:"method"`
	CentreIdx []int32      `json:"centre_idx"`
	Centres   [][3]float32 `json:"centres"`
	Idx       [][]int32    `json:"idx"`
}

func groupCommand() *cli.Command {
	return &cli.Command{
		Name:      "group",
		Usage:     "Point-MAE grouping: FPS centres and the k nearest points of each",
		ArgsUsage: "IN",
		Description: `Prints each centre and its neighbours (nearest first, the centre itself included).

Example:
   pcx group scan.ply --groups 128 --k 32 --json > groups.json`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "groups", Aliases: []string{"g"}, Value: 64, Usage: "centres chosen by FPS"},
			&cli.IntFlag{Name: "k", Value: 32, Usage: "points per group"},
			&cli.StringFlag{Name: "method", Value: "auto", Usage: "neighbour search: auto, brute or grid"},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("group: give one input file")
			}
			path := c.Args().First()
			g, err := intAtLeast(c, "groups", 1)
			if err != nil {
				return err
			}
			k, err := intAtLeast(c, "k", 1)
			if err != nil {
				return err
			}
			m, err := parseMethod(c.String("method"))
			if err != nil {
				return err
			}
			in, err := readPoints(path)
			if err != nil {
				return err
			}
			n := in.Len()
			if g > n || k > n {
				return fmt.Errorf("%s: %d points cannot make %d groups of %d", path, n, g, k)
			}
			// Each neighbour's index and offset from its centre (4 + 12
			// bytes), and as much again for the report.
			if err := memlimit.Check(fmt.Sprintf("%d groups of %d points", g, k), memlimit.Bytes(int64(g), int64(k), 32)); err != nil {
				return err
			}
			gr, err := knn.Group(in.XYZ, 1, n, g, k, knn.Options{Method: m})
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			rep := groupReport{File: path, Points: n, Groups: g, K: k, Method: m.String(), CentreIdx: gr.CentreIdx}
			for j := 0; j < g; j++ {
				rep.Centres = append(rep.Centres, [3]float32{gr.Centres[3*j], gr.Centres[3*j+1], gr.Centres[3*j+2]})
				rep.Idx = append(rep.Idx, gr.Idx[j*k:(j+1)*k])
			}
			if c.Bool("json") {
				return writeJSON(os.Stdout, rep)
			}
			fmt.Printf("%s: %d points, %d groups of %d\n", path, n, g, k)
			for j := 0; j < g; j++ {
				fmt.Printf("group %3d  centre #%d (%.4f, %.4f, %.4f)  neighbours %v\n", j, rep.CentreIdx[j],
					rep.Centres[j][0], rep.Centres[j][1], rep.Centres[j][2], rep.Idx[j])
			}
			return nil
		},
	}
}

func parseMethod(s string) (knn.Method, error) {
	for _, m := range []knn.Method{knn.Auto, knn.Brute, knn.Grid} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("--method %s: unknown neighbour search (want auto, brute or grid)", state.Quote(s))
}
