package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/urfave/cli/v2"
)

// overwriteFlag is --overwrite on the commands that write files: without
// it, an output file (or a non-empty output folder) that exists already is
// an error, never replaced.
func overwriteFlag() cli.Flag {
	return &cli.BoolFlag{Name: "overwrite", Usage: "replace an existing output file (by default pcx refuses to)"}
}

// checkNewFile refuses to write a file at path when something is there
// already, unless overwrite; "" and "-" (stdout) always pass.
func checkNewFile(path string, overwrite bool) error {
	if path == "" || path == "-" {
		return nil
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a folder; give a file name", path)
	}
	if !overwrite {
		return fmt.Errorf("%s exists; give --overwrite to replace it", path)
	}
	return nil
}

// checkNewFolder refuses to write into a folder that exists and holds
// files, unless overwrite (its files of the same names are then replaced;
// others are left as they are).
func checkNewFolder(dir string, overwrite bool) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s exists and is not a folder", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 && !overwrite {
		return fmt.Errorf("%s is not empty; give --overwrite to replace the files of the same names in it", dir)
	}
	return nil
}

// intAtLeast returns the int flag name, refusing a value below least.
func intAtLeast(c *cli.Context, name string, least int) (int, error) {
	v := c.Int(name)
	if v < least {
		return 0, fmt.Errorf("%s must be at least %d (got %d)", dashed(name), least, v)
	}
	return v, nil
}
