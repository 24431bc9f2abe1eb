package state

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// TestHostilePickles feeds pickles built to make a naive unpickler use
// time or memory out of proportion to their size. Each must fail within
// the allocation bound of the fuzz tests.
func TestHostilePickles(t *testing.T) {
	const n = 200_000
	memoBig := func(p *pk) { // a 64 KiB string in memo slot 0
		p.op('\x80', '\x02').str(strings.Repeat("x", 64<<10)).op('q', 0, '0')
	}
	cases := []struct {
		name  string
		build func(p *pk)
		want  string
	}{
		{"repeated BUILD of a big dict", func(p *pk) {
			// An OrderedDict, then a dict of n/2 entries made by DUP, then
			// BUILD with it again and again: quadratic work in gopickle.
			p.op('\x80', '\x02').global("collections", "OrderedDict").op(')', 'R')
			p.op('(').str("a")
			for range n - 1 {
				p.op('2')
			}
			p.op('d', 'q', 0, '0')
			for range n / 4 {
				p.op('h', 0, 'b')
			}
			p.op('.')
		}, "BUILD opcodes among"},
		{"error message printing many big strings", func(p *pk) {
			// OrderedDict(*args) fails and gopickle formats the args: a
			// tuple of n references to a 64 KiB string.
			memoBig(p)
			p.global("collections", "OrderedDict").op('(')
			for range n {
				p.op('h', 0)
			}
			p.op('t', 'R', '.')
		}, "references"},
		{"DUP of a big string", func(p *pk) {
			memoBig(p)
			p.op('(', 'h', 0)
			for range n {
				p.op('2')
			}
			p.op('l', '.')
		}, "references"},
		{"repeated latin-1 encoding", func(p *pk) {
			p.op('\x80', '\x02').global("_codecs", "encode").op('q', 1, '0')
			p.str(strings.Repeat("x", 64<<10)).str("latin1").op('\x86', 'q', 0, '0', ']')
			for range n / 4 {
				p.op('h', 1, 'h', 0, 'R', 'a')
			}
			p.op('.')
		}, "encodes more bytes than the file could hold"},
		{"MARK flood", func(p *pk) {
			p.op('\x80', '\x02')
			for range 3 * n {
				p.op('(', '1')
			}
			p.op('N', '.')
		}, "would make the unpickler allocate"},
		{"deep MARKs", func(p *pk) {
			for range 1 << 17 {
				p.op('(')
			}
		}, "MARKs nested too deeply"},
		{"huge LONG4", func(p *pk) {
			p.op('\x80', '\x02', '\x8b').Write(binary.LittleEndian.AppendUint32(nil, 1<<20))
			p.Write(make([]byte, 1<<20))
			p.op('.')
		}, "unsupported 1048576-byte long integer"},
		{"a deep stack of NONEs", func(p *pk) {
			p.op('\x80', '\x02')
			for range 300_000 {
				p.op('N')
			}
			p.op('.')
		}, "more than 262144 values on the stack"},
		{"huge text LONG", func(p *pk) {
			p.op('L').WriteString(strings.Repeat("9", 1<<20) + "\n.")
		}, "text argument longer than 1024 bytes"},
		{"lying BINBYTES8 length", func(p *pk) {
			p.op('\x80', '\x04', '\x8e').Write(binary.LittleEndian.AppendUint64(nil, 1<<62))
			p.op('.')
		}, "pickle is truncated"},
		{"stride-0 tensor repeated", func(p *pk) {
			p.op('\x80', '\x02', ']').tensor("FloatStorage", "0", 4, 0, []int{1 << 14}, []int{0}).op('q', 0, 'a')
			for range 1 << 10 {
				p.op('h', 0, 'a') // the same tensor: decoded once
			}
			for range 1 << 10 {
				p.tensor("FloatStorage", "0", 4, 0, []int{1 << 14}, []int{0}).op('a')
			}
			p.op('.')
		}, "far more elements than its storages"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p pk
			c.build(&p)
			data := ckpt(t, p.Bytes(), fuzzRecords)
			var err error
			alloc := allocated(func() { _, err = DecodePTH(bytes.NewReader(data), int64(len(data))) })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
			if alloc > allocBound(len(data)) {
				t.Errorf("%d-byte input allocated %d bytes", len(data), alloc)
			}
		})
	}
}
