package clip

import (
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	if got := Quote("abc"); got != `"abc"` {
		t.Errorf("Quote(abc) = %s", got)
	}
	long := strings.Repeat("é", 1<<20)
	got := Quote(long)
	if len(got) > Max+8 || !strings.HasSuffix(got, `"…`) || !strings.HasPrefix(got, `"é`) {
		t.Errorf("Quote of a long string = %s (%d bytes)", got, len(got))
	}
	if s := String(long); len(s) > Max+3 || !strings.HasSuffix(s, "…") {
		t.Errorf("String of a long string is %d bytes", len(s))
	}
	if s := String("short"); s != "short" {
		t.Errorf("String(short) = %q", s)
	}
}
