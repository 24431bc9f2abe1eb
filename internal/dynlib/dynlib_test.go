package dynlib

import (
	"errors"
	"reflect"
	"testing"
)

func TestFirst(t *testing.T) {
	var opened []string
	open := func(n string) (uintptr, error) {
		opened = append(opened, n)
		if n == "libbroken.so" {
			return 0, errors.New("bad ELF")
		}
		return uintptr(len(n)), nil
	}
	var got string
	use := func(n string, h uintptr) error {
		if n == "libwrong.so" {
			return errors.New("no symbol f")
		}
		got = n
		return nil
	}
	errs, ok := First([]string{"/nonexistent/libx.so", "libbroken.so", "libwrong.so", "libgood.so", "libnever.so"}, open, use)
	want := []string{"/nonexistent/libx.so: no such file", "libbroken.so: bad ELF", "libwrong.so: no symbol f"}
	if !ok || got != "libgood.so" || !reflect.DeepEqual(errs, want) || !reflect.DeepEqual(opened, []string{"libbroken.so", "libwrong.so", "libgood.so"}) {
		t.Fatalf("ok %v, got %q, errs %q, opened %q", ok, got, errs, opened)
	}
	if errs, ok := First(nil, open, use); ok || errs != nil {
		t.Fatalf("no candidates: %v %v", errs, ok)
	}
}
