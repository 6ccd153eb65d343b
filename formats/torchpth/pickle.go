package torchpth

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strings"
)

// Values of the pickle machine. Python ints are int64 (or *big.Int when
// they do not fit), floats float64, str and Python 2 byte strings string,
// bytes pyBytes, None nil, True/False bool.
type (
	pyTuple []any
	pyBytes string
	pyList  struct{ items []any }
	// pyDict is a dict or an OrderedDict; keys keep insertion order.
	pyDict struct {
		ordered    bool
		keys, vals []any
		index      map[any]int
	}
	// pyGlobal is an allowlisted global, pushed by GLOBAL/STACK_GLOBAL.
	pyGlobal struct{ module, name string }
)

func (g pyGlobal) String() string { return g.module + "." + g.name }

// set sets d[k] = v; k must be a hashable scalar.
func (d *pyDict) set(k, v any) error {
	switch k.(type) {
	case string, pyBytes, int64, float64, bool, nil:
	default:
		return fmt.Errorf("dict key of type %s", typeName(k))
	}
	if i, ok := d.index[k]; ok {
		d.vals[i] = v
		return nil
	}
	if d.index == nil {
		d.index = make(map[any]int)
	}
	d.index[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

// get returns d[k].
func (d *pyDict) get(k string) (any, bool) {
	i, ok := d.index[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// typeName names the Python type of v for error messages.
func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case pyBytes:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		if v.ordered {
			return "OrderedDict"
		}
		return "dict"
	case pyGlobal:
		return "global " + v.String()
	case *storageRef:
		return "storage"
	case *tensorRef:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// input is the byte stream of one or more pickles. Offsets in errors are
// offsets in the file, or in the zip entry named by name.
type input struct {
	br      *bufio.Reader
	off     int64 // offset of the next byte
	end     int64 // offset of the end of the data
	name    string
	scratch [8]byte
}

func newInput(r io.Reader, off, end int64, name string) *input {
	return &input{br: bufio.NewReaderSize(r, int(min(max(end-off, 16), 64<<10))), off: off, end: end, name: name}
}

// where describes offset off for an error message.
func (in *input) where(off int64) string {
	if in.name != "" {
		return fmt.Sprintf("%s offset %d", in.name, off)
	}
	return fmt.Sprintf("offset %d", off)
}

// errorf formats an error at offset off wrapping sentinel.
func (in *input) errorf(sentinel error, off int64, format string, args ...any) error {
	return fmt.Errorf("torchpth: pickle at %s: %s: %w", in.where(off), fmt.Sprintf(format, args...), sentinel)
}

// readErr converts a read error at offset off.
func (in *input) readErr(err error, what string, off int64) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return in.errorf(ErrFormat, off, "%s truncated", what)
	}
	return fmt.Errorf("torchpth: reading %s at %s: %w", what, in.where(off), err)
}

func (in *input) byte(what string) (byte, error) {
	if in.off >= in.end {
		return 0, in.errorf(ErrFormat, in.off, "%s truncated: end of data", what)
	}
	b, err := in.br.ReadByte()
	if err != nil {
		return 0, in.readErr(err, what, in.off)
	}
	in.off++
	return b, nil
}

// fixed reads n <= 8 bytes into the scratch buffer.
func (in *input) fixed(n int, what string) ([]byte, error) {
	if int64(n) > in.end-in.off {
		return nil, in.errorf(ErrFormat, in.off, "%s of %d bytes truncated: %d bytes left", what, n, in.end-in.off)
	}
	b := in.scratch[:n]
	if _, err := io.ReadFull(in.br, b); err != nil {
		return nil, in.readErr(err, what, in.off)
	}
	in.off += int64(n)
	return b, nil
}

// bytes reads n bytes, checking n against the bytes left first; the
// buffer grows as data arrives, so a wrong end cannot cause a large
// allocation.
func (in *input) bytes(n int64, what string) ([]byte, error) {
	start := in.off
	if n < 0 || n > in.end-in.off {
		return nil, in.errorf(ErrFormat, start, "%s of %d bytes exceeds the %d bytes left", what, n, in.end-in.off)
	}
	const chunk = 64 << 10
	buf := make([]byte, 0, min(n, chunk))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(n-int64(len(buf)), int64(len(buf)))))
		}
		m, err := io.ReadFull(in.br, buf[len(buf):int(min(int64(cap(buf)), n))])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, in.readErr(err, what, start+int64(len(buf)))
		}
	}
	in.off += n
	return buf, nil
}

// line reads a newline-terminated line of at most 256 bytes (a GLOBAL
// module or name) without the newline.
func (in *input) line(what string) (string, error) {
	start := in.off
	var sb strings.Builder
	for {
		b, err := in.byte(what)
		if err != nil {
			return "", err
		}
		if b == '\n' {
			return sb.String(), nil
		}
		if sb.Len() == 256 {
			return "", in.errorf(ErrFormat, start, "%s longer than 256 bytes", what)
		}
		sb.WriteByte(b)
	}
}

// Pickle opcodes (Python's Lib/pickle.py).
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opBinInt2        = 'M'
	opNone           = 'N'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opBinString      = 'T'
	opShortBinString = 'U'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opBinGet         = 'h'
	opInst           = 'i'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinFloat       = 'G'
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opProto          = 0x80
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opLong4          = 0x8b
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
)

// maxLongBytes bounds the encoded size of a LONG1/LONG4 integer.
const maxLongBytes = 256

// unpickler is a pickle machine that calls nothing: REDUCE is implemented
// only for the allowlisted globals, and persistent ids are resolved by
// persistent.
type unpickler struct {
	in    *input
	stack []any
	marks []int
	memo  map[uint32]any
	// persistent resolves a BINPERSID id; nil rejects persistent ids.
	persistent func(pid any, off int64) (any, error)
	// rebuilt counts tensors by rebuild function name.
	rebuilt map[string]int
}

// load runs the machine until STOP and returns the pickled object.
func (u *unpickler) load() (any, error) {
	u.stack, u.marks = u.stack[:0], u.marks[:0]
	u.memo = make(map[uint32]any)
	in := u.in
	for {
		off := in.off
		op, err := in.byte("opcode")
		if err != nil {
			return nil, err
		}
		bad := func(format string, args ...any) error {
			return in.errorf(ErrFormat, off, "opcode 0x%02x: %s", op, fmt.Sprintf(format, args...))
		}
		pop := func() (any, error) {
			if len(u.stack) == 0 || (len(u.marks) > 0 && u.marks[len(u.marks)-1] == len(u.stack)) {
				return nil, bad("stack underflow")
			}
			v := u.stack[len(u.stack)-1]
			u.stack = u.stack[:len(u.stack)-1]
			return v, nil
		}
		top := func() (any, error) {
			if len(u.stack) == 0 || (len(u.marks) > 0 && u.marks[len(u.marks)-1] == len(u.stack)) {
				return nil, bad("stack underflow")
			}
			return u.stack[len(u.stack)-1], nil
		}
		popMark := func() ([]any, error) {
			if len(u.marks) == 0 {
				return nil, bad("no MARK")
			}
			m := u.marks[len(u.marks)-1]
			u.marks = u.marks[:len(u.marks)-1]
			items := slices.Clone(u.stack[m:])
			clear(u.stack[m:])
			u.stack = u.stack[:m]
			return items, nil
		}
		push := func(v any) { u.stack = append(u.stack, v) }
		str := func(n int64, what string) (string, error) {
			b, err := in.bytes(n, what)
			return string(b), err
		}

		switch op {
		case opProto:
			v, err := in.byte("protocol")
			if err != nil {
				return nil, err
			}
			if v > 5 {
				return nil, in.errorf(ErrUnsupported, off, "pickle protocol %d", v)
			}
		case opFrame:
			b, err := in.fixed(8, "frame length")
			if err != nil {
				return nil, err
			}
			if n := binary.LittleEndian.Uint64(b); n > uint64(in.end-in.off) {
				return nil, bad("frame of %d bytes exceeds the %d bytes left", n, in.end-in.off)
			}
		case opStop:
			if len(u.stack) != 1 || len(u.marks) != 0 {
				return nil, bad("STOP with %d values and %d marks on the stack, want 1 and 0", len(u.stack), len(u.marks))
			}
			v := u.stack[0]
			u.stack[0] = nil
			return v, nil
		case opMark:
			u.marks = append(u.marks, len(u.stack))
		case opPop:
			if _, err := pop(); err != nil {
				return nil, err
			}
		case opPopMark:
			if _, err := popMark(); err != nil {
				return nil, err
			}
		case opDup:
			v, err := top()
			if err != nil {
				return nil, err
			}
			push(v)
		case opNone:
			push(nil)
		case opNewTrue:
			push(true)
		case opNewFalse:
			push(false)
		case opBinInt:
			b, err := in.fixed(4, "BININT")
			if err != nil {
				return nil, err
			}
			push(int64(int32(binary.LittleEndian.Uint32(b))))
		case opBinInt1:
			b, err := in.byte("BININT1")
			if err != nil {
				return nil, err
			}
			push(int64(b))
		case opBinInt2:
			b, err := in.fixed(2, "BININT2")
			if err != nil {
				return nil, err
			}
			push(int64(binary.LittleEndian.Uint16(b)))
		case opLong1, opLong4:
			var n int64
			if op == opLong1 {
				b, err := in.byte("LONG1 length")
				if err != nil {
					return nil, err
				}
				n = int64(b)
			} else {
				b, err := in.fixed(4, "LONG4 length")
				if err != nil {
					return nil, err
				}
				n = int64(int32(binary.LittleEndian.Uint32(b)))
				if n < 0 || n > maxLongBytes {
					return nil, in.errorf(ErrUnsupported, off, "LONG4 of %d bytes (the limit is %d)", n, maxLongBytes)
				}
			}
			b, err := in.bytes(n, "LONG")
			if err != nil {
				return nil, err
			}
			push(decodeLong(b))
		case opBinFloat:
			b, err := in.fixed(8, "BINFLOAT")
			if err != nil {
				return nil, err
			}
			push(math.Float64frombits(binary.BigEndian.Uint64(b)))
		case opShortBinString, opShortBinUni, opShortBinBytes:
			n, err := in.byte("string length")
			if err != nil {
				return nil, err
			}
			s, err := str(int64(n), "string")
			if err != nil {
				return nil, err
			}
			if op == opShortBinBytes {
				push(pyBytes(s))
			} else {
				push(s)
			}
		case opBinString, opBinUnicode, opBinBytes:
			b, err := in.fixed(4, "string length")
			if err != nil {
				return nil, err
			}
			n := int64(binary.LittleEndian.Uint32(b))
			if op == opBinString {
				n = int64(int32(n)) // signed in Python 2
			}
			s, err := str(n, "string")
			if err != nil {
				return nil, err
			}
			if op == opBinBytes {
				push(pyBytes(s))
			} else {
				push(s)
			}
		case opBinUnicode8:
			b, err := in.fixed(8, "string length")
			if err != nil {
				return nil, err
			}
			n := binary.LittleEndian.Uint64(b)
			if n > math.MaxInt64 {
				return nil, bad("string of %d bytes", n)
			}
			s, err := str(int64(n), "string")
			if err != nil {
				return nil, err
			}
			push(s)
		case opEmptyTuple:
			push(pyTuple{})
		case opTuple1, opTuple2, opTuple3:
			n := int(op-opTuple1) + 1
			if len(u.stack) < n || (len(u.marks) > 0 && len(u.stack)-u.marks[len(u.marks)-1] < n) {
				return nil, bad("stack underflow")
			}
			t := slices.Clone(pyTuple(u.stack[len(u.stack)-n:]))
			clear(u.stack[len(u.stack)-n:])
			u.stack = u.stack[:len(u.stack)-n]
			push(t)
		case opTuple:
			items, err := popMark()
			if err != nil {
				return nil, err
			}
			push(pyTuple(items))
		case opEmptyList:
			push(&pyList{})
		case opList:
			items, err := popMark()
			if err != nil {
				return nil, err
			}
			push(&pyList{items: items})
		case opEmptyDict:
			push(&pyDict{})
		case opDict:
			items, err := popMark()
			if err != nil {
				return nil, err
			}
			d := &pyDict{}
			if err := setItems(d, items); err != nil {
				return nil, bad("%v", err)
			}
			push(d)
		case opAppend, opAppends:
			var items []any
			if op == opAppend {
				v, err := pop()
				if err != nil {
					return nil, err
				}
				items = []any{v}
			} else if items, err = popMark(); err != nil {
				return nil, err
			}
			t, err := top()
			if err != nil {
				return nil, err
			}
			l, ok := t.(*pyList)
			if !ok {
				return nil, bad("append to a %s", typeName(t))
			}
			l.items = append(l.items, items...)
		case opSetItem, opSetItems:
			var items []any
			if op == opSetItem {
				v, err := pop()
				if err != nil {
					return nil, err
				}
				k, err := pop()
				if err != nil {
					return nil, err
				}
				items = []any{k, v}
			} else if items, err = popMark(); err != nil {
				return nil, err
			}
			t, err := top()
			if err != nil {
				return nil, err
			}
			d, ok := t.(*pyDict)
			if !ok {
				return nil, bad("set item of a %s", typeName(t))
			}
			if err := setItems(d, items); err != nil {
				return nil, in.errorf(ErrUnsupported, off, "%v", err)
			}
		case opBinPut, opLongBinPut, opMemoize:
			var idx uint32
			switch op {
			case opBinPut:
				b, err := in.byte("BINPUT index")
				if err != nil {
					return nil, err
				}
				idx = uint32(b)
			case opLongBinPut:
				b, err := in.fixed(4, "LONG_BINPUT index")
				if err != nil {
					return nil, err
				}
				idx = binary.LittleEndian.Uint32(b)
			default:
				idx = uint32(len(u.memo))
			}
			v, err := top()
			if err != nil {
				return nil, err
			}
			u.memo[idx] = v
		case opBinGet, opLongBinGet:
			var idx uint32
			if op == opBinGet {
				b, err := in.byte("BINGET index")
				if err != nil {
					return nil, err
				}
				idx = uint32(b)
			} else {
				b, err := in.fixed(4, "LONG_BINGET index")
				if err != nil {
					return nil, err
				}
				idx = binary.LittleEndian.Uint32(b)
			}
			v, ok := u.memo[idx]
			if !ok {
				return nil, bad("memo index %d was never stored", idx)
			}
			push(v)
		case opGlobal, opInst:
			module, err := in.line("GLOBAL module")
			if err != nil {
				return nil, err
			}
			name, err := in.line("GLOBAL name")
			if err != nil {
				return nil, err
			}
			g, err := in.global(module, name, off)
			if err != nil {
				return nil, err
			}
			if op == opInst {
				return nil, in.errorf(ErrUnsupported, off, "INST of %s", g)
			}
			push(g)
		case opStackGlobal:
			name, err := pop()
			if err != nil {
				return nil, err
			}
			module, err := pop()
			if err != nil {
				return nil, err
			}
			m, ok1 := module.(string)
			n, ok2 := name.(string)
			if !ok1 || !ok2 {
				return nil, bad("STACK_GLOBAL of %s and %s, want two str", typeName(module), typeName(name))
			}
			g, err := in.global(m, n, off)
			if err != nil {
				return nil, err
			}
			push(g)
		case opReduce:
			args, err := pop()
			if err != nil {
				return nil, err
			}
			f, err := pop()
			if err != nil {
				return nil, err
			}
			v, err := u.call(f, args, off)
			if err != nil {
				return nil, err
			}
			push(v)
		case opBuild:
			state, err := pop()
			if err != nil {
				return nil, err
			}
			obj, err := top()
			if err != nil {
				return nil, err
			}
			if err := build(obj, state); err != nil {
				return nil, in.errorf(ErrUnsupported, off, "BUILD: %v", err)
			}
		case opBinPersID:
			pid, err := pop()
			if err != nil {
				return nil, err
			}
			if u.persistent == nil {
				return nil, bad("persistent id in a pickle that may not have one")
			}
			v, err := u.persistent(pid, off)
			if err != nil {
				return nil, err
			}
			push(v)
		default:
			return nil, in.errorf(ErrUnsupported, off, "pickle opcode 0x%02x", op)
		}
	}
}

// decodeLong decodes a little-endian two's complement integer.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		shift := 64 - 8*uint(len(b))
		return int64(v<<shift) >> shift
	}
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return v
}

// setItems adds the key, value pairs of items to d.
func setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("odd number %d of keys and values", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// global checks module.name against the allowlist.
func (in *input) global(module, name string, off int64) (pyGlobal, error) {
	g := pyGlobal{module, name}
	switch g.String() {
	case "collections.OrderedDict", "torch._utils._rebuild_tensor",
		"torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter":
		return g, nil
	}
	if _, ok := storageTypes[name]; ok && module == "torch" {
		return g, nil
	}
	return g, in.errorf(ErrUnsafe, off, "global %q is not allowed", g.String())
}

// build applies BUILD: the only state accepted is the attribute dict of a
// dict (the _metadata of a state dict), which is ignored.
func build(obj, state any) error {
	d, ok := obj.(*pyDict)
	if !ok {
		return fmt.Errorf("state of a %s", typeName(obj))
	}
	if _, ok := state.(*pyDict); !ok {
		return fmt.Errorf("state of type %s for a %s", typeName(state), typeName(d))
	}
	return nil
}
