package torchpth

import (
	"fmt"
	"math"
)

// storage is a storage referenced by a persistent id.
type storage struct {
	key   string
	dtype DType
	numel int64
	// data is the file offset of element 0, or -1 until it is located.
	data int64
}

// storageRef is what a persistent id loads: elements [off, off+n) of a
// storage (all of it unless the legacy id has view metadata).
type storageRef struct {
	s      *storage
	off, n int64
}

// tensorRef is a rebuilt tensor.
type tensorRef struct {
	info TensorInfo
	s    *storage
}

// storages resolves the persistent ids of one file.
type storages struct {
	size  int64 // file size, bounds every storage
	byKey map[string]*storage
	order []*storage // in order of first reference
	views map[string]*storageRef
}

// load implements BINPERSID for the id
// ('storage', storage_type, key, location, numel[, view_metadata]).
func (ss *storages) load(in *input) func(any, int64) (any, error) {
	return func(pid any, off int64) (any, error) {
		bad := func(format string, args ...any) (any, error) {
			return nil, in.errorf(ErrFormat, off, "persistent id: %s", fmt.Sprintf(format, args...))
		}
		t, ok := pid.(pyTuple)
		if !ok || (len(t) != 5 && len(t) != 6) {
			return bad("%s of length %d, want ('storage', type, key, location, numel[, view])", typeName(pid), len(t))
		}
		if t[0] != "storage" {
			return nil, in.errorf(ErrUnsupported, off, "persistent id of kind %v (only 'storage' is supported)", t[0])
		}
		g, ok := t[1].(pyGlobal)
		dt := storageTypes[g.name]
		if !ok || g.module != "torch" || dt == "" {
			return bad("storage type %s", typeName(t[1]))
		}
		key, ok1 := t[2].(string)
		_, ok2 := t[3].(string)
		numel, ok3 := t[4].(int64)
		if !ok1 || !ok2 || !ok3 {
			return bad("key, location and numel of types %s, %s, %s, want str, str, int", typeName(t[2]), typeName(t[3]), typeName(t[4]))
		}
		if numel < 0 || numel > ss.size/int64(dt.Size()) {
			return bad("storage %q of %d %s elements does not fit in a %d-byte file", key, numel, dt, ss.size)
		}
		s := ss.byKey[key]
		if s == nil {
			s = &storage{key: key, dtype: dt, numel: numel, data: -1}
			ss.byKey[key] = s
			ss.order = append(ss.order, s)
		} else if s.dtype != dt || s.numel != numel {
			return bad("storage %q is %d %s elements, earlier %d %s elements", key, numel, dt, s.numel, s.dtype)
		}
		if len(t) == 5 || t[5] == nil {
			return &storageRef{s: s, off: 0, n: numel}, nil
		}
		v, ok := t[5].(pyTuple)
		if !ok || len(v) != 3 {
			return bad("view metadata %s, want None or (key, offset, size)", typeName(t[5]))
		}
		vkey, ok1 := v[0].(string)
		voff, ok2 := v[1].(int64)
		vn, ok3 := v[2].(int64)
		if !ok1 || !ok2 || !ok3 || voff < 0 || vn < 0 || voff > numel || vn > numel-voff {
			return bad("view metadata (%v, %v, %v) for storage %q of %d elements", v[0], v[1], v[2], key, numel)
		}
		if old := ss.views[vkey]; old != nil {
			if old.s != s || old.off != voff || old.n != vn {
				return bad("view %q redefined", vkey)
			}
			return old, nil
		}
		r := &storageRef{s: s, off: voff, n: vn}
		ss.views[vkey] = r
		return r, nil
	}
}

// call implements REDUCE for the allowlisted callables.
func (u *unpickler) call(f, args any, off int64) (any, error) {
	bad := func(format string, args ...any) (any, error) {
		return nil, u.in.errorf(ErrFormat, off, "REDUCE: %s", fmt.Sprintf(format, args...))
	}
	g, ok := f.(pyGlobal)
	if !ok {
		return bad("call of a %s", typeName(f))
	}
	a, ok := args.(pyTuple)
	if !ok {
		return bad("%s called with a %s, want a tuple", g, typeName(args))
	}
	switch g.String() {
	case "collections.OrderedDict":
		d := &pyDict{ordered: true}
		switch len(a) {
		case 0:
		case 1: // Python 2: OrderedDict([[key, value], ...])
			var items []any
			switch l := a[0].(type) {
			case *pyList:
				items = l.items
			case pyTuple:
				items = l
			default:
				return bad("OrderedDict of a %s", typeName(a[0]))
			}
			for i, it := range items {
				var kv []any
				switch p := it.(type) {
				case *pyList:
					kv = p.items
				case pyTuple:
					kv = p
				}
				if len(kv) != 2 {
					return bad("OrderedDict item %d is a %s, want a [key, value] pair", i, typeName(it))
				}
				if err := d.set(kv[0], kv[1]); err != nil {
					return nil, u.in.errorf(ErrUnsupported, off, "OrderedDict: %v", err)
				}
			}
		default:
			return bad("OrderedDict with %d arguments", len(a))
		}
		return d, nil
	case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2":
		want := "4"
		ok := len(a) == 4
		if g.name == "_rebuild_tensor_v2" {
			want, ok = "6 or 7", len(a) == 6 || len(a) == 7
		}
		if !ok {
			return bad("%s with %d arguments, want %s", g.name, len(a), want)
		}
		t, err := rebuildTensor(a)
		if err != nil {
			return nil, u.in.errorf(errorKind(err), off, "%s: %v", g.name, err)
		}
		if u.rebuilt == nil {
			u.rebuilt = make(map[string]int)
		}
		u.rebuilt[g.name]++
		return t, nil
	case "torch._utils._rebuild_parameter":
		if len(a) != 3 {
			return bad("_rebuild_parameter with %d arguments, want 3", len(a))
		}
		t, ok := a[0].(*tensorRef)
		if !ok {
			return bad("_rebuild_parameter of a %s", typeName(a[0]))
		}
		return t, nil
	}
	return nil, u.in.errorf(ErrUnsafe, off, "global %s may not be called", g)
}

// unsupportedError marks a rebuildTensor error as ErrUnsupported.
type unsupportedError struct{ error }

func errorKind(err error) error {
	if _, ok := err.(unsupportedError); ok {
		return ErrUnsupported
	}
	return ErrFormat
}

// rebuildTensor validates (storage, storage_offset, size, stride, ...): the
// addressed elements must lie in the storage.
func rebuildTensor(a pyTuple) (*tensorRef, error) {
	ref, ok := a[0].(*storageRef)
	if !ok {
		return nil, fmt.Errorf("storage argument is a %s", typeName(a[0]))
	}
	off, ok := a[1].(int64)
	if !ok || off < 0 {
		return nil, fmt.Errorf("storage offset %v (%s)", a[1], typeName(a[1]))
	}
	size, err := ints(a[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := ints(a[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("size %v and stride %v differ in length", size, stride)
	}
	numel, last := int64(1), off // last: index of the last element
	for i, d := range size {
		if d == 0 {
			numel = 0
			break
		}
		if numel > math.MaxInt64/d {
			return nil, fmt.Errorf("size %v overflows", size)
		}
		numel *= d
		if stride[i] != 0 && d-1 > (math.MaxInt64-last)/stride[i] {
			return nil, fmt.Errorf("size %v and stride %v overflow", size, stride)
		}
		last += (d - 1) * stride[i]
	}
	if numel > 0 && last >= ref.n {
		return nil, fmt.Errorf("offset %d, size %v and stride %v address element %d of a storage of %d elements", off, size, stride, last, ref.n)
	}
	if numel > ref.n {
		return nil, unsupportedError{fmt.Errorf("size %v and stride %v repeat elements: %d elements in a storage of %d", size, stride, numel, ref.n)}
	}
	info := TensorInfo{
		DType:         ref.s.dtype,
		Shape:         make([]int, len(size)),
		Stride:        make([]int, len(size)),
		StorageKey:    ref.s.key,
		StorageOffset: ref.off + off,
	}
	for i := range size {
		info.Shape[i], info.Stride[i] = int(size[i]), int(stride[i])
	}
	return &tensorRef{info: info, s: ref.s}, nil
}

// ints converts a tuple of non-negative ints.
func ints(v any, what string) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("%s is a %s, want a tuple", what, typeName(v))
	}
	if len(t) > MaxDims {
		return nil, fmt.Errorf("%s has %d dimensions, more than %d", what, len(t), MaxDims)
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 || n > math.MaxInt {
			return nil, fmt.Errorf("%s %v: element %d is %v (%s)", what, []any(t), i, x, typeName(x))
		}
		out[i] = n
	}
	return out, nil
}
