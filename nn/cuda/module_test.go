package cuda

import (
	"slices"
	"strings"
	"testing"
)

// testPTX has one kernel, pcx_test_scale(float *out, int n, float a).
const testPTX = `.version 7.5
.target sm_80
.visible .entry pcx_test_scale(
	.param .u64 pcx_test_scale_param_0,
	.param .u32 pcx_test_scale_param_1,
	.param .f32 pcx_test_scale_param_2
)
{
	ret;
}
`

// TestRegisterModule: a module registered from outside the package is
// checked against its PTX's entries, its kernels join Kernels() and
// Stream.Launch runs them with the same argument checks as the package's
// own; bad registrations are refused with the reason.
func TestRegisterModule(t *testing.T) {
	unregister := func() {
		regMu.Lock()
		defer regMu.Unlock()
		delete(registered, "testmod")
		delete(kernelSigs, "pcx_test_scale")
	}
	t.Cleanup(unregister)
	for _, tc := range []struct {
		name string
		ptx  string
		ks   []Kernel
		err  string
	}{
		{"params", "testmod", []Kernel{{"pcx_test_scale", "pif"}}, ""},
		{"builtin module", "elementwise", []Kernel{{"pcx_test_scale", "pif"}}, "one of this package's"},
		{"no such kernel", "testmod", []Kernel{{"pcx_other", "pif"}}, "has no kernel pcx_other"},
		{"wrong params", "testmod", []Kernel{{"pcx_test_scale", "pii"}}, "takes (pif), registered as (pii)"},
		{"existing kernel", "testmod", []Kernel{{"pcx_add", "pif"}}, "pcx_add exists already"},
		{"no kernels", "testmod", nil, "registers no kernel"},
	} {
		err := RegisterModule(tc.ptx, []byte(testPTX), tc.ks...)
		if tc.err == "" {
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			unregister()
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.err)
		}
	}
	if err := RegisterModule("testmod", []byte(".version 7.5\n"), Kernel{"pcx_test_scale", "pif"}); err == nil {
		t.Error("a PTX without entries was registered")
	}

	if err := RegisterModule("testmod", []byte(testPTX), Kernel{"pcx_test_scale", "pif"}); err != nil {
		t.Fatal(err)
	}
	if err := RegisterModule("testmod", []byte(testPTX), Kernel{"pcx_test_scale", "pif"}); err == nil {
		t.Error("a module registered twice")
	}
	if !slices.Contains(Kernels(), "pcx_test_scale") {
		t.Error("the registered kernel is not in Kernels()")
	}
	if img, err := ptxOf("testmod"); err != nil || string(img) != testPTX+"\x00" {
		t.Errorf("ptxOf: %q, %v", img, err)
	}

	d, rec := fakeDevice(t)
	s := d.Stream()
	x, _ := s.Alloc(8)
	grid, block := Blocks1(8, 256)
	if err := s.Launch("pcx_test_scale", grid, block, NewArgs("T").Buf("out", x, 8).Int("n", 8).F32(2)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.launches, []string{"pcx_test_scale"}) {
		t.Errorf("launches %v", rec.launches)
	}
	for _, a := range []*Args{
		NewArgs("T").Buf("out", x, 8).Int("n", 8),
		NewArgs("T").Buf("out", x, 7).Int("n", 8).F32(2),
		NewArgs("T").Buf("out", x, 8).Int("n", -1).F32(2),
	} {
		if err := s.Launch("pcx_test_scale", grid, block, a); err == nil {
			t.Errorf("launched with bad arguments %q", a.kinds)
		}
	}
	if len(rec.launches) != 1 {
		t.Errorf("launches %v", rec.launches)
	}
	if n, err := Shape("T", "a×b", 1<<16, 1<<16); err == nil {
		t.Errorf("Shape of 2³² elements = %d", n)
	}
}
