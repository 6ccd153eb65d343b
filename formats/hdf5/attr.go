package hdf5

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
)

// Attribute is a named value attached to a group or dataset: an array of
// elements (or a scalar) stored in the object's header or, for objects with
// many attributes, in a fractal heap.
type Attribute struct {
	f     *File
	name  string
	shape []int
	n     int
	dtype DType
	data  []byte // raw elements, n*dtype.Size bytes
	off   int64  // file offset of data
	unsup error  // set for an unsupported datatype
}

// Name returns the attribute's name.
func (a *Attribute) Name() string { return a.name }

// Shape returns the dimensions (nil for a scalar). The slice is a copy.
func (a *Attribute) Shape() []int { return slices.Clone(a.shape) }

// Len returns the number of elements (1 for a scalar).
func (a *Attribute) Len() int { return a.n }

// DType returns the element type as stored in the file.
func (a *Attribute) DType() DType { return a.dtype }

// Strings returns the elements of a fixed-length or variable-length string
// attribute, row-major. Fixed-length strings lose their padding: everything
// from the first NUL byte (null-terminated and null-padded strings) or
// trailing spaces (space-padded). A scalar yields one string; an attribute
// with no elements yields an empty slice whatever its type.
func (a *Attribute) Strings() ([]string, error) {
	if a.unsup != nil {
		return nil, a.unsup
	}
	t := a.dtype
	switch {
	case a.n == 0:
		// Keras stores an empty name list as an empty float64 array.
		return []string{}, nil
	case t.Class == String:
		out := make([]string, a.n)
		for i := range out {
			s := a.data[i*t.Size : (i+1)*t.Size]
			if t.StrPad == 2 {
				s = bytes.TrimRight(s, " ")
			} else if k := bytes.IndexByte(s, 0); k >= 0 {
				s = s[:k]
			}
			out[i] = string(s)
		}
		return out, nil
	case t.Class == VarLen && t.VarString:
		return a.varStrings()
	}
	return nil, fmt.Errorf("hdf5: attribute %q has type %v, not a string: %w", a.name, t, ErrNotFound)
}

// varStrings resolves variable-length strings through the global heap.
func (a *Attribute) varStrings() ([]string, error) {
	f := a.f
	out := make([]string, a.n)
	heaps := map[uint64]map[uint16][]byte{}
	var total uint64
	for i := range out {
		d := f.decoder(a.data[i*a.dtype.Size:(i+1)*a.dtype.Size], a.off+int64(i*a.dtype.Size))
		d.what = "variable-length string"
		n := uint64(d.u32())
		coll := d.addr()
		idx := d.u32()
		if d.err != nil {
			return nil, d.err
		}
		if n == 0 {
			continue
		}
		h, ok := heaps[coll]
		if !ok {
			var err error
			if h, err = f.globalHeap(coll); err != nil {
				return nil, fmt.Errorf("hdf5: attribute %q: %w", a.name, err)
			}
			heaps[coll] = h
		}
		obj, ok := h[uint16(idx)]
		if !ok || idx > 0xFFFF {
			return nil, fmt.Errorf("hdf5: attribute %q: element %d at offset %d refers to missing global heap object %d: %w", a.name, i, d.off, idx, ErrFormat)
		}
		if n > uint64(len(obj)) {
			return nil, fmt.Errorf("hdf5: attribute %q: element %d at offset %d has length %d, its heap object %d bytes: %w", a.name, i, d.off, n, len(obj), ErrFormat)
		}
		if total += n; total > uint64(f.size) {
			return nil, fmt.Errorf("hdf5: attribute %q: strings total more than the %d-byte file: %w", a.name, f.size, ErrFormat)
		}
		out[i] = string(obj[:n])
	}
	return out, nil
}

// globalHeap reads the global heap collection at addr and returns its
// objects by index.
func (f *File) globalHeap(addr uint64) (map[uint16][]byte, error) {
	hdr := int64(8 + f.sizeLengths)
	b, off, err := f.read(addr, hdr, "global heap collection")
	if err != nil {
		return nil, err
	}
	d := f.decoder(b, off)
	d.what = "global heap collection"
	if !d.signature("GCOL") {
		return nil, d.err
	}
	d.skip(4)
	size := d.length()
	if d.err != nil {
		return nil, d.err
	}
	if size < uint64(hdr) || size > uint64(f.size) {
		return nil, fmt.Errorf("hdf5: global heap collection at offset %d has size %d: %w", off, size, ErrFormat)
	}
	body, err := f.readAt(off, int64(size), "global heap collection")
	if err != nil {
		return nil, err
	}
	d = f.decoder(body, off)
	d.what = "global heap collection"
	d.skip(int(hdr))
	objs := map[uint16][]byte{}
	for d.remaining() >= 8+f.sizeLengths {
		idx := d.u16()
		d.skip(6)
		n := d.length()
		if idx == 0 {
			break // free space
		}
		if d.err == nil && n > uint64(d.remaining()) {
			return nil, fmt.Errorf("hdf5: global heap object %d at offset %d has size %d, beyond its collection: %w", idx, d.offset(), n, ErrFormat)
		}
		objs[idx] = d.bytes(int(n))
		d.skip(min(int((8-n%8)%8), d.remaining()))
		if d.err != nil {
			return nil, d.err
		}
	}
	return objs, nil
}

// Float64s returns the elements of a numeric attribute converted to
// float64, row-major.
func (a *Attribute) Float64s() ([]float64, error) {
	if a.unsup != nil {
		return nil, a.unsup
	}
	if !a.dtype.numeric() {
		return nil, fmt.Errorf("hdf5: attribute %q has type %v, not numeric: %w", a.name, a.dtype, ErrNotFound)
	}
	out := make([]float64, a.n)
	decodeF64(out, a.data, a.dtype)
	return out, nil
}

// Int64s returns the elements of an integer attribute, row-major. Unsigned
// 64-bit values above the int64 range wrap.
func (a *Attribute) Int64s() ([]int64, error) {
	if a.unsup != nil {
		return nil, a.unsup
	}
	if a.dtype.Class != Integer {
		return nil, fmt.Errorf("hdf5: attribute %q has type %v, not integer: %w", a.name, a.dtype, ErrNotFound)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if a.dtype.BigEndian {
		bo = binary.BigEndian
	}
	out := make([]int64, a.n)
	s := a.dtype.Size
	for i := range out {
		b := a.data[i*s : (i+1)*s]
		var u uint64
		switch s {
		case 1:
			u = uint64(b[0])
		case 2:
			u = uint64(bo.Uint16(b))
		case 4:
			u = uint64(bo.Uint32(b))
		case 8:
			u = bo.Uint64(b)
		}
		if a.dtype.Signed {
			shift := 64 - 8*uint(s)
			out[i] = int64(u<<shift) >> shift
		} else {
			out[i] = int64(u)
		}
	}
	return out, nil
}

// AttrNames returns the names of the object's attributes, sorted.
func (o *object) AttrNames() ([]string, error) {
	attrs, err := o.attrs()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(attrs))
	for i, a := range attrs {
		names[i] = a.name
	}
	slices.Sort(names)
	return names, nil
}

// Attr returns the attribute called name. Errors wrap ErrNotFound if there
// is none.
func (o *object) Attr(name string) (*Attribute, error) {
	attrs, err := o.attrs()
	if err != nil {
		return nil, err
	}
	for _, a := range attrs {
		if a.name == name {
			return a, nil
		}
	}
	return nil, fmt.Errorf("hdf5: %s has no attribute %q: %w", o.path, name, ErrNotFound)
}

// attrs parses all attributes of the object, compact and dense.
func (o *object) attrs() ([]*Attribute, error) {
	var out []*Attribute
	for _, m := range o.msgs {
		switch m.typ {
		case msgAttribute:
			if m.shared() {
				return nil, fmt.Errorf("hdf5: %s: shared attribute message at offset %d: %w", o.path, m.raw.off, ErrUnsupported)
			}
			a, err := o.f.parseAttribute(m.dec())
			if err != nil {
				return nil, fmt.Errorf("hdf5: %s: %w", o.path, err)
			}
			out = append(out, a)
		case msgAttrInfo:
			d := m.dec()
			d.what = "attribute info message"
			if v := d.u8(); v != 0 && d.err == nil {
				return nil, fmt.Errorf("hdf5: %s: attribute info version %d at offset %d: %w", o.path, v, d.off, ErrUnsupported)
			}
			if d.u8()&1 != 0 {
				d.skip(2)
			}
			heap, bt := d.addr(), d.addr()
			if d.err != nil {
				return nil, d.err
			}
			if heap == undef {
				continue
			}
			err := o.f.denseRecords(o.path+" attributes", heap, bt, 8, func(obj []byte, off int64) error {
				a, err := o.f.parseAttribute(o.f.decoder(obj, off))
				if err != nil {
					return err
				}
				out = append(out, a)
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		if len(out) > maxMessages {
			return nil, fmt.Errorf("hdf5: %s has more than %d attributes: %w", o.path, maxMessages, ErrFormat)
		}
	}
	return out, nil
}

// parseAttribute decodes an attribute message (versions 1 to 3).
func (f *File) parseAttribute(d *decoder) (*Attribute, error) {
	d.what = "attribute message"
	off := d.off
	version, flags := d.u8(), d.u8()
	nameSize, dtSize, dsSize := int(d.u16()), int(d.u16()), int(d.u16())
	pad := func(n int) int { return n }
	switch version {
	case 1:
		pad = func(n int) int { return (n + 7) &^ 7 }
	case 2:
	case 3:
		d.u8() // name encoding
	default:
		if d.err == nil {
			return nil, fmt.Errorf("attribute message version %d at offset %d: %w", version, off, ErrFormat)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if flags&3 != 0 && version > 1 {
		return nil, fmt.Errorf("attribute at offset %d with a shared datatype or dataspace: %w", off, ErrUnsupported)
	}
	nameOff := d.offset()
	name := d.sub(pad(nameSize))
	dt := d.sub(pad(dtSize))
	ds := d.sub(pad(dsSize))
	if d.err != nil {
		return nil, d.err
	}
	nb := name.bytes(nameSize)
	if k := bytes.IndexByte(nb, 0); k >= 0 {
		nb = nb[:k]
	}
	a := &Attribute{f: f, name: string(nb)}
	if name.err != nil || a.name == "" {
		return nil, fmt.Errorf("attribute at offset %d: invalid name of %d bytes at offset %d: %w", off, nameSize, nameOff, ErrFormat)
	}
	var err error
	if a.shape, a.n, err = parseDataspace(ds); err != nil {
		return nil, fmt.Errorf("attribute %q: %w", a.name, err)
	}
	a.dtype, err = parseDatatype(dt)
	if err != nil {
		if !isUnsupported(err) {
			return nil, fmt.Errorf("attribute %q: %w", a.name, err)
		}
		a.unsup = fmt.Errorf("hdf5: attribute %q: %w", a.name, err)
		return a, nil
	}
	if a.n > d.remaining()/a.dtype.Size {
		return nil, fmt.Errorf("attribute %q at offset %d: %v elements of %d bytes exceed the %d bytes of data: %w",
			a.name, off, a.shape, a.dtype.Size, d.remaining(), ErrFormat)
	}
	a.off = d.offset()
	a.data = d.bytes(a.n * a.dtype.Size)
	return a, d.err
}
