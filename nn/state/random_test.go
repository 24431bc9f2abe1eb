package state

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"
)

// TestRandomPickles runs random programs of plausible opcodes, with the
// allowed globals and torch's tensor calls among them. Byte-level fuzzing
// seldom builds such programs. None may make gopickle panic (the pre-pass
// must have refused it first: "malformed pickle" is the recovered panic) or
// allocate beyond the fuzz bound.
func TestRandomPickles(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	globals := [][2]string{{"torch._utils", "_rebuild_tensor_v2"}, {"torch._utils", "_rebuild_parameter"},
		{"torch", "FloatStorage"}, {"torch", "BoolStorage"}, {"torch", "Size"}, {"collections", "OrderedDict"},
		{"numpy.core.multiarray", "scalar"}, {"numpy", "dtype"}, {"_codecs", "encode"}, {"builtins", "bytes"}}
	const simple = "()]}tlds\x8fauebR\x81\x92o012\x85\x86\x87\x90\x91\x93\x94QN\x88" // opcodes without arguments
	strs := []string{"storage", "cpu", "0", "1", "2", "latin1", "f8", "<", "torch", "FloatStorage", "collections", "OrderedDict", "x"}
	atoms := []func(p *pk){
		func(p *pk) { p.op(simple[r.Intn(len(simple))]) },
		func(p *pk) { p.int(r.Intn(10) - 2) },
		func(p *pk) { p.op('K', byte(r.Intn(5))) },
		func(p *pk) { p.op('G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0) },
		func(p *pk) { p.str(strs[r.Intn(len(strs))]) },
		func(p *pk) { p.op('C', 2, 0, 0) },
		func(p *pk) { p.op('C', 8, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f) },
		func(p *pk) { p.op('q', byte(r.Intn(4))) },
		func(p *pk) { p.op('h', byte(r.Intn(4))) },
		func(p *pk) { p.op('\x8a', 1, byte(r.Intn(256))) },
		func(p *pk) { p.op('\x8a', 9, 1, 2, 3, 4, 5, 6, 7, 8, 0x80) },
		func(p *pk) { g := globals[r.Intn(len(globals))]; p.global(g[0], g[1]) },
		func(p *pk) { p.tensor("FloatStorage", "0", 4, r.Intn(3), []int{r.Intn(3)}, []int{r.Intn(3)}) },
		func(p *pk) { p.tensor("BoolStorage", "1", 4, 0, []int{2, 2}, []int{1, 2}) },
		func(p *pk) { p.op('S').WriteString("'abc'\n") },
		func(p *pk) { p.op('I').WriteString("01\n") },
		func(p *pk) { p.op('g').WriteString("1\n") },
		func(p *pk) { p.op('p').WriteString("2\n") },
		func(p *pk) { p.op('\x95', byte(r.Intn(8)), 0, 0, 0, 0, 0, 0, 0) },
	}
	runs := 20000
	if testing.Short() {
		runs = 2000
	}
	ok := 0
	for range runs {
		var p pk
		p.op('\x80', byte(2+r.Intn(3)))
		for range 1 + r.Intn(40) {
			atoms[r.Intn(len(atoms))](&p)
		}
		p.op('.')
		data := ckpt(t, p.Bytes(), fuzzRecords)
		var err error
		if n := allocated(func() { _, err = DecodePTH(bytes.NewReader(data), int64(len(data))) }); n > allocBound(len(data)) {
			t.Fatalf("%q: %d bytes allocated", p.Bytes(), n)
		}
		if err != nil && strings.Contains(err.Error(), "malformed pickle") {
			t.Fatalf("%q: %v", p.Bytes(), err)
		}
		if err == nil {
			ok++
		}
	}
	if ok == 0 {
		t.Error("no random pickle loaded; the generator is broken")
	}
}
