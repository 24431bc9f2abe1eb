package state

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Limits of the pickle pre-pass. gopickle's Unpickler trusts its input: a
// length field makes it allocate that many bytes before reading them, a few
// malformed streams make it panic, some operations cost time or memory in
// proportion to earlier input, and its error messages format whole values.
// VetPickle walks the opcode stream once, simulating the stack without
// building any value, and only a stream that passes is handed to gopickle.
const (
	maxNameBytes    = 256     // longest module or attribute name of a global
	maxNumberLine   = 1024    // longest text-encoded number (INT, LONG, FLOAT, GET, PUT)
	maxLongBytes    = 1024    // longest LONG4 integer
	maxMarkDepth    = 1 << 16 // deepest nesting of MARKs
	maxStackDepth   = 1 << 18 // most values on the stack at once (Python's pickler batches by 1000)
	leafPerByte     = 16      // strings that an error message could print, per pickle byte...
	leafSlack       = 16 << 20
	buildsFree      = 64 // BUILDs always allowed; beyond, BUILDs × opcodes is bounded by
	buildWorkBudget = 1 << 27
)

// PickleRules says what VetPickle accepts.
type PickleRules struct {
	// Allowed reports whether the pickle may name the global module.name;
	// Refuse makes the error for one that may not.
	Allowed func(module, name string) bool
	Refuse  func(module, name string) error
	// MaxBytes is the longest pickle accepted.
	MaxBytes int64
	// The unpickler's allocations, as VetPickle estimates them, may reach
	// AllocPerByte per pickle byte plus AllocSlack.
	AllocPerByte, AllocSlack int64
}

// checkpointRules are the rules for the pickle of a torch checkpoint, which
// holds structure only (its tensor data lives beside it): torch's pickles
// estimate at about 60 bytes of allocation per byte.
var checkpointRules = PickleRules{
	Allowed:      allowedGlobal,
	Refuse:       forbidden,
	MaxBytes:     64 << 20,
	AllocPerByte: 128,
	AllocSlack:   64 << 20,
}

// shadow stands for a value on the simulated stack: the bytes it would take
// if printed in full (its length for str and bytes, 0 for values printed as
// a pointer or a number), whether it is a str (and then, if short, its text)
// or a bytes value (the only value gopickle makes that Go cannot hash).
type shadow struct {
	leaf    int64
	isStr   bool
	isBytes bool
	str     string
}

// vetter is the state of one vetPickle run.
type vetter struct {
	br       *bufio.Reader
	pos, lim int64 // bytes consumed and available
	stack    []shadow
	marks    []int // stack heights at each open MARK
	memo     map[int]shadow

	rules  *PickleRules
	budget int64 // allocation estimate allowed for lim bytes

	ops, alloc, leaves, builds int64
}

// errTruncated reports a pickle that ends before its STOP opcode.
var errTruncated = errors.New("pickle is truncated")

// errRefused marks the error of a refused global, which VetPickle returns
// as the rules made it.
var errRefused = errors.New("refused global")

type refusal struct{ err error }

func (r refusal) Error() string   { return r.err.Error() }
func (r refusal) Unwrap() []error { return []error{r.err, errRefused} }
func (v *vetter) refuse(mod, name string) error {
	return refusal{v.rules.Refuse(mod, name)}
}

// vetPickle is VetPickle with the rules for a checkpoint's pickle.
func vetPickle(r io.ReaderAt, off, limit int64) (int64, error) {
	return VetPickle(r, off, limit, checkpointRules)
}

// VetPickle checks the pickle that starts at off in r, whose bytes may
// extend to off+limit, and returns the offset just past its STOP opcode.
// Only a pickle it passes may be given to gopickle. It refuses: unknown
// opcodes and features torch and numpy never write (extensions, out-of-band
// buffers, zero-length longs); length fields that point past the end; stack
// or MARK underflows; more than 2^18 values on the stack or 2^16 nested
// MARKs; text numbers over 1024 digits; globals that rules do not allow,
// including STACK_GLOBAL operands it cannot read as short strings; and
// streams whose estimated cost for gopickle is out of proportion to their
// size. Its own memory stays within a small multiple of that estimate.
func VetPickle(r io.ReaderAt, off, limit int64, rules PickleRules) (int64, error) {
	cut := limit > rules.MaxBytes
	if cut {
		limit = rules.MaxBytes
	}
	v := &vetter{
		br:     bufio.NewReaderSize(io.NewSectionReader(r, off, limit), 64<<10),
		lim:    limit,
		memo:   map[int]shadow{},
		rules:  &rules,
		budget: rules.AllocPerByte*limit + rules.AllocSlack,
	}
	err := v.run()
	if err != nil {
		if errors.Is(err, errTruncated) && cut {
			return 0, fmt.Errorf("pickle has no STOP within the %d MiB limit", limit>>20)
		}
		return 0, err
	}
	if err := v.checkCost(); err != nil {
		return 0, err
	}
	return off + v.pos, nil
}

// checkCost applies the proportional limits once the length is known.
func (v *vetter) checkCost() error {
	switch {
	case v.alloc > v.rules.AllocPerByte*v.pos+v.rules.AllocSlack:
		return fmt.Errorf("pickle of %d bytes would make the unpickler allocate about %d bytes", v.pos, v.alloc)
	case v.leaves > leafPerByte*v.pos+leafSlack:
		return fmt.Errorf("pickle of %d bytes references %d bytes of strings", v.pos, v.leaves)
	case v.builds > buildsFree && v.builds*v.ops > buildWorkBudget:
		return fmt.Errorf("pickle has %d BUILD opcodes among %d opcodes", v.builds, v.ops)
	}
	return nil
}

func (v *vetter) run() error {
	for {
		at := v.pos
		op, err := v.byte()
		if err != nil {
			if errors.Is(err, errTruncated) {
				return fmt.Errorf("%w: it ends at byte %d without a STOP opcode", err, at)
			}
			return err
		}
		v.ops++
		v.alloc += 48 // stack slot, boxing
		stop, err := v.step(op)
		if err == nil && len(v.stack) > maxStackDepth {
			err = fmt.Errorf("more than %d values on the stack", maxStackDepth)
		}
		if err == nil && v.alloc > v.budget {
			err = fmt.Errorf("a pickle of at most %d bytes would make the unpickler allocate over %d bytes", v.lim, v.budget)
		}
		if err != nil {
			if errors.Is(err, errTruncated) {
				return fmt.Errorf("%w: opcode %#02x at byte %d runs past the end at byte %d", errTruncated, op, at, v.lim)
			}
			if errors.Is(err, errRefused) {
				return err
			}
			return fmt.Errorf("pickle opcode %#02x at byte %d: %w", op, at, err)
		}
		if stop {
			return nil
		}
	}
}

// step simulates one opcode; it reports whether the opcode was STOP.
func (v *vetter) step(op byte) (bool, error) {
	switch op {
	case '(': // MARK
		if len(v.marks) >= maxMarkDepth {
			return false, errors.New("MARKs nested too deeply")
		}
		v.marks = append(v.marks, len(v.stack))
		v.alloc += 320
	case '.': // STOP
		_, err := v.pop()
		return true, err
	case '0': // POP; on an empty stack it pops the mark
		if len(v.stack) == v.base() {
			_, err := v.popMark()
			return false, err
		}
		_, err := v.pop()
		return false, err
	case '1': // POP_MARK
		_, err := v.popMark()
		return false, err
	case '2': // DUP
		t, err := v.top()
		if err != nil {
			return false, err
		}
		v.push(t)
	case 'F', 'I', 'L': // FLOAT, INT, LONG as text
		if _, err := v.line(maxNumberLine); err != nil {
			return false, err
		}
		v.push(shadow{})
	case 'J', 'K', 'M', 'G': // BININT, BININT1, BININT2, BINFLOAT
		if err := v.skip(argSize(op)); err != nil {
			return false, err
		}
		v.push(shadow{})
	case 'N', '\x88', '\x89': // NONE, NEWTRUE, NEWFALSE
		v.push(shadow{})
	case 'P': // PERSID: text persistent id
		if _, err := v.line(v.lim); err != nil {
			return false, err
		}
		v.push(shadow{})
	case 'Q': // BINPERSID
		return false, v.popPush(1)
	case 'R': // REDUCE
		v.alloc += 640
		return false, v.popPush(2)
	case 'S', 'V': // STRING, UNICODE as text
		s, err := v.line(v.lim)
		if err != nil {
			return false, err
		}
		if op == 'S' && len(s.str) >= 2 && (s.str[0] == '\'' || s.str[0] == '"') && s.str[len(s.str)-1] == s.str[0] {
			s.str = s.str[1 : len(s.str)-1]
		}
		v.alloc += 2 * s.leaf
		v.push(s)
	case 'T', 'X', 'B', '\x8d', '\x8e', '\x96': // counted strings and bytes
		n, err := v.uint(int(argSize(op)))
		if err != nil {
			return false, err
		}
		if op == 'T' && n > math.MaxInt32 {
			return false, errors.New("negative BINSTRING length")
		}
		return false, v.counted(op, n)
	case 'U', 'C', '\x8c': // short counted strings and bytes
		n, err := v.uint(int(argSize(op)))
		if err != nil {
			return false, err
		}
		return false, v.counted(op, n)
	case 'a': // APPEND
		return false, v.popPush(2)
	case 'b': // BUILD
		v.builds++
		if _, err := v.pop(); err != nil {
			return false, err
		}
		_, err := v.top()
		return false, err
	case 'c', 'i': // GLOBAL, INST: module and name as text lines
		mod, err := v.line(maxNameBytes)
		if err != nil {
			return false, err
		}
		name, err := v.line(maxNameBytes)
		if err != nil {
			return false, err
		}
		if !v.rules.Allowed(mod.str, name.str) {
			return false, v.refuse(mod.str, name.str)
		}
		if op == 'i' {
			if _, err := v.popMark(); err != nil {
				return false, err
			}
			v.alloc += 640
		}
		v.push(shadow{})
	case 'd', 'l', 't', '\x91': // DICT, LIST, TUPLE, FROZENSET from the marked items
		items, err := v.popMark()
		if err != nil {
			return false, err
		}
		if op == 'd' && len(items)%2 != 0 {
			return false, errors.New("DICT with an odd number of items")
		}
		if op == '\x91' {
			if err := checkHashable(items, 1); err != nil {
				return false, err
			}
		}
		v.alloc += 128 + 64*int64(len(items))
		v.push(shadow{})
	case '}', ']', ')', '\x8f': // EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE, EMPTY_SET
		v.alloc += 256
		v.push(shadow{})
	case 'e', 'u', '\x90': // APPENDS, SETITEMS, ADDITEMS: marked items into the object below
		items, err := v.popMark()
		if err != nil {
			return false, err
		}
		if op == 'u' && len(items)%2 != 0 {
			return false, errors.New("SETITEMS with an odd number of items")
		}
		switch op {
		case 'u':
			err = checkHashable(items, 2)
		case '\x90':
			err = checkHashable(items, 1)
		}
		if err != nil {
			return false, err
		}
		v.alloc += 64 * int64(len(items))
		return false, v.popPush(1)
	case 'g', 'h', 'j': // GET, BINGET, LONG_BINGET
		i, err := v.memoIndex(op, 'g', 'h')
		if err != nil {
			return false, err
		}
		v.push(v.memo[i])
	case 'p', 'q', 'r': // PUT, BINPUT, LONG_BINPUT
		i, err := v.memoIndex(op, 'p', 'q')
		if err != nil {
			return false, err
		}
		return false, v.put(i)
	case '\x94': // MEMOIZE
		return false, v.put(len(v.memo))
	case 'o': // OBJ
		items, err := v.popMark()
		if err != nil {
			return false, err
		}
		if len(items) == 0 {
			return false, errors.New("OBJ without a class")
		}
		v.alloc += 640
		v.push(shadow{})
	case 's': // SETITEM
		if _, err := v.pop(); err != nil {
			return false, err
		}
		key, err := v.pop()
		if err != nil {
			return false, err
		}
		if err := checkHashable([]shadow{key}, 1); err != nil {
			return false, err
		}
		_, err = v.top()
		return false, err
	case '\x80': // PROTO
		p, err := v.byte()
		if err != nil {
			return false, err
		}
		if p > 5 {
			return false, fmt.Errorf("unsupported pickle protocol %d", p)
		}
	case '\x81': // NEWOBJ
		v.alloc += 640
		return false, v.popPush(2)
	case '\x92': // NEWOBJ_EX
		v.alloc += 640
		return false, v.popPush(3)
	case '\x85', '\x86', '\x87': // TUPLE1, TUPLE2, TUPLE3
		v.alloc += 96
		return false, v.popPush(int(op - '\x84'))
	case '\x8a', '\x8b': // LONG1, LONG4
		n, err := v.uint(int(argSize(op)))
		if err != nil {
			return false, err
		}
		if n == 0 || n > maxLongBytes {
			return false, fmt.Errorf("unsupported %d-byte long integer", n)
		}
		if err := v.skip(int64(n)); err != nil {
			return false, err
		}
		v.alloc += 4 * int64(n)
		v.push(shadow{})
	case '\x93': // STACK_GLOBAL
		name, err := v.pop()
		if err != nil {
			return false, err
		}
		mod, err := v.pop()
		if err != nil {
			return false, err
		}
		if !mod.isStr || !name.isStr {
			return false, errors.New("STACK_GLOBAL needs two strings")
		}
		if mod.leaf > maxNameBytes || name.leaf > maxNameBytes || !v.rules.Allowed(mod.str, name.str) {
			return false, v.refuse(mod.str, name.str)
		}
		v.push(shadow{})
	case '\x95': // FRAME
		n, err := v.uint(8)
		if err != nil {
			return false, err
		}
		if n > uint64(v.lim-v.pos) {
			return false, errTruncated
		}
		v.alloc += int64(n)
	case '\x98': // READONLY_BUFFER: a no-op in gopickle
	case '\x82', '\x83', '\x84':
		return false, errors.New("extension registry opcodes are not supported")
	case '\x97':
		return false, errors.New("out-of-band buffers are not supported")
	default:
		return false, errors.New("unknown opcode")
	}
	return false, nil
}

// argSize returns the size of the fixed-size argument (or length field) of
// op.
func argSize(op byte) int64 {
	switch op {
	case 'K', 'U', 'C', '\x8c', '\x8a':
		return 1
	case 'M':
		return 2
	case 'J', 'T', 'X', 'B', '\x8b':
		return 4
	}
	return 8 // 'G', '\x8d', '\x8e', '\x96'
}

// counted handles a string or bytes opcode whose length n has been read.
func (v *vetter) counted(op byte, n uint64) error {
	if n > uint64(v.lim-v.pos) {
		return errTruncated
	}
	s := shadow{leaf: int64(n)}
	isStr := op != 'B' && op != 'C' && op != '\x8e' && op != '\x96'
	if isStr && n <= maxNameBytes {
		b := make([]byte, n)
		if err := v.read(b); err != nil {
			return err
		}
		s.str = string(b)
	} else if err := v.skip(int64(n)); err != nil {
		return err
	}
	s.isStr, s.isBytes = isStr, !isStr && op != '\x96'
	v.alloc += 2 * int64(n)
	if op == '\x96' { // BYTEARRAY8 pushes a pointer
		s.leaf = 0
	}
	v.push(s)
	return nil
}

// memoIndex reads the memo index of a GET or PUT opcode: a text line for the
// text form, one byte for the short form, four bytes otherwise.
func (v *vetter) memoIndex(op, text, short byte) (int, error) {
	switch op {
	case text:
		s, err := v.line(maxNumberLine)
		if err != nil {
			return 0, err
		}
		i, err := strconv.Atoi(s.str)
		if err != nil || (op == 'p' && i < 0) {
			return 0, fmt.Errorf("bad memo index %s", Quote(s.str))
		}
		return i, nil
	case short:
		n, err := v.uint(1)
		return int(n), err
	}
	n, err := v.uint(4)
	return int(n), err
}

func (v *vetter) put(i int) error {
	t, err := v.top()
	if err != nil {
		return err
	}
	if _, ok := v.memo[i]; !ok {
		v.alloc += 96
	}
	v.memo[i] = t
	return nil
}

func (v *vetter) base() int {
	if len(v.marks) == 0 {
		return 0
	}
	return v.marks[len(v.marks)-1]
}

func (v *vetter) push(s shadow) {
	v.stack = append(v.stack, s)
	v.leaves += s.leaf
}

func (v *vetter) top() (shadow, error) {
	if len(v.stack) == v.base() {
		return shadow{}, errors.New("stack underflow")
	}
	return v.stack[len(v.stack)-1], nil
}

func (v *vetter) pop() (shadow, error) {
	t, err := v.top()
	if err == nil {
		v.stack = v.stack[:len(v.stack)-1]
	}
	return t, err
}

func (v *vetter) popN(n int) error {
	for range n {
		if _, err := v.pop(); err != nil {
			return err
		}
	}
	return nil
}

// popPush pops n values and pushes one that is neither a string nor bytes.
func (v *vetter) popPush(n int) error {
	if err := v.popN(n); err != nil {
		return err
	}
	v.push(shadow{})
	return nil
}

// popMark drops the values above the last MARK and the MARK, returning the
// values; the slice is valid until the next push.
func (v *vetter) popMark() ([]shadow, error) {
	if len(v.marks) == 0 {
		return nil, errors.New("no MARK to pop")
	}
	b := v.marks[len(v.marks)-1]
	v.marks = v.marks[:len(v.marks)-1]
	items := v.stack[b:]
	v.stack = v.stack[:b]
	return items, nil
}

// checkHashable refuses bytes among every step-th of items, which gopickle would
// use as dict keys or set members: Go cannot hash a []byte.
func checkHashable(items []shadow, step int) error {
	for i := 0; i < len(items); i += step {
		if items[i].isBytes {
			return errors.New("bytes as a dict key or set member are not supported")
		}
	}
	return nil
}

func (v *vetter) byte() (byte, error) {
	if v.pos >= v.lim {
		return 0, errTruncated
	}
	b, err := v.br.ReadByte()
	if err != nil {
		return 0, readErr(err)
	}
	v.pos++
	return b, nil
}

func (v *vetter) read(b []byte) error {
	if int64(len(b)) > v.lim-v.pos {
		return errTruncated
	}
	if _, err := io.ReadFull(v.br, b); err != nil {
		return readErr(err)
	}
	v.pos += int64(len(b))
	return nil
}

func (v *vetter) skip(n int64) error {
	if n > v.lim-v.pos {
		return errTruncated
	}
	if _, err := v.br.Discard(int(n)); err != nil {
		return readErr(err)
	}
	v.pos += n
	return nil
}

// uint reads a little-endian unsigned integer of size bytes.
func (v *vetter) uint(size int) (uint64, error) {
	var b [8]byte
	if err := v.read(b[:size]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// line reads a newline-terminated argument of at most max bytes (newline
// excluded); its text is kept if it is short enough to name a global.
func (v *vetter) line(max int64) (shadow, error) {
	var buf []byte
	var n int64
	for {
		b, err := v.byte()
		if err != nil {
			return shadow{}, err
		}
		if b == '\n' {
			break
		}
		if n++; n > max {
			return shadow{}, fmt.Errorf("text argument longer than %d bytes", max)
		}
		if n <= maxNameBytes {
			buf = append(buf, b)
		}
	}
	s := shadow{leaf: n, isStr: true}
	if n <= maxNameBytes {
		s.str = string(buf)
	}
	v.alloc += 2 * n
	return s, nil
}

func readErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errTruncated
	}
	return err
}
