package hdf5

import (
	"fmt"
	"math/bits"
)

// fractalHeap is the parsed header of a fractal heap, which stores the
// links of a dense new-style group and the attributes of an object with
// dense attribute storage.
type fractalHeap struct {
	f          *File
	what       string
	idLen      int
	width      uint64 // table width (blocks per row)
	start      uint64 // starting block size
	maxDirect  uint64 // maximum direct block size
	offBytes   int    // bytes of a heap offset: ceil(max heap size bits / 8)
	lenBytes   int    // bytes of an object length in a managed heap ID
	rootAddr   uint64
	rootRows   uint64 // 0: the root is a direct block
	checksumDB bool   // direct blocks end their header with a checksum
	hugeBTree  uint64 // v2 B-tree of huge objects
	maxDirRows uint64 // rows of direct blocks in an indirect block
}

// openFractalHeap parses the fractal heap header ("FRHP") at addr.
func (f *File) openFractalHeap(addr uint64, what string) (*fractalHeap, error) {
	O, L := f.sizeOffsets, f.sizeLengths
	n := int64(4+1+2+2+1+4+L+O+L+O+8*L+2+L+L+2+2+O+2) + 4
	b, off, err := f.read(addr, n, what+" fractal heap")
	if err != nil {
		return nil, err
	}
	d := f.decoder(b, off)
	d.what = what + " fractal heap header"
	if !d.signature("FRHP") {
		return nil, d.err
	}
	h := &fractalHeap{f: f, what: what}
	if v := d.u8(); v != 0 && d.err == nil {
		return nil, fmt.Errorf("hdf5: %s: fractal heap version %d at offset %d: %w", what, v, off+4, ErrUnsupported)
	}
	h.idLen = int(d.u16())
	filterLen := d.u16()
	flags := d.u8()
	maxObj := d.u32()
	d.length() // next huge ID
	h.hugeBTree = d.addr()
	d.length() // free space
	d.addr()   // free space manager
	for range 8 {
		d.length() // managed space, allocated, iterator, counts
	}
	h.width = uint64(d.u16())
	h.start = d.length()
	h.maxDirect = d.length()
	maxHeapBits := int(d.u16())
	d.u16() // starting rows
	h.rootAddr = d.addr()
	h.rootRows = uint64(d.u16())
	if d.err != nil {
		return nil, d.err
	}
	if filterLen != 0 {
		return nil, fmt.Errorf("hdf5: %s: fractal heap at offset %d has I/O filters: %w", what, off, ErrUnsupported)
	}
	h.checksumDB = flags&0x02 != 0
	if h.width == 0 || h.width > 1<<16 || !isPow2(h.width) || h.start == 0 || !isPow2(h.start) ||
		h.maxDirect < h.start || !isPow2(h.maxDirect) || maxHeapBits == 0 || maxHeapBits > 64 {
		return nil, fmt.Errorf("hdf5: %s: fractal heap at offset %d: table width %d, block sizes %d..%d, heap bits %d: %w",
			what, off, h.width, h.start, h.maxDirect, maxHeapBits, ErrFormat)
	}
	h.offBytes = (maxHeapBits + 7) / 8
	h.lenBytes = min((bits.Len64(h.maxDirect-1)+7)/8, bits.Len64(uint64(maxObj))/8+1)
	h.maxDirRows = uint64(bits.TrailingZeros64(h.maxDirect)-bits.TrailingZeros64(h.start)) + 2
	return h, nil
}

func isPow2(x uint64) bool { return x != 0 && x&(x-1) == 0 }

// rowSize returns the block size of row r of an indirect block.
func (h *fractalHeap) rowSize(r uint64) uint64 {
	if r <= 1 {
		return h.start
	}
	if r-1 >= 64 {
		return 0
	}
	return h.start << (r - 1)
}

// object returns the bytes of the object with the given heap ID.
func (h *fractalHeap) object(id []byte, idOff int64) ([]byte, int64, error) {
	if len(id) == 0 {
		return nil, 0, fmt.Errorf("hdf5: %s: empty heap ID at offset %d: %w", h.what, idOff, ErrFormat)
	}
	switch typ := id[0] >> 4 & 3; {
	case id[0]>>6 != 0:
		return nil, 0, fmt.Errorf("hdf5: %s: heap ID version %d at offset %d: %w", h.what, id[0]>>6, idOff, ErrFormat)
	case typ == 2: // tiny: the object is in the ID
		n := int(id[0]&0x0F) + 1
		if n > len(id)-1 {
			return nil, 0, fmt.Errorf("hdf5: %s: tiny object of %d bytes in a %d-byte heap ID at offset %d: %w", h.what, n, len(id), idOff, ErrFormat)
		}
		return id[1 : 1+n], idOff + 1, nil
	case typ == 1:
		return h.huge(id, idOff)
	case typ != 0:
		return nil, 0, fmt.Errorf("hdf5: %s: heap ID type %d at offset %d: %w", h.what, typ, idOff, ErrFormat)
	}
	d := h.f.decoder(id, idOff)
	d.what = h.what + " heap ID"
	d.skip(1)
	off := d.uint(h.offBytes)
	n := d.uint(h.lenBytes)
	if d.err != nil {
		return nil, 0, d.err
	}
	// Find the direct block holding heap offset off.
	addr, rows, blockStart, size := h.rootAddr, h.rootRows, uint64(0), h.start
	for depth := 0; rows > 0; depth++ {
		if depth > maxDepth {
			return nil, 0, fmt.Errorf("hdf5: %s: fractal heap deeper than %d levels: %w", h.what, maxDepth, ErrFormat)
		}
		rel := off - blockStart
		child, cstart, crows, csize, err := h.indirectChild(addr, rows, blockStart, rel)
		if err != nil {
			return nil, 0, err
		}
		addr, rows, blockStart, size = child, crows, cstart, csize
	}
	hdr := int64(4 + 1 + h.f.sizeOffsets + h.offBytes)
	if h.checksumDB {
		hdr += 4
	}
	rel := off - blockStart
	if rel < uint64(hdr) || n > size || rel > size-n {
		return nil, 0, fmt.Errorf("hdf5: %s: object of %d bytes at heap offset %d lies outside its direct block (start %d, at most %d bytes): %w",
			h.what, n, off, blockStart, size, ErrFormat)
	}
	b, boff, err := h.f.read(addr, hdr, h.what+" fractal heap direct block")
	if err != nil {
		return nil, 0, err
	}
	if string(b[:4]) != "FHDB" {
		return nil, 0, fmt.Errorf("hdf5: %s: direct block signature %q at offset %d, want \"FHDB\": %w", h.what, b[:4], boff, ErrFormat)
	}
	obj, err := h.f.readAt(boff+int64(rel), int64(n), h.what+" fractal heap object")
	return obj, boff + int64(rel), err
}

// indirectChild reads the indirect block at addr (with rows rows, covering
// heap offsets from blockStart) and returns the child block holding the
// relative offset rel: its address, start offset, rows (0 for a direct
// block) and size.
func (h *fractalHeap) indirectChild(addr, rows, blockStart, rel uint64) (uint64, uint64, uint64, uint64, error) {
	O := uint64(h.f.sizeOffsets)
	hdr := uint64(4+1) + O + uint64(h.offBytes)
	if rows > 64 || h.width*rows > 1<<20 {
		return 0, 0, 0, 0, fmt.Errorf("hdf5: %s: fractal heap indirect block with %d rows: %w", h.what, rows, ErrFormat)
	}
	var pos, r, col uint64
	found := false
	for r = 0; r < rows; r++ {
		bs := h.rowSize(r)
		if bs == 0 {
			break
		}
		span := bs * h.width
		if rel < pos+span {
			col = (rel - pos) / bs
			found = true
			break
		}
		pos += span
	}
	if !found {
		return 0, 0, 0, 0, fmt.Errorf("hdf5: %s: heap offset %d is beyond the fractal heap's %d rows: %w", h.what, blockStart+rel, rows, ErrFormat)
	}
	entry := r*h.width + col
	b, boff, err := h.f.read(addr, int64(hdr+(entry+1)*O), h.what+" fractal heap indirect block")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if string(b[:4]) != "FHIB" {
		return 0, 0, 0, 0, fmt.Errorf("hdf5: %s: indirect block signature %q at offset %d, want \"FHIB\": %w", h.what, b[:4], boff, ErrFormat)
	}
	d := h.f.decoder(b, boff)
	d.skip(int(hdr + entry*O))
	child := d.addr()
	if d.err != nil {
		return 0, 0, 0, 0, d.err
	}
	if child == undef {
		return 0, 0, 0, 0, fmt.Errorf("hdf5: %s: heap offset %d falls in an unallocated fractal heap block: %w", h.what, blockStart+rel, ErrFormat)
	}
	cstart := blockStart + pos + col*h.rowSize(r)
	if r < h.maxDirRows {
		return child, cstart, 0, h.rowSize(r), nil
	}
	// An indirect child of size bs has log2(bs) - log2(start*width) + 1 rows.
	crows := uint64(bits.TrailingZeros64(h.rowSize(r))) - uint64(bits.TrailingZeros64(h.start*h.width)) + 1
	if crows >= rows {
		return 0, 0, 0, 0, fmt.Errorf("hdf5: %s: fractal heap indirect block at offset %d does not shrink: %w", h.what, boff, ErrFormat)
	}
	return child, cstart, crows, h.rowSize(r), nil
}

// denseRecords iterates the records of the v2 B-tree at btAddr, which must
// have record type typ (5: link names, 8: attribute names), and calls fn
// with each heap object the records point to in the fractal heap at
// heapAddr.
func (f *File) denseRecords(what string, heapAddr, btAddr uint64, typ int, fn func([]byte, int64) error) error {
	h, err := f.openFractalHeap(heapAddr, what)
	if err != nil {
		return err
	}
	idOff := 4 // link name record: hash, then heap ID
	if typ == 8 {
		idOff = 0 // attribute record: heap ID, flags, order, hash
	}
	return f.walkBTree2(what, btAddr, typ, idOff+h.idLen, func(rec []byte, off int64) error {
		obj, ooff, err := h.object(rec[idOff:idOff+h.idLen], off+int64(idOff))
		if err != nil {
			return err
		}
		return fn(obj, ooff)
	})
}

// walkBTree2 calls fn with every record, in order, of the v2 B-tree at
// addr, which must have record type typ and records of at least minRec
// bytes.
func (f *File) walkBTree2(what string, addr uint64, typ, minRec int, fn func([]byte, int64) error) error {
	O, L := f.sizeOffsets, f.sizeLengths
	b, off, err := f.read(addr, int64(4+1+1+4+2+2+1+1+O+2+L+4), what+" v2 B-tree header")
	if err != nil {
		return err
	}
	d := f.decoder(b, off)
	d.what = what + " v2 B-tree header"
	if !d.signature("BTHD") {
		return d.err
	}
	d.u8() // version
	if t := int(d.u8()); t != typ && d.err == nil {
		return fmt.Errorf("hdf5: %s: v2 B-tree at offset %d has type %d, want %d: %w", what, off, t, typ, ErrFormat)
	}
	nodeSize := uint64(d.u32())
	recSize := uint64(d.u16())
	depth := int(d.u16())
	d.skip(2)
	root := d.addr()
	rootN := uint64(d.u16())
	total := d.length()
	if d.err != nil {
		return d.err
	}
	if recSize < uint64(minRec) || recSize > nodeSize || nodeSize > uint64(f.size) || nodeSize < 10 || depth > maxDepth || total > uint64(f.size) {
		return fmt.Errorf("hdf5: %s: v2 B-tree at offset %d: node size %d, record size %d, depth %d, %d records: %w",
			what, off, nodeSize, recSize, depth, total, ErrFormat)
	}
	if root == undef || total == 0 {
		return nil
	}
	// Per-depth maximum record counts and the byte widths of the counts
	// stored in internal nodes (as HDF5's H5B2__hdr_init computes them).
	maxRec := make([]uint64, depth+1)
	cumMax := make([]uint64, depth+1)
	cumSize := make([]int, depth+1)
	maxRec[0] = (nodeSize - 10) / recSize
	cumMax[0] = maxRec[0]
	encSize := func(n uint64) int { return (bits.Len64(n)-1)/8 + 1 }
	if maxRec[0] == 0 {
		return fmt.Errorf("hdf5: %s: v2 B-tree at offset %d: node size %d holds no %d-byte record: %w", what, off, nodeSize, recSize, ErrFormat)
	}
	maxNrecSize := encSize(maxRec[0])
	for u := 1; u <= depth; u++ {
		ptr := uint64(O + maxNrecSize)
		if u > 1 {
			ptr += uint64(cumSize[u-1])
		}
		if nodeSize < 10+ptr {
			return fmt.Errorf("hdf5: %s: v2 B-tree at offset %d: node size %d too small for depth %d: %w", what, off, nodeSize, depth, ErrFormat)
		}
		maxRec[u] = (nodeSize - 10 - ptr) / (recSize + ptr)
		hi, lo := bits.Mul64(maxRec[u]+1, cumMax[u-1])
		cumMax[u] = lo + maxRec[u]
		if hi != 0 || cumMax[u] < lo {
			cumMax[u] = ^uint64(0)
		}
		cumSize[u] = encSize(cumMax[u])
	}
	seen := map[uint64]bool{}
	count := uint64(0)
	var walk func(addr, n uint64, level int) error
	walk = func(addr, n uint64, level int) error {
		if seen[addr] {
			return fmt.Errorf("hdf5: %s: v2 B-tree node at address %d revisited: %w", what, addr, ErrFormat)
		}
		seen[addr] = true
		if n > maxRec[level] {
			return fmt.Errorf("hdf5: %s: v2 B-tree node at address %d declares %d records, at most %d fit: %w", what, addr, n, maxRec[level], ErrFormat)
		}
		b, off, err := f.read(addr, int64(nodeSize), what+" v2 B-tree node")
		if err != nil {
			return err
		}
		d := f.decoder(b, off)
		d.what = what + " v2 B-tree node"
		sig := "BTLF"
		if level > 0 {
			sig = "BTIN"
		}
		if !d.signature(sig) {
			return d.err
		}
		d.skip(2)
		recs := d.sub(int(n * recSize))
		if d.err != nil {
			return d.err
		}
		type child struct{ addr, n uint64 }
		var children []child
		if level > 0 {
			for range n + 1 {
				a := d.addr()
				cn := d.uint(maxNrecSize)
				if level > 1 {
					d.uint(cumSize[level-1])
				}
				children = append(children, child{a, cn})
			}
			if d.err != nil {
				return d.err
			}
		}
		for i := range n + 1 {
			if level > 0 {
				if err := walk(children[i].addr, children[i].n, level-1); err != nil {
					return err
				}
			}
			if i == n {
				break
			}
			rec := recs.sub(int(recSize))
			if recs.err != nil {
				return recs.err
			}
			count++
			if count > total {
				return fmt.Errorf("hdf5: %s: v2 B-tree holds more than the %d records its header declares: %w", what, total, ErrFormat)
			}
			if err := fn(rec.b, rec.off); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root, rootN, depth)
}

// huge returns a huge object: one too large for a direct block, stored in
// its own file block and found through the huge-object v2 B-tree (type 1:
// address, length, ID) or, if the heap ID is long enough, directly.
func (h *fractalHeap) huge(id []byte, idOff int64) ([]byte, int64, error) {
	f := h.f
	O, L := f.sizeOffsets, f.sizeLengths
	var addr, n uint64
	if len(id) >= 1+O+L {
		d := f.decoder(id[1:], idOff+1)
		addr, n = d.addr(), d.length()
		if d.err != nil {
			return nil, 0, d.err
		}
	} else {
		d := f.decoder(id[1:], idOff+1)
		want := d.uint(min(len(id)-1, 8))
		found := false
		err := f.walkBTree2(h.what+" huge objects", h.hugeBTree, 1, O+2*L, func(rec []byte, off int64) error {
			d := f.decoder(rec, off)
			a, l, i := d.addr(), d.length(), d.length()
			if d.err != nil {
				return d.err
			}
			if i == want && !found {
				addr, n, found = a, l, true
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		if !found {
			return nil, 0, fmt.Errorf("hdf5: %s: huge object %d (heap ID at offset %d) is not in its B-tree: %w", h.what, want, idOff, ErrFormat)
		}
	}
	b, off, err := f.read(addr, int64(min(n, uint64(f.size)+1)), h.what+" huge object")
	return b, off, err
}
