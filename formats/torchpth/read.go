package torchpth

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// StateDict is the table of contents of a state-dict file: the tensors'
// names, dtypes, shapes and where their data lie. Tensor data is read
// when [StateDict.Tensor] asks for it, except for a StateDict returned by
// [ReadFile], which holds every floating-point tensor in memory.
//
// A StateDict is not safe for concurrent use by multiple goroutines.
type StateDict struct {
	format  Format
	r       io.ReaderAt // nil once closed
	closer  io.Closer
	entries []*tensorRef
	byName  map[string]*tensorRef
	loaded  map[string]*Tensor // set by ReadFile
}

// Format returns the serialization of the file.
func (sd *StateDict) Format() Format { return sd.format }

// Keys returns the tensor names in file order (the order of the
// OrderedDict, as PyTorch's state_dict() lists them).
func (sd *StateDict) Keys() []string {
	keys := make([]string, len(sd.entries))
	for i, e := range sd.entries {
		keys[i] = e.info.Name
	}
	return keys
}

// Lookup returns the description of the tensor called name without
// reading its data.
func (sd *StateDict) Lookup(name string) (TensorInfo, bool) {
	e, ok := sd.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return e.info.clone(), true
}

// Tensor returns the tensor called name, converted to float32 in C order.
// For a StateDict from [ReadFile] it returns the tensor loaded by ReadFile
// (the same *Tensor on every call); otherwise it reads the data from the
// underlying reader on every call and returns a new Tensor. Tensors whose
// dtype is not a floating-point type yield an error wrapping
// [ErrUnsupported]; [StateDict.Lookup] still describes them.
func (sd *StateDict) Tensor(name string) (*Tensor, error) {
	e, ok := sd.byName[name]
	if !ok {
		return nil, fmt.Errorf("torchpth: no tensor %q in the state dict", name)
	}
	if t := sd.loaded[name]; t != nil {
		return t, nil
	}
	if !e.info.DType.IsFloat() {
		return nil, fmt.Errorf("torchpth: tensor %q has dtype %s, which does not convert to float32: %w", name, e.info.DType, ErrUnsupported)
	}
	if sd.r == nil {
		return nil, fmt.Errorf("torchpth: tensor %q: %w", name, os.ErrClosed)
	}
	data, err := readTensor(sd.r, e)
	if err != nil {
		return nil, err
	}
	return &Tensor{TensorInfo: e.info.clone(), data: data}, nil
}

// Close closes the file opened by [OpenFile]; later calls of
// [StateDict.Tensor] fail. For other StateDicts it only forgets the reader.
func (sd *StateDict) Close() error {
	sd.r = nil
	if c := sd.closer; c != nil {
		sd.closer = nil
		return c.Close()
	}
	return nil
}

// ReadStateDict reads the table of contents of the size-byte state-dict
// file r, in any of the three formats, and checks it: the pickles, the
// storage headers and that every tensor lies inside its storage. It does
// not read tensor data; r must stay readable while [StateDict.Tensor] is
// used. Malformed files yield errors wrapping [ErrFormat], disallowed
// pickle globals [ErrUnsafe], unimplemented features [ErrUnsupported].
func ReadStateDict(r io.ReaderAt, size int64) (*StateDict, error) {
	if size < 0 {
		return nil, fmt.Errorf("torchpth: negative file size %d: %w", size, ErrFormat)
	}
	var head [262]byte
	n, err := r.ReadAt(head[:min(size, int64(len(head)))], 0)
	if err != nil && !(errors.Is(err, io.EOF) && int64(n) == min(size, int64(len(head)))) {
		return nil, fmt.Errorf("torchpth: reading the file header: %w", ioErr(err))
	}
	h := head[:n]
	switch {
	case bytes.HasPrefix(h, []byte("PK\x03\x04")) || bytes.HasPrefix(h, []byte("PK\x05\x06")):
		return readZip(r, size)
	case len(h) > 0 && h[0] == opProto:
		return readLegacy(r, size)
	case len(h) >= 262 && string(h[257:262]) == "ustar":
		return nil, fmt.Errorf("torchpth: tar file (PyTorch before 0.1.10): %w", ErrUnsupported)
	}
	return nil, fmt.Errorf("torchpth: file starts with % x, neither a zip archive nor a pickle: %w", h[:min(len(h), 4)], ErrFormat)
}

// ioErr turns an early end of file into ErrFormat.
func ioErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("unexpected end of file: %w", ErrFormat)
	}
	return err
}

// legacyMagic is the magic number that starts a legacy file.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// legacyProtocol is the only legacy protocol version.
const legacyProtocol = 1001

// readLegacy reads the legacy pickle stream.
func readLegacy(r io.ReaderAt, size int64) (*StateDict, error) {
	in := newInput(io.NewSectionReader(r, 0, size), 0, size, "")
	u := &unpickler{in: in}
	off := in.off
	magic, err := u.load()
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, in.errorf(ErrFormat, off, "magic number %v, want 0x%x", magic, legacyMagic)
	}
	off = in.off
	proto, err := u.load()
	if err != nil {
		return nil, err
	}
	if proto != int64(legacyProtocol) {
		return nil, in.errorf(ErrUnsupported, off, "legacy protocol version %v, want %d", proto, legacyProtocol)
	}
	off = in.off
	info, err := u.load()
	if err != nil {
		return nil, err
	}
	d, ok := info.(*pyDict)
	if !ok {
		return nil, in.errorf(ErrFormat, off, "sys_info is a %s, want a dict", typeName(info))
	}
	if le, ok := d.get("little_endian"); ok && le != true {
		return nil, in.errorf(ErrUnsupported, off, "sys_info little_endian is %v", le)
	}

	ss := &storages{size: size, byKey: map[string]*storage{}, views: map[string]*storageRef{}}
	u.persistent = ss.load(in)
	sd, err := stateDict(u)
	if err != nil {
		return nil, err
	}
	sd.format = FormatLegacyV2
	if u.rebuilt["_rebuild_tensor"] > 0 {
		sd.format = FormatLegacy
	}
	u.persistent = nil

	off = in.off
	v, err := u.load()
	if err != nil {
		return nil, err
	}
	l, ok := v.(*pyList)
	if !ok {
		return nil, in.errorf(ErrFormat, off, "storage key list is a %s", typeName(v))
	}
	pos := in.off
	for i, k := range l.items {
		key, ok := k.(string)
		if !ok {
			return nil, in.errorf(ErrFormat, off, "storage key %d is a %s", i, typeName(k))
		}
		s := ss.byKey[key]
		if s == nil {
			return nil, in.errorf(ErrFormat, off, "storage key %q is not used by the state dict", key)
		}
		if s.data >= 0 {
			return nil, in.errorf(ErrFormat, off, "storage key %q is listed twice", key)
		}
		var nb [8]byte
		if size-pos < 8 {
			return nil, fmt.Errorf("torchpth: element count of storage %q at offset %d truncated: %w", key, pos, ErrFormat)
		}
		if _, err := r.ReadAt(nb[:], pos); err != nil {
			return nil, fmt.Errorf("torchpth: reading storage %q at offset %d: %w", key, pos, ioErr(err))
		}
		n := binary.LittleEndian.Uint64(nb[:])
		if n != uint64(s.numel) {
			return nil, fmt.Errorf("torchpth: storage %q at offset %d has %d elements, the state dict says %d: %w", key, pos, n, s.numel, ErrFormat)
		}
		nbytes := s.numel * int64(s.dtype.Size()) // bounded by size when loaded
		if nbytes > size-pos-8 {
			return nil, fmt.Errorf("torchpth: storage %q of %d bytes at offset %d exceeds the %d bytes left: %w", key, nbytes, pos+8, size-pos-8, ErrFormat)
		}
		s.data = pos + 8
		pos += 8 + nbytes
	}
	for _, s := range ss.order {
		if s.data < 0 {
			return nil, in.errorf(ErrFormat, off, "storage %q is missing from the storage key list", s.key)
		}
	}
	if pos != size {
		return nil, fmt.Errorf("torchpth: %d trailing bytes after the last storage at offset %d: %w", size-pos, pos, ErrFormat)
	}
	sd.r = r
	return sd, nil
}

// stateDict runs u for the pickle of the state dict and checks that it is
// a dict of str to tensors.
func stateDict(u *unpickler) (*StateDict, error) {
	off := u.in.off
	v, err := u.load()
	if err != nil {
		return nil, err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return nil, u.in.errorf(ErrUnsupported, off, "the pickled object is a %s, not a state dict", typeName(v))
	}
	sd := &StateDict{byName: make(map[string]*tensorRef, len(d.keys))}
	for i, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, u.in.errorf(ErrUnsupported, off, "state dict key %d is a %s, not a str", i, typeName(k))
		}
		t, ok := d.vals[i].(*tensorRef)
		if !ok {
			return nil, u.in.errorf(ErrUnsupported, off, "state dict entry %q is a %s, not a tensor", name, typeName(d.vals[i]))
		}
		e := &tensorRef{info: t.info, s: t.s} // one tensor may be stored under two names
		e.info.Name = name
		sd.entries = append(sd.entries, e)
		sd.byName[name] = e
	}
	return sd, nil
}

// readZip reads the zip serialization.
func readZip(r io.ReaderAt, size int64) (*StateDict, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("torchpth: zip archive: %v: %w", err, ErrFormat)
	}
	var pkl *zip.File
	files := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		if strings.Count(f.Name, "/") == 1 && strings.HasSuffix(f.Name, "/data.pkl") {
			if pkl != nil {
				return nil, fmt.Errorf("torchpth: zip archive has both %s and %s: %w", pkl.Name, f.Name, ErrFormat)
			}
			pkl = f
		}
		files[f.Name] = f
	}
	if pkl == nil {
		return nil, fmt.Errorf("torchpth: zip archive has no <archive>/data.pkl: %w", ErrFormat)
	}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	if f := files[prefix+"byteorder"]; f != nil {
		b, err := readSmall(f, 16)
		if err != nil {
			return nil, err
		}
		if string(b) != "little" {
			return nil, fmt.Errorf("torchpth: %s is %q: %w", f.Name, b, ErrUnsupported)
		}
	}

	var src io.Reader
	if pkl.Method == zip.Store {
		off, err := pkl.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("torchpth: %s: %v: %w", pkl.Name, err, ErrFormat)
		}
		if pkl.CompressedSize64 != pkl.UncompressedSize64 || off < 0 || pkl.UncompressedSize64 > uint64(size-off) {
			return nil, fmt.Errorf("torchpth: %s of %d bytes at offset %d does not fit in the %d-byte file: %w", pkl.Name, pkl.UncompressedSize64, off, size, ErrFormat)
		}
		src = io.NewSectionReader(r, off, int64(pkl.UncompressedSize64))
	} else {
		rc, err := pkl.Open()
		if err != nil {
			return nil, fmt.Errorf("torchpth: %s: %v: %w", pkl.Name, err, ErrUnsupported)
		}
		defer rc.Close()
		src = rc
	}
	end := int64(min(pkl.UncompressedSize64, 1<<62))
	in := newInput(src, 0, end, pkl.Name)
	ss := &storages{size: size, byKey: map[string]*storage{}, views: map[string]*storageRef{}}
	u := &unpickler{in: in}
	u.persistent = ss.load(in)
	sd, err := stateDict(u)
	if err != nil {
		return nil, err
	}
	if in.off != end {
		return nil, in.errorf(ErrFormat, in.off, "%d bytes after STOP", end-in.off)
	}
	sd.format = FormatZip
	for _, s := range ss.order {
		name := prefix + "data/" + s.key
		f := files[name]
		if f == nil {
			return nil, fmt.Errorf("torchpth: zip archive has no %s for storage %q: %w", name, s.key, ErrFormat)
		}
		if f.Method != zip.Store {
			return nil, fmt.Errorf("torchpth: %s is compressed (method %d): %w", name, f.Method, ErrUnsupported)
		}
		off, err := f.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("torchpth: %s: %v: %w", name, err, ErrFormat)
		}
		nbytes := s.numel * int64(s.dtype.Size())
		if f.UncompressedSize64 != f.CompressedSize64 || f.UncompressedSize64 < uint64(nbytes) || off < 0 || off > size || f.UncompressedSize64 > uint64(size-off) {
			return nil, fmt.Errorf("torchpth: %s of %d bytes at offset %d does not hold storage %q of %d bytes in the %d-byte file: %w",
				name, f.UncompressedSize64, off, s.key, nbytes, size, ErrFormat)
		}
		s.data = off
	}
	sd.r = r
	return sd, nil
}

// readSmall reads a zip entry of at most limit bytes.
func readSmall(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("torchpth: %s is %d bytes, more than %d: %w", f.Name, f.UncompressedSize64, limit, ErrFormat)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("torchpth: %s: %v: %w", f.Name, err, ErrFormat)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit))
	if err != nil {
		return nil, fmt.Errorf("torchpth: %s: %v: %w", f.Name, err, ErrFormat)
	}
	return b, nil
}

// readChunk is the size of the buffer that contiguous tensors are read
// through.
const readChunk = 256 << 10

// readTensor reads and converts the data of e. A C-contiguous tensor is
// read through a small buffer; any other tensor reads the span of its
// storage that it addresses, then gathers.
func readTensor(r io.ReaderAt, e *tensorRef) ([]float32, error) {
	info := e.info
	es := int64(info.DType.Size())
	n := info.NumElements()
	dst := make([]float32, n) // n <= the storage's numel, bounded by the file size
	if n == 0 {
		return dst, nil
	}
	base := e.s.data + info.StorageOffset*es
	fail := func(err error, off int64) ([]float32, error) {
		return nil, fmt.Errorf("torchpth: reading tensor %q at offset %d: %w", info.Name, off, ioErr(err))
	}
	if contiguous(info.Shape, info.Stride) {
		buf := make([]byte, min(int64(n)*es, readChunk/es*es))
		for done := 0; done < n; {
			k := min(n-done, len(buf)/int(es))
			off := base + int64(done)*es
			if _, err := r.ReadAt(buf[:int64(k)*es], off); err != nil {
				return fail(err, off)
			}
			decode(dst[done:done+k], buf[:int64(k)*es], info.DType)
			done += k
		}
		return dst, nil
	}
	span := int64(1)
	for i, d := range info.Shape {
		span += int64(d-1) * int64(info.Stride[i])
	}
	raw := make([]byte, span*es)
	if _, err := r.ReadAt(raw, base); err != nil {
		return fail(err, base)
	}
	all := make([]float32, span)
	decode(all, raw, info.DType)
	raw = nil
	idx := make([]int, len(info.Shape))
	pos := 0
	for i := range dst {
		dst[i] = all[pos]
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			pos += info.Stride[d]
			if idx[d] < info.Shape[d] {
				break
			}
			pos -= idx[d] * info.Stride[d]
			idx[d] = 0
		}
	}
	return dst, nil
}

// contiguous reports whether stride is the C-order stride of shape
// (ignoring dimensions of size 1, as torch does).
func contiguous(shape, stride []int) bool {
	want := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && stride[i] != want {
			return false
		}
		want *= shape[i]
	}
	return true
}

// hashName matches the SHA-256 prefix of a torchvision/torch.hub file name
// such as vgg16-397923af.pth.
var hashName = regexp.MustCompile(`-([0-9a-f]{8,64})\.[A-Za-z0-9]+$`)

// nameHash returns the SHA-256 prefix that the base name of path carries,
// or "".
func nameHash(path string) string {
	m := hashName.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return ""
	}
	return m[1]
}

// OpenFile opens the state-dict file at path and reads its table of
// contents, as [ReadStateDict] does; tensor data is read from the file
// when [StateDict.Tensor] is called, until [StateDict.Close].
//
// If the file name carries a SHA-256 prefix as torch.hub and torchvision
// name their downloads (name-<8 to 64 lowercase hex digits>.ext, e.g.
// vgg16-397923af.pth), OpenFile first hashes the whole file, streaming it,
// and returns an error wrapping [ErrChecksum] if the digest does not start
// with that prefix.
func OpenFile(path string) (*StateDict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("torchpth: %w", err)
	}
	sd, err := openFile(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	sd.closer = f
	return sd, nil
}

func openFile(f *os.File, path string) (*StateDict, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("torchpth: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("torchpth: %s is not a regular file", path)
	}
	if want := nameHash(path); want != "" {
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size())); err != nil {
			return nil, fmt.Errorf("torchpth: hashing %s: %w", path, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); !strings.HasPrefix(got, want) {
			return nil, fmt.Errorf("torchpth: %s: SHA-256 is %s, the file name says it starts with %s: %w", path, got, want, ErrChecksum)
		}
	}
	sd, err := ReadStateDict(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return sd, nil
}

// ReadFile reads the state-dict file at path as [OpenFile] does (with the
// same SHA-256 check), loads every floating-point tensor into memory,
// converted to float32, and closes the file. Tensors of other dtypes are
// described by [StateDict.Lookup] only.
func ReadFile(path string) (*StateDict, error) {
	sd, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer sd.Close()
	sd.loaded = make(map[string]*Tensor)
	for _, e := range sd.entries {
		if !e.info.DType.IsFloat() {
			continue
		}
		t, err := sd.Tensor(e.info.Name)
		if err != nil {
			return nil, fmt.Errorf("%w (in %s)", err, path)
		}
		sd.loaded[e.info.Name] = t
	}
	return sd, nil
}
