// Package hdf5 reads the subset of HDF5 used by Keras weight files, such as
// the published vgg16_weights_tf_dim_ordering_tf_kernels*.h5, in pure Go,
// and writes (Writer) the subset of Keras 3's weights files: groups and
// float32 datasets.
//
// A Keras weight file has a root attribute "layer_names" (a 1-D array of
// fixed-length, null-padded byte strings); each layer is a group of the
// same name with an attribute "weight_names", and each weight name is the
// path of a dataset relative to the layer group: "block1_conv1_W_1:0"
// (Keras 1) or "block1_conv1/kernel:0" (Keras 2, one group deeper).
// Kernels are stored row-major with shape (kh, kw, in, out) for Conv2D and
// (in, out) for Dense; biases have shape (out).
//
// Supported: superblock versions 0 to 3; object header versions 1 and 2
// with continuation blocks; old-style groups (symbol table: v1 B-tree,
// symbol table nodes, local heap) and new-style groups (link messages,
// compact or dense in a fractal heap indexed by a v2 B-tree); hard links;
// contiguous, compact and unfiltered chunked layouts (layout message
// versions 1 to 3, and version 4 with a single-chunk index); datatypes
// fixed-point (1, 2, 4, 8 bytes), floating-point (4 and 8 bytes, IEEE) in
// either byte order, fixed-length strings and variable-length strings
// (global heap); dataspace messages versions 1 and 2; attribute messages
// versions 1 to 3, compact or dense.
//
// Rejected with an error wrapping ErrUnsupported, which names the feature:
// filters ("compressed datasets not supported", e.g. gzip or shuffle),
// chunk indexes other than the v1 B-tree and single chunk, shared
// messages, soft and external links, and datatypes other than the above
// (compound, enum, array, reference, opaque, bitfield, time, half floats).
// Checksums of version-2 metadata are not verified.
//
// The reader works on an io.ReaderAt and never reads the whole file: Open
// parses only the superblock and the root group, every Group and Dataset
// lookup parses the objects on its path (keep the returned *Group to avoid
// parsing it again), and ReadFloat32To streams a dataset's bytes
// from the file into the destination slice through a small fixed buffer.
// Every size and count read from the file is checked against the file
// size before anything is allocated, so a corrupt or truncated file yields
// an error wrapping ErrFormat (naming the offset and the value) rather
// than a panic or a large allocation.
package hdf5

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrFormat is wrapped by every error about input that is not a valid HDF5
// file or is corrupt or truncated.
var ErrFormat = errors.New("hdf5: not a valid HDF5 file")

// ErrUnsupported is wrapped by errors about valid HDF5 features this
// package does not implement; the message names the feature.
var ErrUnsupported = errors.New("hdf5: unsupported feature")

// ErrNotFound is wrapped by the error returned when a group, dataset or
// attribute does not exist, or is not of the kind asked for.
var ErrNotFound = errors.New("hdf5: not found")

// signature is the 8-byte HDF5 format signature.
const signature = "\x89HDF\r\n\x1a\n"

// undef is the undefined address (all bits set).
const undef = ^uint64(0)

// Limits on structures that the format leaves unbounded.
const (
	maxDepth     = 64      // B-tree levels, group nesting while resolving paths
	maxRank      = 32      // dataspace dimensions (HDF5's own limit)
	maxMessages  = 1 << 16 // messages in one object header, attributes of one object
	maxMetaBlock = 1 << 28 // one metadata structure, before the file-size check
)

// File is an open HDF5 file. A File, and the Groups, Datasets and
// Attributes read from it, are immutable, so their methods may be called
// from several goroutines at once if the underlying io.ReaderAt allows it
// (an *os.File does).
type File struct {
	r           io.ReaderAt
	size        int64
	base        uint64 // base address: file addresses are relative to it
	sizeOffsets int    // bytes in an address
	sizeLengths int    // bytes in a length
	sbVersion   int
	root        *Group
}

// Open parses the superblock and root group of the size-byte HDF5 file r.
// The superblock may be at offset 0, 512, 1024, 2048, ... (a user block
// precedes it). Errors wrap ErrFormat or ErrUnsupported.
func Open(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("hdf5: negative file size %d: %w", size, ErrFormat)
	}
	f := &File{r: r, size: size}
	off, err := f.findSignature()
	if err != nil {
		return nil, err
	}
	rootAddr, rootCache, err := f.readSuperblock(off)
	if err != nil {
		return nil, err
	}
	root, err := f.openGroup("/", rootAddr, rootCache)
	if err != nil {
		return nil, err
	}
	f.root = root
	return f, nil
}

// OpenFile opens the HDF5 file at path. The caller must Close the returned
// closer (the *os.File) when done with the File and everything read from
// it.
func OpenFile(path string) (*File, io.Closer, error) {
	osf, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("hdf5: %w", err)
	}
	st, err := osf.Stat()
	if err != nil {
		osf.Close()
		return nil, nil, fmt.Errorf("hdf5: %w", err)
	}
	if !st.Mode().IsRegular() {
		osf.Close()
		return nil, nil, fmt.Errorf("hdf5: %s is not a regular file", path)
	}
	f, err := Open(osf, st.Size())
	if err != nil {
		osf.Close()
		return nil, nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return f, osf, nil
}

// Root returns the root group "/".
func (f *File) Root() *Group { return f.root }

// SuperblockVersion returns the version of the file's superblock (0 to 3):
// 0 for files written with libver "earliest" (h5py's default), 2 or 3 for
// "v108" and "latest".
func (f *File) SuperblockVersion() int { return f.sbVersion }

// Group returns the group at the slash-separated path, absolute or relative
// to the root ("/block1_conv1", "block1_conv1/block1_conv1").
func (f *File) Group(path string) (*Group, error) { return f.root.Group(path) }

// Dataset returns the dataset at the slash-separated path, absolute or
// relative to the root ("/block1_conv1/block1_conv1_W_1:0").
func (f *File) Dataset(path string) (*Dataset, error) { return f.root.Dataset(path) }

// findSignature returns the offset of the superblock signature.
func (f *File) findSignature() (int64, error) {
	var b [8]byte
	for off := int64(0); off+8 <= f.size; {
		if _, err := f.r.ReadAt(b[:], off); err != nil {
			return 0, f.ioErr(err, "signature", off, 8)
		}
		if string(b[:]) == signature {
			return off, nil
		}
		if off == 0 {
			off = 512
		} else {
			off *= 2
		}
	}
	if f.size >= 8 {
		if _, err := f.r.ReadAt(b[:], 0); err == nil {
			return 0, fmt.Errorf("hdf5: no HDF5 signature at offset 0 (found %q) or at 512, 1024, ...: %w", b[:], ErrFormat)
		}
	}
	return 0, fmt.Errorf("hdf5: file is %d bytes, too short for an HDF5 signature: %w", f.size, ErrFormat)
}

// readSuperblock parses the superblock at off and returns the address of
// the root group's object header and, for version 0 and 1, the root
// symbol-table entry's cached B-tree and heap addresses.
func (f *File) readSuperblock(off int64) (uint64, *stabCache, error) {
	b, err := f.readAt(off, 16, "superblock")
	if err != nil {
		return 0, nil, err
	}
	f.sbVersion = int(b[8])
	switch f.sbVersion {
	case 0, 1:
		f.sizeOffsets, f.sizeLengths = int(b[13]), int(b[14])
	case 2, 3:
		f.sizeOffsets, f.sizeLengths = int(b[9]), int(b[10])
	default:
		return 0, nil, fmt.Errorf("hdf5: superblock version %d at offset %d: %w", f.sbVersion, off+8, ErrUnsupported)
	}
	if !validSize(f.sizeOffsets) || !validSize(f.sizeLengths) {
		return 0, nil, fmt.Errorf("hdf5: superblock at offset %d: size of offsets %d, size of lengths %d, want 2, 4 or 8: %w",
			off, f.sizeOffsets, f.sizeLengths, ErrFormat)
	}
	O := f.sizeOffsets
	if f.sbVersion >= 2 {
		// sig 8, version, sizes 2, flags, base, ext, eof, root, checksum.
		b, err := f.readAt(off, int64(12+4*O+4), "superblock")
		if err != nil {
			return 0, nil, err
		}
		d := f.decoder(b, off)
		d.skip(12)
		f.base = d.addr()
		ext := d.addr()
		d.addr() // end of file address
		root := d.addr()
		if err := d.err; err != nil {
			return 0, nil, err
		}
		_ = ext // the extension holds only settings irrelevant to reading
		if f.base != 0 && f.base != uint64(off) {
			return 0, nil, fmt.Errorf("hdf5: base address %d at offset %d, superblock at %d: %w", f.base, off+12, off, ErrUnsupported)
		}
		f.base = uint64(off)
		return root, nil, nil
	}
	hdr := 24
	if f.sbVersion == 1 {
		hdr = 28
	}
	// header, 4 addresses, root symbol table entry (2 addresses + 24).
	b, err = f.readAt(off, int64(hdr+6*O+24), "superblock")
	if err != nil {
		return 0, nil, err
	}
	d := f.decoder(b, off)
	d.skip(hdr)
	base := d.addr()
	d.addr() // free-space info
	d.addr() // end of file
	d.addr() // driver info
	if d.err != nil {
		return 0, nil, d.err
	}
	if base != 0 && base != uint64(off) {
		return 0, nil, fmt.Errorf("hdf5: base address %d at offset %d, superblock at %d: %w", base, off+int64(hdr), off, ErrUnsupported)
	}
	f.base = uint64(off)
	e, err := f.symbolEntry(d)
	if err != nil {
		return 0, nil, err
	}
	return e.header, e.cache, nil
}

func validSize(n int) bool { return n == 2 || n == 4 || n == 8 }

// pos converts a file address to an offset for ReadAt, checking that n
// bytes at it lie within the file.
func (f *File) pos(addr uint64, n int64, what string) (int64, error) {
	if addr == undef {
		return 0, fmt.Errorf("hdf5: %s has an undefined address: %w", what, ErrFormat)
	}
	if addr > uint64(f.size) || f.base > uint64(f.size)-addr {
		return 0, fmt.Errorf("hdf5: %s at address %d is beyond the end of the %d-byte file: %w", what, addr, f.size, ErrFormat)
	}
	off := int64(addr + f.base)
	if n < 0 || n > f.size-off {
		return 0, fmt.Errorf("hdf5: %s at offset %d: %d bytes run past the end of the %d-byte file: %w", what, off, n, f.size, ErrFormat)
	}
	return off, nil
}

// readAt reads n bytes at file offset off, after checking n against the
// file size.
func (f *File) readAt(off, n int64, what string) ([]byte, error) {
	if off < 0 || n < 0 || off > f.size || n > f.size-off {
		return nil, fmt.Errorf("hdf5: %s at offset %d: %d bytes run past the end of the %d-byte file: %w", what, off, n, f.size, ErrFormat)
	}
	if n > maxMetaBlock {
		return nil, fmt.Errorf("hdf5: %s at offset %d is %d bytes, more than the %d-byte limit for metadata: %w", what, off, n, maxMetaBlock, ErrFormat)
	}
	b := make([]byte, n)
	if k, err := f.r.ReadAt(b, off); k < len(b) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, f.ioErr(err, what, off, n)
	}
	return b, nil
}

// read reads n bytes at file address addr.
func (f *File) read(addr uint64, n int64, what string) ([]byte, int64, error) {
	off, err := f.pos(addr, n, what)
	if err != nil {
		return nil, 0, err
	}
	b, err := f.readAt(off, n, what)
	return b, off, err
}

func (f *File) ioErr(err error, what string, off, n int64) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("hdf5: reading %d bytes of %s at offset %d: %w", n, what, off, err)
}

// decoder reads little-endian fields from a metadata block read at file
// offset off. Reading past the end records an error wrapping ErrFormat and
// yields zeros, so callers check d.err once after a group of fields.
type decoder struct {
	b    []byte
	p    int
	off  int64 // file offset of b[0]
	O, L int   // size of offsets and lengths
	what string
	err  error
}

func (f *File) decoder(b []byte, off int64) *decoder {
	return &decoder{b: b, off: off, O: f.sizeOffsets, L: f.sizeLengths}
}

// sub returns a decoder of the n bytes at the current position and skips
// them.
func (d *decoder) sub(n int) *decoder {
	s := &decoder{off: d.off + int64(d.p), O: d.O, L: d.L, what: d.what}
	s.b = d.bytes(n)
	if d.err != nil {
		s.err = d.err
	}
	return s
}

func (d *decoder) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || n > len(d.b)-d.p {
		what := d.what
		if what == "" {
			what = "structure"
		}
		d.err = fmt.Errorf("hdf5: %s truncated at offset %d: need %d bytes, have %d: %w", what, d.off+int64(d.p), n, len(d.b)-d.p, ErrFormat)
		return false
	}
	return true
}

func (d *decoder) offset() int64  { return d.off + int64(d.p) }
func (d *decoder) remaining() int { return len(d.b) - d.p }

func (d *decoder) skip(n int) {
	if d.need(n) {
		d.p += n
	}
}

func (d *decoder) bytes(n int) []byte {
	if !d.need(n) {
		return nil
	}
	b := d.b[d.p : d.p+n : d.p+n]
	d.p += n
	return b
}

func (d *decoder) u8() uint8 {
	if !d.need(1) {
		return 0
	}
	d.p++
	return d.b[d.p-1]
}

func (d *decoder) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	d.p += 2
	return binary.LittleEndian.Uint16(d.b[d.p-2:])
}

func (d *decoder) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	d.p += 4
	return binary.LittleEndian.Uint32(d.b[d.p-4:])
}

// uint reads an n-byte little-endian unsigned integer, 0 <= n <= 8.
func (d *decoder) uint(n int) uint64 {
	if n > 8 {
		d.err = fmt.Errorf("hdf5: %d-byte integer at offset %d: %w", n, d.offset(), ErrFormat)
	}
	if !d.need(n) {
		return 0
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(d.b[d.p+i])
	}
	d.p += n
	return v
}

// addr reads an address; an all-ones value becomes undef whatever its size.
func (d *decoder) addr() uint64 {
	v := d.uint(d.O)
	if d.O < 8 && v == 1<<(8*d.O)-1 {
		return undef
	}
	return v
}

func (d *decoder) length() uint64 { return d.uint(d.L) }

// signature checks a 4-byte signature.
func (d *decoder) signature(sig string) bool {
	b := d.bytes(4)
	if d.err != nil {
		return false
	}
	if string(b) != sig {
		d.err = fmt.Errorf("hdf5: signature %q at offset %d, want %q: %w", b, d.offset()-4, sig, ErrFormat)
		return false
	}
	return true
}
