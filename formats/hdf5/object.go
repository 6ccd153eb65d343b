package hdf5

import "fmt"

// Header message types used by this package.
const (
	msgNIL          = 0x00
	msgDataspace    = 0x01
	msgLinkInfo     = 0x02
	msgDatatype     = 0x03
	msgFill         = 0x05
	msgLink         = 0x06
	msgLayout       = 0x08
	msgGroupInfo    = 0x0A
	msgFilters      = 0x0B
	msgAttribute    = 0x0C
	msgContinuation = 0x10
	msgSymbolTable  = 0x11
	msgAttrInfo     = 0x15
)

// message is one header message: its type, flags and body.
type message struct {
	typ   int
	flags uint8
	raw   *decoder // never advanced: use dec
}

// dec returns a fresh decoder of the message body.
func (m message) dec() *decoder {
	c := *m.raw
	return &c
}

// shared reports whether the message body is a reference to a shared
// message (flag bit 1), which this package does not follow.
func (m message) shared() bool { return m.flags&0x02 != 0 }

// readObjectHeader reads all messages of the object header at addr,
// following continuation messages.
func (f *File) readObjectHeader(addr uint64, what string) ([]message, error) {
	off, err := f.pos(addr, 16, what+" object header")
	if err != nil {
		return nil, err
	}
	b, err := f.readAt(off, 16, what+" object header")
	if err != nil {
		return nil, err
	}
	var msgs []message
	seen := map[uint64]bool{addr: true}
	v2 := string(b[:4]) == "OHDR"
	var creationOrder bool
	switch {
	case v2:
		if b[4] != 2 {
			return nil, fmt.Errorf("hdf5: %s object header version %d at offset %d, want 2: %w", what, b[4], off+4, ErrFormat)
		}
		flags := b[5]
		creationOrder = flags&0x04 != 0
		p := 6
		if flags&0x20 != 0 {
			p += 16
		}
		if flags&0x10 != 0 {
			p += 4
		}
		hb, err := f.readAt(off, int64(p+8), what+" object header")
		if err != nil {
			return nil, err
		}
		d := f.decoder(hb, off)
		d.skip(p)
		size := d.uint(1 << (flags & 3))
		if d.err != nil {
			return nil, d.err
		}
		start := int64(p + 1<<(flags&3))
		if size > uint64(f.size) {
			return nil, fmt.Errorf("hdf5: %s object header at offset %d: chunk size %d exceeds the file size %d: %w", what, off, size, f.size, ErrFormat)
		}
		body, err := f.readAt(off+start, int64(size)+4, what+" object header")
		if err != nil {
			return nil, err
		}
		if msgs, err = f.parseMessages(msgs, body[:size], off+start, true, creationOrder); err != nil {
			return nil, err
		}
	case b[0] == 1:
		d := f.decoder(b, off)
		d.skip(2)
		n := d.u16()
		d.skip(4)
		size := d.u32()
		if int(n) > maxMessages {
			return nil, fmt.Errorf("hdf5: %s object header at offset %d declares %d messages: %w", what, off, n, ErrFormat)
		}
		body, err := f.readAt(off+16, int64(size), what+" object header")
		if err != nil {
			return nil, err
		}
		if msgs, err = f.parseMessages(msgs, body, off+16, false, false); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("hdf5: %s object header at offset %d: version %d, want 1 (or signature OHDR): %w", what, off, b[0], ErrFormat)
	}
	for i := 0; i < len(msgs); i++ {
		m := msgs[i]
		if m.typ != msgContinuation {
			continue
		}
		d := m.dec()
		a, n := d.addr(), d.length()
		if d.err != nil {
			return nil, d.err
		}
		if seen[a] {
			return nil, fmt.Errorf("hdf5: %s object header: continuation at offset %d points back to address %d: %w", what, m.raw.off, a, ErrFormat)
		}
		seen[a] = true
		if len(seen) > maxMessages {
			return nil, fmt.Errorf("hdf5: %s object header has more than %d continuation blocks: %w", what, maxMessages, ErrFormat)
		}
		coff, err := f.pos(a, int64(min(n, uint64(f.size)+1)), what+" header continuation")
		if err != nil {
			return nil, err
		}
		body, err := f.readAt(coff, int64(n), what+" header continuation")
		if err != nil {
			return nil, err
		}
		if v2 {
			if len(body) < 8 || string(body[:4]) != "OCHK" {
				return nil, fmt.Errorf("hdf5: %s header continuation at offset %d: missing OCHK signature: %w", what, coff, ErrFormat)
			}
			body = body[4 : len(body)-4]
			coff += 4
		}
		if msgs, err = f.parseMessages(msgs, body, coff, v2, creationOrder); err != nil {
			return nil, err
		}
		if len(msgs) > maxMessages {
			return nil, fmt.Errorf("hdf5: %s object header has more than %d messages: %w", what, maxMessages, ErrFormat)
		}
	}
	return msgs, nil
}

// parseMessages appends the messages packed in body (at file offset off).
func (f *File) parseMessages(msgs []message, body []byte, off int64, v2, creationOrder bool) ([]message, error) {
	d := f.decoder(body, off)
	d.what = "object header message"
	hdr := 8
	if v2 {
		hdr = 4
		if creationOrder {
			hdr = 6
		}
	}
	for d.remaining() >= hdr {
		var typ, size int
		var flags uint8
		if v2 {
			typ = int(d.u8())
			size = int(d.u16())
			flags = d.u8()
			if creationOrder {
				d.skip(2)
			}
		} else {
			typ = int(d.u16())
			size = int(d.u16())
			flags = d.u8()
			d.skip(3)
		}
		start := d.offset()
		body := d.sub(size)
		if d.err != nil {
			return nil, fmt.Errorf("hdf5: message type 0x%02X at offset %d: size %d exceeds its header block: %w", typ, start, size, ErrFormat)
		}
		if typ != msgNIL {
			msgs = append(msgs, message{typ: typ, flags: flags, raw: body})
		}
	}
	return msgs, nil
}
