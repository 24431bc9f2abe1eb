//go:build !linux

package memlimit

// physical returns 0: the limit is Fallback.
func physical() int64 { return 0 }
