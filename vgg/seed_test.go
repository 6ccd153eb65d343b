package vgg

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"slices"
	"testing"

	"github.com/capa-ml/capa/graph"
)

// This file builds the fuzz seeds of FuzzReadWeights: weight files of a
// few hundred bytes, written byte by byte, for the tiny VGG-like model of
// fuzzModel. The mini_* files of testdata are 50 to 75 KB, which slows
// the mutator to a few executions a second.

// fuzzModel is a VGG-like model small enough to fuzz: a convolution and
// pooling block, then the top (flatten, fc1), with Keras's layer names.
func fuzzModel(tb testing.TB) *graph.Model {
	m, err := graph.Sequential(graph.Input(4, 4, 1),
		&graph.Conv2D{Base: graph.Base{Name: "block1_conv1"}, Filters: 2, KernelSize: [2]int{3, 3}, Padding: "same", Activation: "relu"},
		&graph.MaxPooling2D{Base: graph.Base{Name: "block1_pool"}},
		&graph.Flatten{Base: graph.Base{Name: "flatten"}},
		&graph.Dense{Base: graph.Base{Name: "fc1"}, Units: 2})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// seedWeights are fuzzModel's weights, Keras's layout: kernel (kh, kw,
// in, out) and bias of block1_conv1, kernel (in, out) and bias of fc1.
func seedWeights() (ck, cb, dk, db []float32) {
	ck = make([]float32, 3*3*1*2)
	for i := range ck {
		ck[i] = float32(i) / 8
	}
	dk = make([]float32, 8*2)
	for i := range dk {
		dk[i] = float32(i) - 7.5
	}
	return ck, []float32{0.5, -0.5}, dk, []float32{1, 2}
}

// HDF5 (superblock 2, version 2 object headers, no checksums: the reader
// does not verify them).

type h5 struct{ b []byte }

func (w *h5) u8(v ...uint8) *h5 { w.b = append(w.b, v...); return w }
func (w *h5) u16(v uint16) *h5  { w.b = binary.LittleEndian.AppendUint16(w.b, v); return w }
func (w *h5) u32(v uint32) *h5  { w.b = binary.LittleEndian.AppendUint32(w.b, v); return w }
func (w *h5) u64(v uint64) *h5  { w.b = binary.LittleEndian.AppendUint64(w.b, v); return w }
func (w *h5) str(s string) *h5  { w.b = append(w.b, s...); return w }

const (
	h5Dataspace = 0x01
	h5LinkInfo  = 0x02
	h5Datatype  = 0x03
	h5Link      = 0x06
	h5Layout    = 0x08
	h5Attribute = 0x0C
)

type h5msg struct {
	typ  uint8
	body []byte
}

func h5dataspace(dims ...int) []byte {
	w := (&h5{}).u8(2, uint8(len(dims)), 0, 1)
	for _, d := range dims {
		w.u64(uint64(d))
	}
	return w.b
}

func h5float32() []byte {
	return (&h5{}).u8(0x11, 0x20, 0x1F, 0).u32(4).u16(0).u16(32).u8(23, 8, 0, 23).u32(127).b
}

func h5float64() []byte {
	return (&h5{}).u8(0x11, 0x20, 0x3F, 0).u32(8).u16(0).u16(64).u8(52, 11, 0, 52).u32(1023).b
}

func h5string(size int) []byte { return (&h5{}).u8(0x13, 0x01, 0, 0).u32(uint32(size)).b }

func h5link(name string, addr uint64) []byte {
	return (&h5{}).u8(1, 0, uint8(len(name))).str(name).u64(addr).b
}

// h5strings is a fixed-length string attribute holding names.
func h5strings(attr string, names ...string) h5msg {
	size := 1
	for _, n := range names {
		size = max(size, len(n))
	}
	var data []byte
	for _, n := range names {
		data = append(data, n...)
		data = append(data, make([]byte, size-len(n))...)
	}
	return h5attr(attr, h5string(size), h5dataspace(len(names)), data)
}

func h5attr(name string, dt, ds, data []byte) h5msg {
	w := (&h5{}).u8(3, 0).u16(uint16(len(name) + 1)).u16(uint16(len(dt))).u16(uint16(len(ds))).u8(0)
	w.str(name).u8(0).str(string(dt)).str(string(ds)).str(string(data))
	return h5msg{h5Attribute, w.b}
}

func h5ohdr(msgs ...h5msg) []byte {
	body := &h5{}
	for _, m := range msgs {
		body.u8(m.typ).u16(uint16(len(m.body))).u8(0).str(string(m.body))
	}
	return (&h5{}).str("OHDR").u8(2, 0x01).u16(uint16(len(body.b))).str(string(body.b)).u32(0).b
}

// h5dataset is a float32 dataset with its values stored in its header.
func h5dataset(shape []int, v []float32) []byte {
	data := &h5{}
	for _, x := range v {
		data.u32(math.Float32bits(x))
	}
	layout := (&h5{}).u8(3, 0).u16(uint16(len(data.b))).str(string(data.b)).b // compact
	return h5ohdr(h5msg{h5Dataspace, h5dataspace(shape...)}, h5msg{h5Datatype, h5float32()}, h5msg{h5Layout, layout})
}

// h5file lays out objects one after another (the first is the root
// group); build is called with zero addresses to size them, then with
// the real ones.
func h5file(build func(a []uint64) [][]byte) []byte {
	const sb = 48
	addr := make([]uint64, 16)
	n := uint64(sb)
	for i, p := range build(make([]uint64, 16)) {
		addr[i] = n
		n += uint64(len(p))
	}
	w := (&h5{}).str("\x89HDF\r\n\x1a\n").u8(2, 8, 8, 0).u64(0).u64(^uint64(0)).u64(n).u64(addr[0]).u32(0)
	for _, p := range build(addr) {
		w.str(string(p))
	}
	return w.b
}

// kerasSeed is fuzzModel's weights as a Keras file: Keras 2 names
// (block1_conv1/block1_conv1/kernel:0) for the convolution, Keras 1 names
// (fc1_W, fc1_b) for fc1, an empty weight_names for the pooling layer.
func kerasSeed() []byte {
	ck, cb, dk, db := seedWeights()
	const (
		root = iota
		conv
		convInner
		convKernel
		convBias
		pool
		fc
		fcKernel
		fcBias
	)
	return h5file(func(a []uint64) [][]byte {
		p := make([][]byte, fcBias+1)
		p[root] = h5ohdr(h5msg{h5Link, h5link("block1_conv1", a[conv])}, h5msg{h5Link, h5link("block1_pool", a[pool])},
			h5msg{h5Link, h5link("fc1", a[fc])}, h5strings("layer_names", "block1_conv1", "block1_pool", "fc1"))
		p[conv] = h5ohdr(h5msg{h5Link, h5link("block1_conv1", a[convInner])},
			h5strings("weight_names", "block1_conv1/kernel:0", "block1_conv1/bias:0"))
		p[convInner] = h5ohdr(h5msg{h5Link, h5link("kernel:0", a[convKernel])}, h5msg{h5Link, h5link("bias:0", a[convBias])})
		p[convKernel] = h5dataset([]int{3, 3, 1, 2}, ck)
		p[convBias] = h5dataset([]int{2}, cb)
		linkInfo := (&h5{}).u8(0, 0).u64(^uint64(0)).u64(^uint64(0)).b // compact, no links: an empty group
		p[pool] = h5ohdr(h5msg{h5LinkInfo, linkInfo}, h5attr("weight_names", h5float64(), h5dataspace(0), nil))
		p[fc] = h5ohdr(h5msg{h5Link, h5link("fc1_W", a[fcKernel])}, h5msg{h5Link, h5link("fc1_b", a[fcBias])},
			h5strings("weight_names", "fc1_W", "fc1_b"))
		p[fcKernel] = h5dataset([]int{8, 2}, dk)
		p[fcBias] = h5dataset([]int{2}, db)
		return p
	})
}

// Pickles (protocol 2), as torch.save writes them.

type pickle struct{ bytes.Buffer }

func (p *pickle) op(ops ...byte) *pickle { p.Write(ops); return p }
func (p *pickle) str(s string) *pickle {
	p.WriteByte('X')
	binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}
func (p *pickle) int(v int) *pickle {
	p.WriteByte('J')
	binary.Write(p, binary.LittleEndian, int32(v))
	return p
}
func (p *pickle) global(module, name string) *pickle {
	p.WriteByte('c')
	p.WriteString(module + "\n" + name + "\n")
	return p
}
func (p *pickle) tuple(vs ...int) *pickle {
	p.op('(')
	for _, v := range vs {
		p.int(v)
	}
	return p.op('t')
}

// torchTensor is one (name, tensor) of a state dict: a float storage
// key of numel values, viewed with the given shape and contiguous strides.
func (p *pickle) torchTensor(name, key string, numel int, shape ...int) *pickle {
	stride := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		stride[i] = s
		s *= shape[i]
	}
	p.str(name).global("torch._utils", "_rebuild_tensor_v2").op('(')
	p.op('(').str("storage").global("torch", "FloatStorage").str(key).str("cpu").int(numel).op('N', 't', 'Q')
	return p.int(0).tuple(shape...).tuple(stride...).op(0x89, 'N', 't', 'R')
}

// torchDict is fuzzModel's weights as torchvision's state dict
// (features.0, classifier.0; (out, in, kh, kw) and (out, in) layouts),
// with storages "0" to "3".
func torchDict() ([]byte, [][]float32) {
	kck, cb, kdk, db := seedWeights()
	// The inverse of convFromTorch and denseFromTorch: the conv kernel to
	// (out, in, kh, kw), the fc1 kernel to (out, in) with its input in
	// (c, h, w) order after the 2x2x2 feature maps.
	ck := make([]float32, len(kck))
	for o := range 2 {
		for y := range 3 {
			for x := range 3 {
				ck[(o*3+y)*3+x] = kck[(y*3+x)*2+o]
			}
		}
	}
	dk := make([]float32, len(kdk))
	for o := range 2 {
		for c := range 2 {
			for y := range 2 {
				for x := range 2 {
					dk[o*8+(c*2+y)*2+x] = kdk[((y*2+x)*2+c)*2+o]
				}
			}
		}
	}
	var m pickle
	m.op(0x80, 2).global("collections", "OrderedDict").op(')', 'R', '(')
	m.torchTensor("features.0.weight", "0", len(ck), 2, 1, 3, 3)
	m.torchTensor("features.0.bias", "1", len(cb), 2)
	m.torchTensor("classifier.0.weight", "2", len(dk), 2, 8)
	m.torchTensor("classifier.0.bias", "3", len(db), 2)
	m.op('u', '.')
	return m.Bytes(), [][]float32{ck, cb, dk, db}
}

func f32le(v []float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// torchZipSeed is torchDict in the zip serialization (PyTorch 1.6+).
func torchZipSeed() []byte {
	pkl, data := torchDict()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, b []byte) {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, CRC32: crc32.ChecksumIEEE(b),
			CompressedSize64: uint64(len(b)), UncompressedSize64: uint64(len(b))})
		if err != nil {
			panic(err)
		}
		w.Write(b)
	}
	add("m/data.pkl", pkl)
	for i, d := range data {
		add("m/data/"+string(rune('0'+i)), f32le(d))
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// torchLegacySeed is torchDict in the legacy serialization (PyTorch 0.4
// to 1.5): magic number, protocol version, system info, the dict, the
// storage keys, then each storage's length and values.
func torchLegacySeed() []byte {
	pkl, data := torchDict()
	var f pickle
	f.op(0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.')
	f.op(0x80, 2).int(1001).op('.')
	f.op(0x80, 2, '}').str("little_endian").op(0x88, 's', '.')
	f.Write(pkl)
	f.op(0x80, 2, ']', '(').str("0").str("1").str("2").str("3").op('e', '.')
	for _, d := range data {
		binary.Write(&f, binary.LittleEndian, int64(len(d)))
		f.Write(f32le(d))
	}
	return f.Bytes()
}

// weightSeeds are the seeds of FuzzReadWeights.
func weightSeeds() [][]byte { return [][]byte{kerasSeed(), torchZipSeed(), torchLegacySeed()} }

// TestWeightSeeds checks that the seeds are small and load into
// fuzzModel the same weights from every layout.
func TestWeightSeeds(t *testing.T) {
	ck, cb, dk, db := seedWeights()
	want := map[string][]float32{"block1_conv1/kernel": ck, "block1_conv1/bias": cb, "fc1/kernel": dk, "fc1/bias": db}
	for i, b := range weightSeeds() {
		if len(b) > 1536 {
			t.Errorf("seed %d is %d bytes, want a small seed", i, len(b))
		}
		m := fuzzModel(t)
		src, err := readWeights(m, bytes.NewReader(b), int64(len(b)), "seed")
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		if (i == 0) != (src == Keras) {
			t.Errorf("seed %d: source %v", i, src)
		}
		for name, w := range want {
			p, err := m.Param(name)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Data(), w) {
				t.Errorf("seed %d: %s = %v, want %v", i, name, p.Data(), w)
			}
		}
	}
}
