package torchpth

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// This file builds the fuzz seeds of FuzzReadStateDict: state dicts of a
// few hundred bytes in each serialization. The VGG-like files in testdata
// are 75 KB: seeded, they slow the mutator to a few executions a second
// and stall the worker for a minute whenever it minimizes one of them.

// pidTyped writes the persistent id of a storage of the given type.
func (p *pk) pidTyped(typ, key string, numel int64) *pk {
	return p.op(opMark).str("storage").global("torch", typ).str(key).str("cpu").int(numel).op(opTuple, opBinPersID)
}

// zipSeed is a zip-serialization file with a float tensor "w" (2x2,
// transposed strides), a half-precision "h" and a long "n" that shares
// nothing with them.
func zipSeed() []byte {
	var m pk
	m.op(opProto, 2).global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opMark)
	m.str("w").global("torch._utils", "_rebuild_tensor_v2").op(opMark).pidTyped("FloatStorage", "0", 4).int(0).tuple(2, 2).tuple(1, 2).op(opNewFalse).global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opTuple, opReduce)
	m.str("h").global("torch._utils", "_rebuild_tensor_v2").op(opMark).pidTyped("HalfStorage", "1", 2).int(1).tuple(1).tuple(1).op(opNewFalse, opNone, opTuple, opReduce)
	m.str("n").global("torch._utils", "_rebuild_tensor_v2").op(opMark).pidTyped("LongStorage", "2", 1).int(0).op(opEmptyTuple, opEmptyTuple, opNewFalse, opNone, opTuple, opReduce)
	m.op(opSetItems, opStop)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range []struct {
		name string
		data []byte
	}{
		{"a/data.pkl", m.Bytes()},
		{"a/byteorder", []byte("little")},
		{"a/data/0", f32le(1, 2, 3, 4)},
		{"a/data/1", []byte{0x00, 0x3C, 0x00, 0xC0}}, // 1, -2 in float16
		{"a/data/2", []byte{7, 0, 0, 0, 0, 0, 0, 0}},
	} {
		// CreateRaw with known sizes writes no data descriptors.
		w, err := zw.CreateRaw(&zip.FileHeader{Name: e.name, Method: zip.Store, CRC32: crc32.ChecksumIEEE(e.data),
			CompressedSize64: uint64(len(e.data)), UncompressedSize64: uint64(len(e.data))})
		if err != nil {
			panic(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func f32le(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// legacyV2Seed is a legacy file of PyTorch 0.4 to 1.5: an OrderedDict
// with a _rebuild_tensor_v2 tensor and a _rebuild_parameter wrapping one.
func legacyV2Seed() []byte {
	var m pk
	m.op(opProto, 2).global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opMark)
	m.str("a").global("torch._utils", "_rebuild_tensor_v2").op(opMark).pid("s", 6, nil).int(0).tuple(2, 3).tuple(3, 1).op(opNewFalse, opNone, opTuple, opReduce)
	m.str("b").global("torch._utils", "_rebuild_parameter").op(opMark)
	m.global("torch._utils", "_rebuild_tensor_v2").op(opMark).pid("s", 6, nil).int(4).tuple(2).tuple(1).op(opNewFalse, opNone, opTuple, opReduce)
	m.op(opNewTrue, opEmptyDict, opTuple, opReduce)
	m.op(opSetItems, opStop)
	return legacy(m.Bytes(), []string{"s"}, map[string][]float32{"s": {0, 1, 2, 3, 4, 5}})
}

// fuzzSeeds returns the hand-made seeds of FuzzReadStateDict and the small
// files of testdata (the rejected malicious pickles).
func fuzzSeeds(t testing.TB) [][]byte {
	out := [][]byte{
		zipSeed(),
		legacyV2Seed(),
		tensorFile(1, []int64{2}, []int64{1}, []any{"v", int64(2), int64(4)}),
	}
	for _, name := range []string{"malicious-os-system.pth", "malicious-eval-zip.pth"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestFuzzSeeds checks that the hand-made seeds are read as intended.
func TestFuzzSeeds(t *testing.T) {
	for i, b := range fuzzSeeds(t) {
		if len(b) > 1024 {
			t.Errorf("seed %d is %d bytes, want a small seed", i, len(b))
		}
	}
	sd, err := read(zipSeed())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sd.Keys(), []string{"w", "h", "n"}) || sd.Format() != FormatZip {
		t.Fatalf("zip seed: keys %q, format %v", sd.Keys(), sd.Format())
	}
	for name, want := range map[string][]float32{"w": {1, 3, 2, 4}, "h": {-2}} {
		tt, err := sd.Tensor(name)
		if err != nil || !slices.Equal(tt.Float32(), want) {
			t.Errorf("zip seed %s = %v, %v; want %v", name, tt, err, want)
		}
	}
	sd, err = read(legacyV2Seed())
	if err != nil || sd.Format() != FormatLegacyV2 {
		t.Fatalf("legacy v2 seed: %v", err)
	}
	for name, want := range map[string][]float32{"a": {0, 1, 2, 3, 4, 5}, "b": {4, 5}} {
		tt, err := sd.Tensor(name)
		if err != nil || !slices.Equal(tt.Float32(), want) {
			t.Errorf("legacy v2 seed %s = %v, %v; want %v", name, tt, err, want)
		}
	}
}
