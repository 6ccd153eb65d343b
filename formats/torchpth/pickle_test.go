package torchpth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// pk assembles a pickle from opcodes and their arguments.
type pk struct{ bytes.Buffer }

func (p *pk) op(ops ...byte) *pk { p.Write(ops); return p }

// str writes a str as BINUNICODE.
func (p *pk) str(s string) *pk {
	p.WriteByte(opBinUnicode)
	binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

// py2 writes a Python 2 byte string (SHORT_BINSTRING or BINSTRING).
func (p *pk) py2(s string) *pk {
	if len(s) < 256 {
		p.op(opShortBinString, byte(len(s)))
	} else {
		p.WriteByte(opBinString)
		binary.Write(p, binary.LittleEndian, int32(len(s)))
	}
	p.WriteString(s)
	return p
}

func (p *pk) int(v int64) *pk {
	switch {
	case v >= 0 && v < 256:
		p.op(opBinInt1, byte(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		p.WriteByte(opBinInt)
		binary.Write(p, binary.LittleEndian, int32(v))
	default:
		p.op(opLong1, 8)
		binary.Write(p, binary.LittleEndian, v)
	}
	return p
}

func (p *pk) global(module, name string) *pk {
	p.WriteByte(opGlobal)
	p.WriteString(module + "\n" + name + "\n")
	return p
}

func (p *pk) tuple(vs ...int64) *pk {
	p.op(opMark)
	for _, v := range vs {
		p.int(v)
	}
	return p.op(opTuple)
}

// pid writes the persistent id of a float storage; view is nil or
// {key, offset, size}.
func (p *pk) pid(key string, numel int64, view []any) *pk {
	p.op(opMark).str("storage").global("torch", "FloatStorage").str(key).str("cpu").int(numel)
	if view == nil {
		p.op(opNone)
	} else {
		p.op(opMark).str(view[0].(string)).int(view[1].(int64)).int(view[2].(int64)).op(opTuple)
	}
	return p.op(opTuple, opBinPersID)
}

// legacy assembles a legacy file around the state-dict pickle main: the
// storages are float32 and follow in the order of keys.
func legacy(main []byte, keys []string, data map[string][]float32) []byte {
	var f pk
	f.op(opProto, 2, opLong1, 10)
	f.Write([]byte{0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19})
	f.op(opStop, opProto, 2).int(legacyProtocol).op(opStop)
	f.op(opProto, 2, opEmptyDict).str("little_endian").op(opNewTrue, opSetItem, opStop)
	f.Write(main)
	f.op(opProto, 2, opEmptyList, opMark)
	for _, k := range keys {
		f.str(k)
	}
	f.op(opAppends, opStop)
	for _, k := range keys {
		binary.Write(&f, binary.LittleEndian, int64(len(data[k])))
		binary.Write(&f, binary.LittleEndian, data[k])
	}
	return f.Bytes()
}

func read(b []byte) (*StateDict, error) { return ReadStateDict(bytesReader(b), int64(len(b))) }

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// TestPy2ViewsAndProtocol4 reads a hand-assembled legacy file that uses
// Python 2 strings, an OrderedDict built from a list of pairs, storage
// views, FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE and
// _rebuild_parameter.
func TestPy2ViewsAndProtocol4(t *testing.T) {
	var m pk
	m.op(opProto, 4, opFrame, 0, 0, 0, 0, 0, 0, 0, 0) // a frame length of 0 is not checked
	m.op(opShortBinUni, 11).WriteString("collections")
	m.op(opMemoize, opShortBinUni, 11).WriteString("OrderedDict")
	m.op(opMemoize, opStackGlobal, opMemoize)
	m.op(opEmptyList, opMark)
	// ["a", _rebuild_tensor(view v1 = s[2:8], 1, (2, 2), (1, 2))]: the transpose of [[s3, s4], [s5, s6]].
	m.op(opEmptyList).py2("a").op(opAppend)
	m.global("torch._utils", "_rebuild_tensor").op(opMark).pid("s", 10, []any{"v1", int64(2), int64(6)}).int(1).tuple(2, 2).tuple(1, 2).op(opTuple, opReduce, opAppend)
	// ["b", _rebuild_parameter(_rebuild_tensor_v2(s, 8, (2,), (1,), True, OrderedDict()), False, OrderedDict())]
	m.op(opEmptyList).py2(strings.Repeat("b", 300)).op(opAppend)
	m.global("torch._utils", "_rebuild_parameter").op(opMark)
	m.global("torch._utils", "_rebuild_tensor_v2").op(opMark).pid("s", 10, nil).int(8).tuple(2).tuple(1).op(opNewTrue)
	m.op(opLongBinGet, 2, 0, 0, 0, opEmptyTuple, opReduce, opTuple, opReduce) // memo 2 is OrderedDict
	m.op(opNewFalse, opBinGet, 2, opEmptyTuple, opReduce, opTuple, opReduce, opAppend)
	m.op(opAppends, opTuple1, opReduce, opStop)
	s := []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	b := legacy(m.Bytes(), []string{"s"}, map[string][]float32{"s": s})
	sd, err := read(b)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("b", 300)
	if !slices.Equal(sd.Keys(), []string{"a", long}) || sd.Format() != FormatLegacy {
		t.Fatalf("keys %q, format %s", sd.Keys(), sd.Format())
	}
	a, err := sd.Tensor("a")
	if err != nil || !slices.Equal(a.Float32(), []float32{3, 5, 4, 6}) || a.StorageOffset != 3 {
		t.Errorf("a = %+v, %v", a, err)
	}
	bt, err := sd.Tensor(long)
	if err != nil || !slices.Equal(bt.Float32(), []float32{8, 9}) {
		t.Errorf("b = %+v, %v", bt, err)
	}
}

// tensorFile is a legacy file with one tensor of storage s (10 elements).
func tensorFile(offset int64, size, stride []int64, view []any) []byte {
	var m pk
	m.op(opProto, 2, opEmptyDict).str("t")
	m.global("torch._utils", "_rebuild_tensor").op(opMark).pid("s", 10, view).int(offset).tuple(size...).tuple(stride...).op(opTuple, opReduce)
	m.op(opSetItem, opStop)
	return legacy(m.Bytes(), []string{"s"}, map[string][]float32{"s": make([]float32, 10)})
}

func TestTensorBounds(t *testing.T) {
	for _, c := range []struct {
		name         string
		offset       int64
		size, stride []int64
		view         []any
		want         error
	}{
		{"fits", 2, []int64{2, 4}, []int64{4, 1}, nil, nil},
		{"transposed", 0, []int64{5, 2}, []int64{1, 5}, nil, nil},
		{"empty", 100, []int64{0, 7}, []int64{7, 1}, nil, nil},
		{"scalar", 9, nil, nil, nil, nil},
		{"past end", 3, []int64{2, 4}, []int64{4, 1}, nil, ErrFormat},
		{"stride past end", 0, []int64{2}, []int64{10}, nil, ErrFormat},
		{"scalar past end", 10, nil, nil, nil, ErrFormat},
		{"view", 0, []int64{4}, []int64{1}, []any{"v", int64(6), int64(4)}, nil},
		{"past view end", 1, []int64{4}, []int64{1}, []any{"v", int64(6), int64(4)}, ErrFormat},
		{"view past storage", 0, []int64{1}, []int64{1}, []any{"v", int64(8), int64(4)}, ErrFormat},
		{"repeated", 0, []int64{3, 5}, []int64{0, 1}, nil, ErrUnsupported},
		{"huge repeated", 0, []int64{1 << 30, 1 << 30}, []int64{0, 0}, nil, ErrUnsupported},
		{"overflow", 0, []int64{1 << 62, 1 << 62}, []int64{1, 1}, nil, ErrFormat},
		{"rank mismatch", 0, []int64{2, 2}, []int64{2}, nil, ErrFormat},
		{"negative stride", 4, []int64{2}, []int64{-1}, nil, ErrFormat},
		{"negative offset", -1, []int64{2}, []int64{1}, nil, ErrFormat},
	} {
		sd, err := read(tensorFile(c.offset, c.size, c.stride, c.view))
		if err == nil {
			_, err = sd.Tensor("t")
		}
		if (c.want == nil && err != nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

// TestRejected feeds pickles that must be refused before anything is
// allocated or called.
func TestRejected(t *testing.T) {
	var osSystem, stackGlobal, callStorage, inst, hugeString, hugeMemo, unknownOp, notDict, nonTensor pk
	osSystem.op(opProto, 2).global("os", "system").str("touch /tmp/x").op(opTuple1, opReduce, opStop)
	stackGlobal.op(opProto, 4).str("builtins").str("exec").op(opStackGlobal, opStop)
	callStorage.op(opProto, 2).global("torch", "FloatStorage").int(1<<30).op(opTuple1, opReduce, opStop)
	inst.op(opProto, 2, opMark, opInst).WriteString("subprocess\nPopen\n")
	hugeString.op(opProto, 2, opBinUnicode, 0xff, 0xff, 0xff, 0x7f, 'x', opStop)
	hugeMemo.op(opProto, 2, opNone, opLongBinGet, 0xff, 0xff, 0xff, 0xff, opStop)
	unknownOp.op(opProto, 2, 'S').WriteString("'x'\n.")
	notDict.op(opProto, 2, opEmptyList, opStop)
	nonTensor.op(opProto, 2, opEmptyDict).str("epoch").int(3).op(opSetItem, opStop)
	for _, c := range []struct {
		name string
		b    []byte
		want error
		text string
	}{
		{"os.system", osSystem.Bytes(), ErrUnsafe, `"os.system"`},
		{"STACK_GLOBAL builtins.exec", stackGlobal.Bytes(), ErrUnsafe, `"builtins.exec"`},
		{"call a storage type", legacy(callStorage.Bytes(), nil, nil), ErrUnsafe, "torch.FloatStorage may not be called"},
		{"INST", inst.Bytes(), ErrUnsafe, "subprocess.Popen"},
		{"huge string", hugeString.Bytes(), ErrFormat, "2147483647 bytes"},
		{"huge memo index", hugeMemo.Bytes(), ErrFormat, "memo index 4294967295"},
		{"text STRING opcode", unknownOp.Bytes(), ErrUnsupported, "opcode 0x53"},
		{"list, not a state dict", legacy(notDict.Bytes(), nil, nil), ErrUnsupported, "is a list"},
		{"int value", legacy(nonTensor.Bytes(), nil, nil), ErrUnsupported, `"epoch" is a int`},
		{"not a pickle", []byte("hello"), ErrFormat, "neither"},
		{"empty", nil, ErrFormat, ""},
		{"tar", append(make([]byte, 257), "ustar\x0000"...), ErrUnsupported, "tar"},
	} {
		before := memAlloc()
		_, err := read(c.b)
		if alloc := memAlloc() - before; alloc > 1<<20 {
			t.Errorf("%s: allocated %d bytes", c.name, alloc)
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: err = %v, want %v containing %q", c.name, err, c.want, c.text)
		}
	}
}

// TestLegacyStorageList checks the storage key list against the state
// dict and the data that follows.
func TestLegacyStorageList(t *testing.T) {
	var m pk
	m.op(opProto, 2, opEmptyDict).str("t")
	m.global("torch._utils", "_rebuild_tensor_v2").op(opMark).pid("s", 2, nil).int(0).tuple(2).tuple(1).op(opNewFalse, opNone, opTuple, opReduce)
	m.op(opSetItem, opStop)
	two := map[string][]float32{"s": {1, 2}, "u": {3}}
	if sd, err := read(legacy(m.Bytes(), []string{"s"}, two)); err != nil || sd.Format() != FormatLegacyV2 {
		t.Fatalf("valid file: %v", err)
	}
	for _, c := range []struct {
		name string
		b    []byte
		text string
	}{
		{"missing", legacy(m.Bytes(), nil, two), "missing from the storage key list"},
		{"twice", legacy(m.Bytes(), []string{"s", "s"}, two), "listed twice"},
		{"unknown", legacy(m.Bytes(), []string{"s", "u"}, two), `"u" is not used`},
		{"wrong count", legacy(m.Bytes(), []string{"s"}, map[string][]float32{"s": {1, 2, 3}}), "has 3 elements, the state dict says 2"},
		{"trailing", append(legacy(m.Bytes(), []string{"s"}, two), 0), "1 trailing bytes"},
	} {
		if _, err := read(c.b); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: err = %v, want ErrFormat containing %q", c.name, err, c.text)
		}
	}
}
