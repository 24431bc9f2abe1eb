package state

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error messages repeat little of their input: a file is free to hold a
// 100 MB tensor name or a shape of 100,000 dimensions, and a message that
// quotes it whole buries the point.
const (
	maxQuoteRunes = 80  // characters of a quoted string
	maxListItems  = 16  // elements of a shape or list
	maxMessage    = 300 // bytes of a passed-on error message (JSON decoder)
)

// Quote returns s quoted as %q does, cut to its first 80 characters with
// "…" and its length in bytes when it is longer. Messages about input use
// it for every string they repeat.
func Quote(s string) string {
	n := 0
	for i := range s {
		if n == maxQuoteRunes {
			return strconv.Quote(s[:i]) + fmt.Sprintf("… (%d bytes)", len(s))
		}
		n++
	}
	return strconv.Quote(s)
}

// FormatShape formats a shape (or any list of integers) as %v does, with at
// most 16 elements: a longer one is cut with "…" and its length.
func FormatShape[T int | int64](dims []T) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range dims {
		if i == maxListItems {
			fmt.Fprintf(&b, " … (%d in all)", len(dims))
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(int64(d), 10))
	}
	b.WriteByte(']')
	return b.String()
}

// clippedError keeps at most maxMessage bytes of an error's message; the
// error itself stays in the chain for errors.Is and errors.As.
type clippedError struct{ err error }

func (e clippedError) Error() string {
	s := e.err.Error()
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d bytes of message)", len(s))
}

func (e clippedError) Unwrap() error { return e.err }

// clipErr caps err's message at maxMessage bytes: the last guard against a
// message quoting more of the input than its parts limit themselves to.
func clipErr(err error) error {
	if err == nil || len(err.Error()) <= maxMessage {
		return err
	}
	return clippedError{err}
}
