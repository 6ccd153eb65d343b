package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"
)

// npySeed is a version 1.0 file of the given shape and values.
func npySeed(shape []int, data ...float32) []byte {
	var b bytes.Buffer
	if err := Write(&b, shape, data); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// rawSeed is a file of the given format version with header h (not
// padded) and values data.
func rawSeed(version byte, h string, data ...float32) []byte {
	b := []byte(magic)
	if version == 1 {
		b = append(b, 1, 0, byte(len(h)), byte(len(h)>>8))
	} else {
		b = append(b, version, 0, byte(len(h)), byte(len(h)>>8), 0, 0)
	}
	b = append(b, h...)
	for _, v := range data {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// fuzzSeeds are small files (under 200 bytes): versions 1.0, 2.0 and 3.0,
// a scalar, an empty array, a header with other keys and spacing.
func fuzzSeeds() [][]byte {
	return [][]byte{
		npySeed([]int{3}, 1, -2, 0.5),
		npySeed([]int{1, 2, 1, 2}, 1, 2, 3, 4),
		npySeed(nil, 7),
		npySeed([]int{0, 4}),
		rawSeed(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }\n", 1, 2, 3, 4),
		rawSeed(3, "{'descr':'=f4','fortran_order':False,'shape':(1,)}", 9),
		rawSeed(1, "{'fortran_order':False,'shape':( 3 , ),'descr':'<f4'}\n", 1, 2, 3),
	}
}

// FuzzRead feeds arbitrary bytes to Read, with the size known and unknown.
// No input may panic or allocate more than its size allows; every error
// wraps ErrFormat; an accepted array has as many values as its shape
// says and survives a Write/Read round trip. Run it with
//
//	go test -run='^$' -fuzz='^FuzzRead$' -fuzztime=5m -parallel=1 ./formats/npy
func FuzzRead(f *testing.F) {
	for _, b := range fuzzSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		shape, data, err := Read(bytes.NewReader(b), int64(len(b)))
		shape2, data2, err2 := Read(bytes.NewReader(b), -1)
		if (err == nil) != (err2 == nil) && err == nil {
			t.Fatalf("accepted with its size, refused without: %v", err2)
		}
		if err2 != nil && !errors.Is(err2, ErrFormat) {
			t.Fatalf("error (size unknown) does not wrap ErrFormat: %v", err2)
		}
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error does not wrap ErrFormat: %v", err)
			}
			return
		}
		if !slices.Equal(shape, shape2) || len(data) != len(data2) {
			t.Fatalf("shape %v (%d values) with size, %v (%d) without", shape, len(data), shape2, len(data2))
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		if n != len(data) {
			t.Fatalf("shape %v with %d values", shape, len(data))
		}
		var w bytes.Buffer
		if err := Write(&w, shape, data); err != nil {
			t.Fatalf("rewriting an accepted array: %v", err)
		}
		s3, d3, err := Read(bytes.NewReader(w.Bytes()), int64(w.Len()))
		if err != nil || !slices.Equal(s3, shape) || len(d3) != len(data) {
			t.Fatalf("round trip: %v %d values, %v", s3, len(d3), err)
		}
		for i := range d3 {
			if d3[i] != data[i] && !(d3[i] != d3[i] && data[i] != data[i]) {
				t.Fatalf("round trip: value %d is %v, was %v", i, d3[i], data[i])
			}
		}
	})
}

// TestFuzzSeeds checks that the seeds are small and read as intended.
func TestFuzzSeeds(t *testing.T) {
	for i, b := range fuzzSeeds() {
		if len(b) > 256 {
			t.Errorf("seed %d is %d bytes, want a small seed", i, len(b))
		}
		_, _, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Errorf("seed %d: %v", i, err)
			continue
		}
	}
	if s, d, err := Read(bytes.NewReader(fuzzSeeds()[4]), -1); err != nil || !slices.Equal(s, []int{2, 2}) || !slices.Equal(d, []float32{1, 2, 3, 4}) {
		t.Errorf("version 2.0 seed: %v %v %v", s, d, err)
	}
}
