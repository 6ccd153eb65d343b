package hdf5

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"testing"
)

// This file builds the fuzz seeds of FuzzOpen: minimal HDF5 files of a few
// hundred bytes, written byte by byte, that exercise the structures of
// Keras weight files. The testdata/*.h5 files are 8 to 130 KB, which slows
// the mutator to a few executions a second and stalls a worker for minutes
// while it minimizes one of them, so they are not seeded.
//
// Sizes of offsets and lengths are 8. Checksums are left zero (the reader
// does not verify them).

// h5buf appends little-endian fields.
type h5buf struct{ b []byte }

func (w *h5buf) u8(v ...uint8) *h5buf { w.b = append(w.b, v...); return w }
func (w *h5buf) u16(v uint16) *h5buf  { w.b = binary.LittleEndian.AppendUint16(w.b, v); return w }
func (w *h5buf) u32(v uint32) *h5buf  { w.b = binary.LittleEndian.AppendUint32(w.b, v); return w }
func (w *h5buf) u64(v uint64) *h5buf  { w.b = binary.LittleEndian.AppendUint64(w.b, v); return w }
func (w *h5buf) str(s string) *h5buf  { w.b = append(w.b, s...); return w }
func (w *h5buf) pad8() *h5buf {
	for len(w.b)%8 != 0 {
		w.b = append(w.b, 0)
	}
	return w
}

// Message bodies (the same in version 1 and 2 object headers).

func dataspaceMsg(version uint8, dims ...uint64) []byte {
	w := &h5buf{}
	w.u8(version, uint8(len(dims)), 0)
	if version == 1 {
		w.u8(0, 0, 0, 0, 0)
	} else {
		typ := uint8(1) // simple
		if len(dims) == 0 {
			typ = 0 // scalar
		}
		w.u8(typ)
	}
	for _, d := range dims {
		w.u64(d)
	}
	return w.b
}

func float32Type(bigEndian bool) []byte {
	b0 := uint8(0x20)
	if bigEndian {
		b0 |= 1
	}
	return (&h5buf{}).u8(0x11, b0, 0x1F, 0).u32(4).u16(0).u16(32).u8(23, 8, 0, 23).u32(127).b
}

func float64Type() []byte {
	return (&h5buf{}).u8(0x11, 0x20, 0x3F, 0).u32(8).u16(0).u16(64).u8(52, 11, 0, 52).u32(1023).b
}

func int32Type() []byte { return (&h5buf{}).u8(0x10, 0x08, 0, 0).u32(4).u16(0).u16(32).b }

func stringType(size uint32) []byte { return (&h5buf{}).u8(0x13, 0x01, 0, 0).u32(size).b }

func vlenStringType() []byte {
	return (&h5buf{}).u8(0x19, 0x01, 0, 0).u32(16).b // base type omitted: not read
}

func contiguousLayout(addr, size uint64) []byte {
	return (&h5buf{}).u8(3, layoutContiguous).u64(addr).u64(size).b
}

func compactLayout(data []byte) []byte {
	return (&h5buf{}).u8(3, layoutCompact).u16(uint16(len(data))).str(string(data)).b
}

// chunkedLayout is a version 3 chunked layout with a v1 B-tree index.
func chunkedLayout(btree uint64, chunk []uint32, elem uint32) []byte {
	w := (&h5buf{}).u8(3, layoutChunked, uint8(len(chunk)+1)).u64(btree)
	for _, c := range chunk {
		w.u32(c)
	}
	return w.u32(elem).b
}

// singleChunkLayout is a version 4 chunked layout with a single-chunk index.
func singleChunkLayout(addr uint64, chunk []uint8, elem uint8) []byte {
	w := (&h5buf{}).u8(4, layoutChunked, 0, uint8(len(chunk)+1), 1)
	w.u8(chunk...).u8(elem, 1).u64(addr)
	return w.b
}

func linkMsg(name string, addr uint64) []byte {
	return (&h5buf{}).u8(1, 0, uint8(len(name))).str(name).u64(addr).b
}

// attrMsg is an attribute message of version 1 (fields padded to 8 bytes)
// or 3.
func attrMsg(version uint8, name string, dt, ds, data []byte) []byte {
	w := (&h5buf{}).u8(version, 0).u16(uint16(len(name) + 1)).u16(uint16(len(dt))).u16(uint16(len(ds)))
	field := func(b []byte) {
		w.str(string(b))
		if version == 1 {
			w.pad8()
		}
	}
	if version == 3 {
		w.u8(0)
	}
	if version == 1 {
		w.pad8()
	}
	field(append([]byte(name), 0))
	field(dt)
	field(ds)
	w.str(string(data))
	return w.b
}

type h5msg struct {
	typ  uint8
	body []byte
}

// ohdr2 is a version 2 object header ("OHDR") with a 2-byte chunk size.
func ohdr2(msgs ...h5msg) []byte {
	body := &h5buf{}
	for _, m := range msgs {
		body.u8(m.typ).u16(uint16(len(m.body))).u8(0).str(string(m.body))
	}
	w := (&h5buf{}).str("OHDR").u8(2, 0x01).u16(uint16(len(body.b)))
	return w.str(string(body.b)).u32(0).b
}

// ohdr1 is a version 1 object header; message bodies are padded to 8.
func ohdr1(msgs ...h5msg) []byte {
	body := &h5buf{}
	for _, m := range msgs {
		n := (len(m.body) + 7) &^ 7
		body.u16(uint16(m.typ)).u16(uint16(n)).u8(0, 0, 0, 0).str(string(m.body))
		body.pad8()
	}
	w := (&h5buf{}).u8(1, 0).u16(uint16(len(msgs))).u32(1).u32(uint32(len(body.b))).u32(0)
	return w.str(string(body.b)).b
}

// layoutFile places blocks one after another: blocks is called once with
// zero addresses to size them, then with the real addresses.
func layoutFile(blocks func(addr []uint64) [][]byte) []byte {
	parts := blocks(make([]uint64, 32))
	addr := make([]uint64, 32)
	var n uint64
	for i, p := range parts {
		addr[i] = n
		n += uint64(len(p)+7) &^ 7
	}
	var out []byte
	for _, p := range blocks(addr) {
		out = append(out, p...)
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
	}
	return out
}

func f32bytes(bigEndian bool, v ...float32) []byte {
	w := &h5buf{}
	for _, x := range v {
		if bigEndian {
			w.b = binary.BigEndian.AppendUint32(w.b, math.Float32bits(x))
		} else {
			w.u32(math.Float32bits(x))
		}
	}
	return w.b
}

// seedLatest is a superblock 2 file in the style of libver="latest": a
// root group with link messages to a Keras-2-like layer group holding a
// contiguous kernel and a compact bias, a big-endian single-chunk dataset
// and a vlen-string attribute in a global heap.
func seedLatest() []byte {
	const (
		sb = iota
		root
		layer
		kernel
		bias
		single
		kdata
		sdata
		gheap
	)
	return layoutFile(func(a []uint64) [][]byte {
		parts := make([][]byte, gheap+1)
		parts[sb] = (&h5buf{}).str(signature).u8(2, 8, 8, 0).u64(0).u64(undef).u64(0).u64(a[root]).u32(0).b
		names := (&h5buf{}).str("dense\x00\x00\x00").b
		parts[root] = ohdr2(
			h5msg{msgLink, linkMsg("dense", a[layer])},
			h5msg{msgLink, linkMsg("s", a[single])},
			h5msg{msgAttribute, attrMsg(3, "layer_names", stringType(8), dataspaceMsg(2, 1), names)},
			h5msg{msgAttribute, attrMsg(3, "backend", vlenStringType(), dataspaceMsg(2),
				(&h5buf{}).u32(10).u64(a[gheap]).u32(1).b)},
		)
		parts[layer] = ohdr2(
			h5msg{msgLink, linkMsg("kernel:0", a[kernel])},
			h5msg{msgLink, linkMsg("bias:0", a[bias])},
			h5msg{msgAttribute, attrMsg(3, "weight_names", stringType(6), dataspaceMsg(2, 2), []byte("kernelbias\x00\x00"))},
			h5msg{msgAttribute, attrMsg(3, "n", int32Type(), dataspaceMsg(2), (&h5buf{}).u32(7).b)},
		)
		parts[kernel] = ohdr2(
			h5msg{msgDataspace, dataspaceMsg(2, 2, 3)},
			h5msg{msgDatatype, float32Type(false)},
			h5msg{msgLayout, contiguousLayout(a[kdata], 24)},
		)
		parts[bias] = ohdr2(
			h5msg{msgDataspace, dataspaceMsg(2, 3)},
			h5msg{msgDatatype, float64Type()},
			h5msg{msgLayout, compactLayout((&h5buf{}).u64(math.Float64bits(0.5)).u64(0).u64(math.Float64bits(-2)).b)},
		)
		parts[single] = ohdr2(
			h5msg{msgDataspace, dataspaceMsg(2, 2)},
			h5msg{msgDatatype, float32Type(true)},
			h5msg{msgLayout, singleChunkLayout(a[sdata], []uint8{2}, 4)},
		)
		parts[kdata] = f32bytes(false, 1, 2, 3, 4, 5, 6)
		parts[sdata] = f32bytes(true, -1, 1)
		parts[gheap] = (&h5buf{}).str("GCOL").u8(1, 0, 0, 0).u64(48).
			u16(1).u16(1).u32(0).u64(10).str("tensorflow").pad8().b
		return parts
	})
}

// seedEarliest is a superblock 0 file in the style of h5py's default
// libver="earliest": an old-style root group (symbol table: local heap,
// v1 B-tree, symbol table node) holding a contiguous int32 dataset with
// a version 1 attribute and a chunked float32 dataset (v1 chunk B-tree).
func seedEarliest() []byte {
	const (
		sb = iota
		root
		heap
		heapData
		btree
		snod
		ints
		chunked
		chunkTree
		idata
		c0
		c1
	)
	return layoutFile(func(a []uint64) [][]byte {
		parts := make([][]byte, c1+1)
		w := (&h5buf{}).str(signature).u8(0, 0, 0, 0, 0, 8, 8, 0).u16(4).u16(16).u32(0)
		w.u64(0).u64(undef).u64(0).u64(undef)
		w.u64(0).u64(a[root]).u32(1).u32(0).u64(a[btree]).u64(a[heap]) // root symbol table entry
		parts[sb] = w.b
		parts[root] = ohdr1(
			h5msg{msgSymbolTable, (&h5buf{}).u64(a[btree]).u64(a[heap]).b},
			h5msg{msgAttribute, attrMsg(1, "layer_names", stringType(4), dataspaceMsg(1, 2), []byte("c\x00\x00\x00ints"))},
		)
		heapNames := (&h5buf{}).u64(0).str("c").pad8().str("ints").pad8().b // "" at 0, "c" at 8, "ints" at 16
		parts[heap] = (&h5buf{}).str("HEAP").u8(0, 0, 0, 0).u64(uint64(len(heapNames))).u64(undef).u64(a[heapData]).b
		parts[heapData] = heapNames
		parts[btree] = (&h5buf{}).str("TREE").u8(0, 0).u16(1).u64(undef).u64(undef).u64(0).u64(a[snod]).u64(16).b
		entry := func(nameOff, hdr uint64) []byte {
			return (&h5buf{}).u64(nameOff).u64(hdr).u32(0).u32(0).u64(0).u64(0).b
		}
		parts[snod] = (&h5buf{}).str("SNOD").u8(1, 0).u16(2).str(string(entry(8, a[chunked]))).str(string(entry(16, a[ints]))).b
		parts[ints] = ohdr1(
			h5msg{msgDataspace, dataspaceMsg(1, 4)},
			h5msg{msgDatatype, int32Type()},
			h5msg{msgLayout, contiguousLayout(a[idata], 16)},
			h5msg{msgAttribute, attrMsg(1, "scale", float64Type(), dataspaceMsg(1, 1), (&h5buf{}).u64(math.Float64bits(0.25)).b)},
		)
		parts[chunked] = ohdr1(
			h5msg{msgDataspace, dataspaceMsg(1, 2, 2)},
			h5msg{msgDatatype, float32Type(false)},
			h5msg{msgLayout, chunkedLayout(a[chunkTree], []uint32{1, 2}, 4)},
		)
		key := func(size uint32, coords ...uint64) *h5buf {
			w := (&h5buf{}).u32(size).u32(0)
			for _, c := range coords {
				w.u64(c)
			}
			return w
		}
		t := (&h5buf{}).str("TREE").u8(1, 0).u16(2).u64(undef).u64(undef)
		t.str(string(key(8, 0, 0, 0).b)).u64(a[c0])
		t.str(string(key(8, 1, 0, 0).b)).u64(a[c1])
		t.str(string(key(0, 2, 0, 0).b))
		parts[chunkTree] = t.b
		parts[idata] = (&h5buf{}).u32(1).u32(0xFFFFFFFF).u32(3).u32(4).b
		parts[c0] = f32bytes(false, 1, 2)
		parts[c1] = f32bytes(false, 3, 4)
		return parts
	})
}

// fuzzSeeds returns the hand-made seeds of FuzzOpen.
func fuzzSeeds() [][]byte { return [][]byte{seedLatest(), seedEarliest()} }

// TestFuzzSeeds checks that the hand-made seeds are valid files with the
// expected contents, so that the fuzzer starts from inputs that reach the
// dataset and attribute readers.
func TestFuzzSeeds(t *testing.T) {
	for i, b := range fuzzSeeds() {
		if len(b) > 1024 {
			t.Errorf("seed %d is %d bytes, want a small seed", i, len(b))
		}
		if err := readAll(b); err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
	}
	f, err := Open(bytes.NewReader(seedLatest()), int64(len(seedLatest())))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]float32{
		"dense/kernel:0": {1, 2, 3, 4, 5, 6},
		"dense/bias:0":   {0.5, 0, -2},
		"s":              {-1, 1},
	} {
		checkFloats(t, f, path, want)
	}
	checkStrings(t, f.Root(), "layer_names", []string{"dense"})
	checkStrings(t, f.Root(), "backend", []string{"tensorflow"})

	f, err = Open(bytes.NewReader(seedEarliest()), int64(len(seedEarliest())))
	if err != nil {
		t.Fatal(err)
	}
	checkFloats(t, f, "ints", []float32{1, -1, 3, 4})
	checkFloats(t, f, "c", []float32{1, 2, 3, 4})
	checkStrings(t, f.Root(), "layer_names", []string{"c", "ints"})
}

func checkFloats(t *testing.T, f *File, path string, want []float32) {
	t.Helper()
	d, err := f.Dataset(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.ReadFloat32()
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("%s = %v, %v; want %v", path, got, err, want)
	}
}

func checkStrings(t *testing.T, g *Group, name string, want []string) {
	t.Helper()
	a, err := g.Attr(name)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Strings()
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("attribute %s = %q, %v; want %q", name, got, err, want)
	}
}
