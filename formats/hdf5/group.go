package hdf5

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// object is the common part of a group and a dataset: its path, header
// address and header messages.
type object struct {
	f    *File
	path string
	addr uint64
	msgs []message
}

// Path returns the absolute path by which the object was looked up.
func (o *object) Path() string { return o.path }

// Group is an HDF5 group: a set of named links to groups and datasets,
// plus attributes. A Group's member list is parsed in full when the group
// is looked up; its members are parsed when they are looked up.
type Group struct {
	object
	names []string        // sorted
	links map[string]link // by name
}

// link is a group member.
type link struct {
	addr uint64 // object header address of a hard link
	kind int    // 0 hard, 1 soft, 64 external
}

// stabCache is the scratch-pad content of a symbol table entry of cache
// type 1: the addresses of a group's B-tree and local heap.
type stabCache struct{ btree, heap uint64 }

// symEntry is a symbol table entry.
type symEntry struct {
	nameOff uint64
	header  uint64
	cache   *stabCache
	soft    bool // cache type 2: a soft link
}

// symbolEntry decodes a symbol table entry.
func (f *File) symbolEntry(d *decoder) (symEntry, error) {
	var e symEntry
	e.nameOff = d.length()
	e.header = d.addr()
	cacheType := d.u32()
	d.skip(4)
	scratch := d.sub(16)
	switch cacheType {
	case 1:
		e.cache = &stabCache{btree: scratch.addr(), heap: scratch.addr()}
	case 2:
		e.soft = true
	}
	if d.err != nil {
		return e, d.err
	}
	return e, nil
}

// Names returns the names of the group's members (groups and datasets), in
// sorted order. The slice is a copy.
func (g *Group) Names() []string { return slices.Clone(g.names) }

// Group returns the group at the slash-separated path relative to g (a
// leading slash makes it relative to the file's root). The path "" is g
// itself and "/" the root. Errors wrap ErrNotFound for a missing member or
// a member that is not a group.
func (g *Group) Group(path string) (*Group, error) {
	start, parts := g.split(path)
	if len(parts) == 0 {
		return start, nil
	}
	msgs, full, addr, err := start.resolve(path, parts)
	if err != nil {
		return nil, err
	}
	return g.f.groupFromMessages(full, addr, msgs, nil)
}

// Dataset returns the dataset at the slash-separated path relative to g (a
// leading slash makes it relative to the file's root). Errors wrap
// ErrNotFound for a missing member or a member that is not a dataset.
func (g *Group) Dataset(path string) (*Dataset, error) {
	start, parts := g.split(path)
	if len(parts) == 0 {
		return nil, fmt.Errorf("hdf5: %s is a group, not a dataset: %w", start.path, ErrNotFound)
	}
	msgs, full, addr, err := start.resolve(path, parts)
	if err != nil {
		return nil, err
	}
	if !hasMessage(msgs, msgLayout) {
		return nil, fmt.Errorf("hdf5: %s is not a dataset: %w", full, ErrNotFound)
	}
	return g.f.newDataset(full, addr, msgs)
}

// split returns the group a path starts from (g, or the root for an
// absolute path) and its non-empty components.
func (g *Group) split(path string) (*Group, []string) {
	start := g
	if strings.HasPrefix(path, "/") {
		start = g.f.root
	}
	return start, strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
}

// resolve walks the path components parts from g and returns the header
// messages, full path and address of the object they name.
func (g *Group) resolve(path string, parts []string) ([]message, string, uint64, error) {
	if len(parts) > maxDepth {
		return nil, "", 0, fmt.Errorf("hdf5: path %q has more than %d components: %w", path, maxDepth, ErrNotFound)
	}
	cur, full := g, g.path
	for i, name := range parts {
		l, ok := cur.links[name]
		full = join(full, name)
		if !ok {
			return nil, "", 0, fmt.Errorf("hdf5: %s: no member %q in group %s: %w", full, name, cur.path, ErrNotFound)
		}
		if l.kind != 0 {
			kind := "soft"
			if l.kind == 64 {
				kind = "external"
			}
			return nil, "", 0, fmt.Errorf("hdf5: %s is a %s link: %w", full, kind, ErrUnsupported)
		}
		msgs, err := g.f.readObjectHeader(l.addr, full)
		if err != nil {
			return nil, "", 0, err
		}
		if i == len(parts)-1 {
			return msgs, full, l.addr, nil
		}
		next, err := g.f.groupFromMessages(full, l.addr, msgs, nil)
		if err != nil {
			return nil, "", 0, err
		}
		cur = next
	}
	return nil, "", 0, fmt.Errorf("hdf5: empty path %q: %w", path, ErrNotFound) // not reached: parts is not empty
}

func join(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

func hasMessage(msgs []message, typ int) bool {
	for _, m := range msgs {
		if m.typ == typ {
			return true
		}
	}
	return false
}

// openGroup reads the group whose object header is at addr.
func (f *File) openGroup(path string, addr uint64, cache *stabCache) (*Group, error) {
	msgs, err := f.readObjectHeader(addr, path)
	if err != nil {
		return nil, err
	}
	return f.groupFromMessages(path, addr, msgs, cache)
}

// groupFromMessages builds a group from its header messages: a symbol
// table message (old-style group) or link info and link messages
// (new-style group).
func (f *File) groupFromMessages(path string, addr uint64, msgs []message, cache *stabCache) (*Group, error) {
	g := &Group{object: object{f: f, path: path, addr: addr, msgs: msgs}, links: map[string]link{}}
	isGroup := false
	add := func(name string, l link, off int64) error {
		if _, dup := g.links[name]; dup {
			return fmt.Errorf("hdf5: group %s: duplicate member %q at offset %d: %w", path, name, off, ErrFormat)
		}
		g.links[name] = l
		g.names = append(g.names, name)
		return nil
	}
	for _, m := range msgs {
		switch m.typ {
		case msgSymbolTable:
			if m.shared() {
				return nil, fmt.Errorf("hdf5: group %s: shared symbol table message at offset %d: %w", path, m.raw.off, ErrUnsupported)
			}
			isGroup = true
			d := m.dec()
			bt, heap := d.addr(), d.addr()
			if d.err != nil {
				return nil, d.err
			}
			if err := f.readSymbolTable(path, bt, heap, add); err != nil {
				return nil, err
			}
		case msgLink:
			isGroup = true
			name, l, err := f.parseLink(m.dec(), path)
			if err != nil {
				return nil, err
			}
			if err := add(name, l, m.raw.off); err != nil {
				return nil, err
			}
		case msgLinkInfo:
			isGroup = true
			d := m.dec()
			d.what = "link info message"
			if v := d.u8(); v != 0 && d.err == nil {
				return nil, fmt.Errorf("hdf5: group %s: link info message version %d at offset %d: %w", path, v, d.off, ErrUnsupported)
			}
			flags := d.u8()
			if flags&1 != 0 {
				d.skip(8)
			}
			heap, bt := d.addr(), d.addr()
			if d.err != nil {
				return nil, d.err
			}
			if heap == undef {
				continue // compact: the links are link messages
			}
			err := f.denseRecords(path+" links", heap, bt, 5, func(obj []byte, off int64) error {
				name, l, err := f.parseLink(f.decoder(obj, off), path)
				if err != nil {
					return err
				}
				return add(name, l, off)
			})
			if err != nil {
				return nil, err
			}
		}
	}
	if !isGroup && cache != nil && cache.btree != undef {
		isGroup = true
		if err := f.readSymbolTable(path, cache.btree, cache.heap, add); err != nil {
			return nil, err
		}
	}
	if !isGroup {
		return nil, fmt.Errorf("hdf5: %s is not a group: %w", path, ErrNotFound)
	}
	slices.Sort(g.names)
	return g, nil
}

// readSymbolTable walks the v1 B-tree of an old-style group and calls add
// for every symbol table entry, with its name from the local heap.
func (f *File) readSymbolTable(path string, btree, heapAddr uint64, add func(string, link, int64) error) error {
	hb, hoff, err := f.read(heapAddr, int64(16+2*f.sizeLengths+f.sizeOffsets), path+" local heap")
	if err != nil {
		return err
	}
	d := f.decoder(hb, hoff)
	d.what = "local heap"
	if !d.signature("HEAP") {
		return d.err
	}
	d.skip(4)
	dataSize := d.length()
	d.length() // free list
	dataAddr := d.addr()
	if d.err != nil {
		return d.err
	}
	doff, err := f.pos(dataAddr, int64(min(dataSize, uint64(f.size)+1)), path+" local heap data")
	if err != nil {
		return err
	}
	heap, err := f.readAt(doff, int64(dataSize), path+" local heap data")
	if err != nil {
		return err
	}
	seen := map[uint64]bool{}
	var walk func(addr uint64, depth int) error
	walk = func(addr uint64, depth int) error {
		if depth > maxDepth || seen[addr] {
			return fmt.Errorf("hdf5: group %s: B-tree node at address %d is revisited or deeper than %d levels: %w", path, addr, maxDepth, ErrFormat)
		}
		seen[addr] = true
		hdr := int64(8 + 2*f.sizeOffsets)
		b, off, err := f.read(addr, hdr, path+" B-tree node")
		if err != nil {
			return err
		}
		d := f.decoder(b, off)
		d.what = "group B-tree node"
		if !d.signature("TREE") {
			return d.err
		}
		typ, level, n := d.u8(), d.u8(), d.u16()
		if typ != 0 {
			return fmt.Errorf("hdf5: group %s: B-tree node at offset %d has type %d, want 0 (group): %w", path, off, typ, ErrFormat)
		}
		body, err := f.readAt(off+hdr, int64(n)*int64(f.sizeLengths+f.sizeOffsets)+int64(f.sizeLengths), path+" B-tree node")
		if err != nil {
			return err
		}
		d = f.decoder(body, off+hdr)
		d.what = "group B-tree node"
		for range n {
			d.length() // key
			child := d.addr()
			if d.err != nil {
				return d.err
			}
			if level > 0 {
				if err := walk(child, depth+1); err != nil {
					return err
				}
				continue
			}
			if err := f.readSymbolNode(path, child, heap, doff, add); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(btree, 0)
}

// readSymbolNode reads a symbol table node (SNOD) and adds its entries.
func (f *File) readSymbolNode(path string, addr uint64, heap []byte, heapOff int64, add func(string, link, int64) error) error {
	b, off, err := f.read(addr, 8, path+" symbol table node")
	if err != nil {
		return err
	}
	d := f.decoder(b, off)
	d.what = "symbol table node"
	if !d.signature("SNOD") {
		return d.err
	}
	if v := d.u8(); v != 1 {
		return fmt.Errorf("hdf5: group %s: symbol table node version %d at offset %d, want 1: %w", path, v, off+4, ErrFormat)
	}
	d.skip(1)
	n := int64(d.u16())
	entry := int64(2*f.sizeOffsets + 24)
	body, err := f.readAt(off+8, n*entry, path+" symbol table node")
	if err != nil {
		return err
	}
	d = f.decoder(body, off+8)
	d.what = "symbol table entry"
	for range n {
		eoff := d.offset()
		e, err := f.symbolEntry(d)
		if err != nil {
			return err
		}
		if e.nameOff >= uint64(len(heap)) {
			return fmt.Errorf("hdf5: group %s: symbol name offset %d at offset %d is outside the %d-byte local heap: %w", path, e.nameOff, eoff, len(heap), ErrFormat)
		}
		name := heap[e.nameOff:]
		end := bytes.IndexByte(name, 0)
		if end < 0 {
			return fmt.Errorf("hdf5: group %s: symbol name at heap offset %d (offset %d) is not null-terminated: %w", path, e.nameOff, heapOff+int64(e.nameOff), ErrFormat)
		}
		l := link{addr: e.header}
		if e.soft {
			l.kind = 1
		}
		if err := add(string(name[:end]), l, eoff); err != nil {
			return err
		}
	}
	return nil
}

// parseLink decodes a link message.
func (f *File) parseLink(d *decoder, path string) (string, link, error) {
	d.what = "link message"
	off := d.off
	if v := d.u8(); v != 1 && d.err == nil {
		return "", link{}, fmt.Errorf("hdf5: group %s: link message version %d at offset %d, want 1: %w", path, v, off, ErrFormat)
	}
	flags := d.u8()
	var l link
	if flags&0x08 != 0 {
		l.kind = int(d.u8())
	}
	if flags&0x04 != 0 {
		d.skip(8) // creation order
	}
	if flags&0x10 != 0 {
		d.skip(1) // charset
	}
	n := d.uint(1 << (flags & 3))
	if d.err == nil && n > uint64(d.remaining()) {
		return "", link{}, fmt.Errorf("hdf5: group %s: link name length %d at offset %d exceeds the message: %w", path, n, off, ErrFormat)
	}
	name := string(d.bytes(int(n)))
	switch l.kind {
	case 0:
		l.addr = d.addr()
	case 1, 64:
		// Soft or external: the target is kept unresolved.
	default:
		if d.err == nil {
			return "", link{}, fmt.Errorf("hdf5: group %s: link %q at offset %d has type %d: %w", path, name, off, l.kind, ErrUnsupported)
		}
	}
	if d.err != nil {
		return "", link{}, d.err
	}
	if name == "" || strings.Contains(name, "/") {
		return "", link{}, fmt.Errorf("hdf5: group %s: invalid link name %q at offset %d: %w", path, name, off, ErrFormat)
	}
	return name, l, nil
}
