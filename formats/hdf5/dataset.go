package hdf5

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Storage layouts of a dataset.
const (
	layoutCompact    = 0
	layoutContiguous = 1
	layoutChunked    = 2
)

// streamBuf is the size of the buffer through which contiguous data is
// read: the only allocation of ReadFloat32To besides small metadata.
const streamBuf = 1 << 20

// Dataset is an HDF5 dataset: a multidimensional array of elements stored
// row-major (the last dimension varies fastest), plus attributes.
type Dataset struct {
	object
	shape []int
	n     int // number of elements
	dtype DType
	// unsup, if not nil, is the error every read returns: an unsupported
	// datatype, layout or filter.
	unsup error

	layout  int
	addr    uint64 // contiguous data or chunk B-tree; undef if unwritten
	compact []byte // compact data
	chunk   []int  // chunk dimensions (without the element size)
	single  bool   // layout 4, single-chunk index: addr is the chunk
}

// Shape returns the dimensions, outermost first; nil for a scalar. The
// slice is a copy.
func (d *Dataset) Shape() []int { return slices.Clone(d.shape) }

// Len returns the number of elements: the product of the shape (1 for a
// scalar, 0 for an empty dataspace).
func (d *Dataset) Len() int { return d.n }

// DType returns the element type as stored in the file.
func (d *Dataset) DType() DType { return d.dtype }

// newDataset parses the dataspace, datatype, layout and filter messages of
// a dataset, and checks that its storage lies within the file.
func (f *File) newDataset(path string, addr uint64, msgs []message) (*Dataset, error) {
	ds := &Dataset{object: object{f: f, path: path, addr: addr, msgs: msgs}, addr: undef}
	var haveSpace, haveType bool
	var layoutMsg *decoder
	for _, m := range msgs {
		if m.shared() && (m.typ == msgDataspace || m.typ == msgDatatype || m.typ == msgLayout) {
			return nil, fmt.Errorf("hdf5: dataset %s: shared message of type 0x%02X at offset %d: %w", path, m.typ, m.raw.off, ErrUnsupported)
		}
		var err error
		switch m.typ {
		case msgDataspace:
			haveSpace = true
			ds.shape, ds.n, err = parseDataspace(m.dec())
		case msgDatatype:
			haveType = true
			ds.dtype, err = parseDatatype(m.dec())
			if err != nil && isUnsupported(err) {
				ds.unsup = fmt.Errorf("hdf5: dataset %s: %w", path, err)
				err = nil
			}
		case msgLayout:
			layoutMsg = m.dec()
		case msgFilters:
			if e := filterError(m.dec()); e != nil && ds.unsup == nil {
				ds.unsup = fmt.Errorf("hdf5: dataset %s: %w", path, e)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("hdf5: dataset %s: %w", path, err)
		}
	}
	if !haveSpace || !haveType || layoutMsg == nil {
		return nil, fmt.Errorf("hdf5: dataset %s lacks a dataspace, datatype or layout message: %w", path, ErrFormat)
	}
	if err := ds.parseLayout(layoutMsg); err != nil {
		if isUnsupported(err) {
			if ds.unsup == nil {
				ds.unsup = fmt.Errorf("hdf5: dataset %s: %w", path, err)
			}
			return ds, nil
		}
		return nil, fmt.Errorf("hdf5: dataset %s: %w", path, err)
	}
	return ds, nil
}

// filterError returns an ErrUnsupported error naming the first filter of a
// filter pipeline message with filters, or nil.
func filterError(d *decoder) error {
	d.what = "filter pipeline message"
	off := d.off
	version, n := d.u8(), d.u8()
	if version == 1 {
		d.skip(6)
	}
	id := d.u16()
	if d.err != nil || n == 0 {
		return nil
	}
	names := map[uint16]string{1: "deflate (gzip)", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit", 6: "scaleoffset", 32000: "lzf", 32001: "blosc", 32004: "lz4", 307: "bzip2", 32015: "zstd"}
	name := names[id]
	if name == "" {
		name = fmt.Sprintf("filter %d", id)
	}
	return fmt.Errorf("compressed datasets not supported: %d filter(s), first %s, in the pipeline at offset %d: %w", n, name, off, ErrUnsupported)
}

func isUnsupported(err error) bool {
	for e := err; e != nil; {
		if e == ErrUnsupported {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// parseLayout decodes a data layout message and checks the storage bounds.
func (ds *Dataset) parseLayout(d *decoder) error {
	d.what = "data layout message"
	f := ds.f
	off := d.off
	version := d.u8()
	var rank int
	switch version {
	case 1, 2:
		rank = int(d.u8())
		ds.layout = int(d.u8())
		d.skip(5)
		if ds.layout != layoutCompact {
			ds.addr = d.addr()
		}
		if d.err == nil && (rank == 0 || rank > maxRank+1) {
			return fmt.Errorf("layout rank %d at offset %d: %w", rank, off+1, ErrFormat)
		}
		dims := make([]int, 0, rank)
		for range rank {
			dims = append(dims, int(d.u32()))
		}
		switch ds.layout {
		case layoutCompact:
			n := d.u32()
			if d.err == nil && uint64(n) > uint64(d.remaining()) {
				return fmt.Errorf("compact data of %d bytes at offset %d exceeds its message: %w", n, d.offset()-4, ErrFormat)
			}
			ds.compact = d.bytes(int(n))
		case layoutChunked:
			ds.chunk = dims[:rank-1]
		}
	case 3, 4:
		ds.layout = int(d.u8())
		switch ds.layout {
		case layoutCompact:
			n := d.u16()
			if d.err == nil && int(n) > d.remaining() {
				return fmt.Errorf("compact data of %d bytes at offset %d exceeds its message: %w", n, d.offset()-2, ErrFormat)
			}
			ds.compact = d.bytes(int(n))
		case layoutContiguous:
			ds.addr = d.addr()
			d.length()
		case layoutChunked:
			if version == 3 {
				rank = int(d.u8())
				ds.addr = d.addr()
				if d.err == nil && (rank < 2 || rank > maxRank+1) {
					return fmt.Errorf("chunk rank %d at offset %d: %w", rank, off+2, ErrFormat)
				}
				for range rank - 1 {
					ds.chunk = append(ds.chunk, int(d.u32()))
				}
				d.u32() // element size
				break
			}
			flags := d.u8()
			rank = int(d.u8())
			enc := int(d.u8())
			if d.err == nil && (rank < 2 || rank > maxRank+1 || enc < 1 || enc > 8) {
				return fmt.Errorf("chunk rank %d, dimension size %d bytes at offset %d: %w", rank, enc, off+3, ErrFormat)
			}
			for range rank - 1 {
				v := d.uint(enc)
				if v > maxInt {
					return fmt.Errorf("chunk dimension %d at offset %d: %w", v, d.offset()-int64(enc), ErrFormat)
				}
				ds.chunk = append(ds.chunk, int(v))
			}
			d.uint(enc) // element size
			idx := d.u8()
			if d.err != nil {
				return d.err
			}
			if idx != 1 {
				names := map[uint8]string{2: "implicit", 3: "fixed array", 4: "extensible array", 5: "v2 B-tree"}
				name := names[idx]
				if name == "" {
					name = fmt.Sprintf("type %d", idx)
				}
				return fmt.Errorf("chunk index %s at offset %d (only the v1 B-tree and single-chunk indexes are supported): %w", name, d.offset()-1, ErrUnsupported)
			}
			if flags&0x02 != 0 {
				return fmt.Errorf("filtered single chunk at offset %d: compressed datasets not supported: %w", off, ErrUnsupported)
			}
			ds.single = true
			ds.addr = d.addr()
		case 3:
			return fmt.Errorf("virtual dataset layout at offset %d: %w", off, ErrUnsupported)
		default:
			if d.err == nil {
				return fmt.Errorf("layout class %d at offset %d: %w", ds.layout, off+1, ErrFormat)
			}
		}
	default:
		if d.err == nil {
			return fmt.Errorf("data layout version %d at offset %d: %w", version, off, ErrFormat)
		}
	}
	if d.err != nil {
		return d.err
	}
	if ds.layout > layoutChunked {
		return fmt.Errorf("layout class %d at offset %d: %w", ds.layout, off, ErrFormat)
	}
	if ds.unsup != nil {
		return nil // sizes below may not make sense for an unknown type
	}
	elem := uint64(ds.dtype.Size)
	hi, total := bits64Mul(uint64(ds.n), elem)
	if hi != 0 || total > uint64(f.size) {
		// Data that does not fit in the file can only be sparse (missing
		// chunks, unwritten storage); refusing it bounds every allocation.
		return fmt.Errorf("%v elements of %d bytes need %d bytes, more than the %d-byte file (sparse or unwritten storage; layout at offset %d): %w",
			ds.shape, elem, total, f.size, off, ErrUnsupported)
	}
	switch ds.layout {
	case layoutCompact:
		if uint64(len(ds.compact)) != total {
			return fmt.Errorf("compact data at offset %d is %d bytes, want %d for %v elements of %d bytes: %w", off, len(ds.compact), total, ds.shape, elem, ErrFormat)
		}
	case layoutContiguous:
		if ds.addr != undef {
			if _, err := f.pos(ds.addr, int64(total), "dataset "+ds.path+" data"); err != nil {
				return err
			}
		}
	case layoutChunked:
		if len(ds.chunk) != len(ds.shape) {
			return fmt.Errorf("chunk rank %d at offset %d, dataspace rank %d: %w", len(ds.chunk), off, len(ds.shape), ErrFormat)
		}
		cn := uint64(1)
		for _, c := range ds.chunk {
			if c == 0 {
				return fmt.Errorf("chunk dimensions %v at offset %d contain 0: %w", ds.chunk, off, ErrFormat)
			}
			var hi uint64
			hi, cn = bits64Mul(cn, uint64(c))
			if hi != 0 || cn > uint64(f.size) {
				return fmt.Errorf("chunk dimensions %v at offset %d exceed the file size: %w", ds.chunk, off, ErrFormat)
			}
		}
		if hi, cb := bits64Mul(cn, elem); hi != 0 || cb > uint64(f.size) && ds.addr != undef {
			return fmt.Errorf("chunk of %v elements of %d bytes at offset %d exceeds the %d-byte file: %w", ds.chunk, elem, off, f.size, ErrFormat)
		}
	}
	return nil
}

func bits64Mul(a, b uint64) (uint64, uint64) {
	if a == 0 || b == 0 {
		return 0, 0
	}
	p := a * b
	if p/b != a {
		return 1, p
	}
	return 0, p
}

// ReadFloat32 reads all elements, converted to float32 (float64 values are
// rounded; integers converted), row-major. It allocates the result and a
// buffer of at most 1 MiB.
func (d *Dataset) ReadFloat32() ([]float32, error) {
	if d.unsup != nil {
		return nil, d.unsup
	}
	if !d.dtype.numeric() {
		return nil, fmt.Errorf("hdf5: dataset %s has type %v, not numeric: %w", d.path, d.dtype, ErrUnsupported)
	}
	dst := make([]float32, d.n)
	if err := d.ReadFloat32To(dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// ReadFloat32To reads all elements into dst, which must have length Len(),
// converted as by ReadFloat32. Contiguous data is streamed from the file
// into dst through a buffer of at most 1 MiB.
func (d *Dataset) ReadFloat32To(dst []float32) error {
	return readInto(d, dst, decodeF32)
}

// ReadFloat64 reads all elements, converted to float64, row-major.
func (d *Dataset) ReadFloat64() ([]float64, error) {
	if d.unsup != nil {
		return nil, d.unsup
	}
	if !d.dtype.numeric() {
		return nil, fmt.Errorf("hdf5: dataset %s has type %v, not numeric: %w", d.path, d.dtype, ErrUnsupported)
	}
	dst := make([]float64, d.n)
	if err := readInto(d, dst, decodeF64); err != nil {
		return nil, err
	}
	return dst, nil
}

// readInto streams the dataset's elements into dst with decode.
func readInto[T float32 | float64](d *Dataset, dst []T, decode func([]T, []byte, DType)) error {
	if d.unsup != nil {
		return d.unsup
	}
	if !d.dtype.numeric() {
		return fmt.Errorf("hdf5: dataset %s has type %v, not numeric: %w", d.path, d.dtype, ErrUnsupported)
	}
	if len(dst) != d.n {
		return fmt.Errorf("hdf5: dataset %s has %d elements %v, destination has %d", d.path, d.n, d.shape, len(dst))
	}
	return d.stream(func(start int, raw []byte) {
		decode(dst[start:start+len(raw)/d.dtype.Size], raw, d.dtype)
	})
}

// stream calls fn with runs of raw elements and the index of the first;
// elements never passed to fn (unwritten storage) are set to zero by the
// caller's allocation (ReadFloat32To zeroes them explicitly).
func (d *Dataset) stream(fn func(start int, raw []byte)) error {
	elem := d.dtype.Size
	total := int64(d.n) * int64(elem)
	switch {
	case d.layout == layoutCompact:
		fn(0, d.compact)
		return nil
	case d.addr == undef || d.n == 0:
		zero := make([]byte, min(total, streamBuf))
		for i := int64(0); i < total; i += int64(len(zero)) {
			k := min(int64(len(zero)), total-i)
			fn(int(i)/elem, zero[:k])
		}
		return nil
	case d.layout == layoutContiguous || d.single:
		off, err := d.f.pos(d.addr, total, "dataset "+d.path+" data")
		if err != nil {
			return err
		}
		if d.single {
			return d.chunkRuns(nil, off, fn)
		}
		buf := make([]byte, min(total, streamBuf)/int64(elem)*int64(elem))
		for i := int64(0); i < total; {
			k := min(int64(len(buf)), total-i)
			if n, err := d.f.r.ReadAt(buf[:k], off+i); int64(n) < k {
				return d.f.ioErr(err, "dataset "+d.path+" data", off+i, k)
			}
			fn(int(i/int64(elem)), buf[:k])
			i += k
		}
		return nil
	}
	return d.readChunked(fn)
}

// readChunked walks the v1 B-tree of chunk addresses and passes each
// chunk's rows to fn. Regions without a chunk are zero-filled.
func (d *Dataset) readChunked(fn func(int, []byte)) error {
	f := d.f
	rank := len(d.shape)
	elem := d.dtype.Size
	chunkBytes := int64(elem)
	for _, c := range d.chunk {
		chunkBytes *= int64(c)
	}
	// Zero-fill first: chunks may be missing.
	zero := make([]byte, min(int64(d.n)*int64(elem), streamBuf)/int64(elem)*int64(elem))
	for i := 0; i < d.n; i += len(zero) / elem {
		k := min(len(zero)/elem, d.n-i)
		fn(i, zero[:k*elem])
	}
	keySize := int64(8 + 8*(rank+1))
	seen := map[uint64]bool{}
	// Each chunk of the grid is read at most once, which bounds the work
	// of a corrupt tree that lists one chunk many times.
	done := map[string]bool{}
	var walk func(addr uint64, depth int) error
	walk = func(addr uint64, depth int) error {
		if depth > maxDepth || seen[addr] {
			return fmt.Errorf("hdf5: dataset %s: chunk B-tree node at address %d is revisited or deeper than %d levels: %w", d.path, addr, maxDepth, ErrFormat)
		}
		seen[addr] = true
		hdr := int64(8 + 2*f.sizeOffsets)
		b, off, err := f.read(addr, hdr, "dataset "+d.path+" chunk B-tree node")
		if err != nil {
			return err
		}
		dec := f.decoder(b, off)
		dec.what = "chunk B-tree node"
		if !dec.signature("TREE") {
			return dec.err
		}
		typ, level, n := dec.u8(), dec.u8(), dec.u16()
		if typ != 1 {
			return fmt.Errorf("hdf5: dataset %s: B-tree node at offset %d has type %d, want 1 (chunks): %w", d.path, off, typ, ErrFormat)
		}
		body, err := f.readAt(off+hdr, int64(n)*(keySize+int64(f.sizeOffsets))+keySize, "dataset "+d.path+" chunk B-tree node")
		if err != nil {
			return err
		}
		dec = f.decoder(body, off+hdr)
		dec.what = "chunk B-tree node"
		for range n {
			koff := dec.offset()
			size, mask := dec.u32(), dec.u32()
			coords := make([]int, rank)
			for i := range rank + 1 {
				v := dec.uint(8)
				if i < rank {
					if v > maxInt {
						v = maxInt
					}
					coords[i] = int(v)
				}
			}
			child := dec.addr()
			if dec.err != nil {
				return dec.err
			}
			if level > 0 {
				if err := walk(child, depth+1); err != nil {
					return err
				}
				continue
			}
			if mask != 0 {
				return fmt.Errorf("hdf5: dataset %s: chunk at offset %d has filter mask 0x%X: compressed datasets not supported: %w", d.path, koff, mask, ErrUnsupported)
			}
			if int64(size) != chunkBytes {
				return fmt.Errorf("hdf5: dataset %s: chunk key at offset %d declares %d bytes, want %d: %w", d.path, koff, size, chunkBytes, ErrFormat)
			}
			key := fmt.Sprint(coords)
			if done[key] {
				return fmt.Errorf("hdf5: dataset %s: chunk at %v listed twice (key at offset %d): %w", d.path, coords, koff, ErrFormat)
			}
			done[key] = true
			coff, err := f.pos(child, chunkBytes, "dataset "+d.path+" chunk")
			if err != nil {
				return err
			}
			if err := d.chunkRuns(coords, coff, fn); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(d.addr, 0)
}

// chunkRuns reads the chunk at file offset off whose first element has
// coordinates origin (nil: the whole dataset is one chunk at the origin)
// and passes its rows, clipped to the dataset, to fn.
func (d *Dataset) chunkRuns(origin []int, off int64, fn func(int, []byte)) error {
	rank := len(d.shape)
	elem := d.dtype.Size
	chunk := d.chunk
	if origin == nil {
		origin = make([]int, rank)
	}
	for i := range rank {
		if origin[i] >= d.shape[i] || origin[i]%chunk[i] != 0 {
			return fmt.Errorf("hdf5: dataset %s: chunk at offset %d has origin %v, outside shape %v or off the %v grid: %w", d.path, off, origin, d.shape, chunk, ErrFormat)
		}
	}
	n := int64(elem)
	for _, c := range chunk {
		n *= int64(c)
	}
	buf, err := d.f.readAt(off, n, "dataset "+d.path+" chunk")
	if err != nil {
		return err
	}
	if rank == 0 {
		fn(0, buf)
		return nil
	}
	// Iterate over the rows (last dimension) of the chunk inside the shape.
	idx := make([]int, rank-1)
	last := rank - 1
	rowLen := min(chunk[last], d.shape[last]-origin[last])
	for {
		src, dst := 0, 0
		for i := range last {
			src = src*chunk[i] + idx[i]
			dst = dst*d.shape[i] + origin[i] + idx[i]
		}
		src *= chunk[last]
		dst = dst*d.shape[last] + origin[last]
		fn(dst, buf[src*elem:(src+rowLen)*elem])
		i := last - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < chunk[i] && origin[i]+idx[i] < d.shape[i] {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return nil
		}
	}
}

// decodeF32 converts the raw elements src of type t into dst.
func decodeF32(dst []float32, src []byte, t DType) {
	var bo binary.ByteOrder = binary.LittleEndian
	if t.BigEndian {
		bo = binary.BigEndian
	}
	switch {
	case t.Class == Float && t.Size == 4:
		if !t.BigEndian {
			for i := range dst {
				dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
			}
			return
		}
		for i := range dst {
			dst[i] = math.Float32frombits(bo.Uint32(src[4*i:]))
		}
	case t.Class == Float && t.Size == 8:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(bo.Uint64(src[8*i:])))
		}
	default:
		for i := range dst {
			dst[i] = float32(intValue(src[i*t.Size:(i+1)*t.Size], t, bo))
		}
	}
}

// decodeF64 converts the raw elements src of type t into dst.
func decodeF64(dst []float64, src []byte, t DType) {
	var bo binary.ByteOrder = binary.LittleEndian
	if t.BigEndian {
		bo = binary.BigEndian
	}
	switch {
	case t.Class == Float && t.Size == 4:
		for i := range dst {
			dst[i] = float64(math.Float32frombits(bo.Uint32(src[4*i:])))
		}
	case t.Class == Float && t.Size == 8:
		for i := range dst {
			dst[i] = math.Float64frombits(bo.Uint64(src[8*i:]))
		}
	default:
		for i := range dst {
			dst[i] = float64(intValue(src[i*t.Size:(i+1)*t.Size], t, bo))
		}
	}
}

// intValue decodes one fixed-point element as float64.
func intValue(b []byte, t DType, bo binary.ByteOrder) float64 {
	var u uint64
	switch t.Size {
	case 1:
		u = uint64(b[0])
	case 2:
		u = uint64(bo.Uint16(b))
	case 4:
		u = uint64(bo.Uint32(b))
	case 8:
		u = bo.Uint64(b)
	}
	if t.Signed {
		shift := 64 - 8*uint(t.Size)
		return float64(int64(u<<shift) >> shift)
	}
	return float64(u)
}
