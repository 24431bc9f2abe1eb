// Package memlimit refuses sizes that input merely asks for: before pcx
// allocates memory whose size comes from a flag, a configuration file or
// a file header, it checks the bytes that would be needed against the
// machine's physical memory, and says how much that would be.
package memlimit

import (
	"fmt"
	"math"
)

// Fallback is the limit where the physical memory cannot be read.
const Fallback = 64 << 30

// Limit is the most bytes one request may need: the machine's physical
// memory (or its container's limit, when lower), or Fallback where the
// system does not say.
func Limit() int64 {
	if p := physical(); p > 0 {
		return p
	}
	return Fallback
}

// Check returns an error when need bytes exceed Limit; what names what
// needs them ("sampling 3000000000 points"). A negative need (an overflow
// of Bytes) is treated as too large.
func Check(what string, need int64) error {
	lim := Limit()
	if need >= 0 && need <= lim {
		return nil
	}
	if need < 0 {
		return fmt.Errorf("%s would need more than %s of memory; this machine has %s", what, Human(math.MaxInt64), Human(lim))
	}
	return fmt.Errorf("%s would need %s of memory; this machine has %s", what, Human(need), Human(lim))
}

// Bytes multiplies non-negative factors, saturating at math.MaxInt64 (a
// negative factor also gives math.MaxInt64: such a request is refused).
func Bytes(factors ...int64) int64 {
	p := int64(1)
	for _, f := range factors {
		if f < 0 {
			return math.MaxInt64
		}
		if f == 0 {
			return 0
		}
		if p > math.MaxInt64/f {
			p = math.MaxInt64
			continue
		}
		p *= f
	}
	return p
}

// Sum adds non-negative sizes, saturating at math.MaxInt64.
func Sum(sizes ...int64) int64 {
	s := int64(0)
	for _, v := range sizes {
		if v < 0 || s > math.MaxInt64-v {
			return math.MaxInt64
		}
		s += v
	}
	return s
}

// Human formats a byte count with a binary unit: "512 B", "1.5 KiB",
// "36.0 GiB", "10.9 TiB".
func Human(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	f := float64(b)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		f /= unit
		if f < unit || u == "PiB" {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return ""
}
