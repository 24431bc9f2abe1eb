package pointcloud

import (
	"io"

	"github.com/pcx-dev/pcx/internal/atomicfile"
)

// WriteFileAtomic writes a file so that readers see either the old file or
// the whole new one: write fills a temporary file in the same directory,
// which is flushed, synced and renamed over path; on failure the temporary
// file is removed and path is left untouched.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	return atomicfile.Write(path, write)
}
