// Package clip shortens input quoted in error messages, so that a message
// about a malformed file stays short however long the offending token is.
package clip

import (
	"strconv"
	"unicode/utf8"
)

// Max is how many bytes of input Quote shows.
const Max = 80

// Quote returns s quoted as with %q, cut to its first Max bytes (on a rune
// boundary) with "…" after the closing quote when it was longer.
func Quote(s string) string {
	if len(s) <= Max {
		return strconv.Quote(s)
	}
	n := Max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strconv.Quote(s[:n]) + "…"
}

// String returns s cut to its first Max bytes (on a rune boundary) with
// "…" appended when it was longer; for messages that already quote.
func String(s string) string {
	if len(s) <= Max {
		return s
	}
	n := Max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
