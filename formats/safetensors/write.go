package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"

	"github.com/capa-ml/capa/internal/atomicfile"
)

// Write writes tensors and metadata to w in the safetensors format.
//
// The output is deterministic: the metadata keys are sorted, and the tensors
// are stored in the order of the reference implementation, by descending
// dtype alignment (U64, I64, F64, C64, F32, ... BOOL) and then by name, so
// that every tensor starts at an offset aligned to its element size. The
// header lists the tensors in storage order and is padded with spaces to a
// multiple of 8 bytes. A nil or empty metadata map writes no "__metadata__"
// entry.
//
// Every tensor is validated before the first byte is written; an invalid one
// (unknown dtype, negative dimension, data length not matching the shape, or
// the reserved name "__metadata__") yields an error wrapping ErrTensor.
func Write(w io.Writer, tensors map[string]Tensor, metadata map[string]string) error {
	header, order, err := encodeHeader(tensors, metadata)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	if _, err := w.Write(append(n[:], header...)); err != nil {
		return fmt.Errorf("safetensors: writing header: %w", err)
	}
	for _, name := range order {
		if _, err := w.Write(tensors[name].Data); err != nil {
			return fmt.Errorf("safetensors: writing tensor %q: %w", name, err)
		}
	}
	return nil
}

// encodeHeader validates the tensors and returns the padded JSON header and
// the tensor names in storage order.
func encodeHeader(tensors map[string]Tensor, metadata map[string]string) ([]byte, []string, error) {
	order := make([]string, 0, len(tensors))
	for name, t := range tensors {
		if name == MetadataKey {
			return nil, nil, fmt.Errorf("safetensors: tensor name %q is reserved: %w", name, ErrTensor)
		}
		if err := t.validate(); err != nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		order = append(order, name)
	}
	slices.SortFunc(order, func(a, b string) int {
		ra, rb := dtypeInfo[tensors[a].DType].rank, dtypeInfo[tensors[b].DType].rank
		return cmp.Or(cmp.Compare(rb, ra), cmp.Compare(a, b))
	})

	var buf bytes.Buffer
	buf.WriteByte('{')
	if len(metadata) > 0 {
		writeString(&buf, MetadataKey)
		buf.WriteString(":{")
		for i, k := range slices.Sorted(maps.Keys(metadata)) {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(&buf, k)
			buf.WriteByte(':')
			writeString(&buf, metadata[k])
		}
		buf.WriteByte('}')
		if len(order) > 0 {
			buf.WriteByte(',')
		}
	}
	offset := 0
	for i, name := range order {
		t := tensors[name]
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(&buf, name)
		buf.WriteString(`:{"dtype":`)
		writeString(&buf, string(t.DType))
		buf.WriteString(`,"shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(strconv.Itoa(d))
		}
		end := offset + len(t.Data)
		fmt.Fprintf(&buf, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	buf.WriteByte('}')
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	return buf.Bytes(), order, nil
}

// writeString appends s to buf as a JSON string without HTML escaping,
// matching the reference serializer for ordinary names.
func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // a string always encodes; writes to a bytes.Buffer cannot fail
	buf.Truncate(buf.Len() - 1) // drop the newline Encode appends
}

// wrapWriter lets tests inject a failing writer into WriteFile.
var wrapWriter = func(w io.Writer) io.Writer { return w }

// WriteFile writes tensors and metadata to the file at path, as Write does,
// atomically (internal/atomicfile): a temporary file in the same directory,
// synced, closed, renamed over path, and the directory synced. On any error
// the temporary file is removed and an existing file at path is left
// untouched. The new file has mode 0644.
func WriteFile(path string, tensors map[string]Tensor, metadata map[string]string) error {
	// Validate before touching the file system.
	if _, _, err := encodeHeader(tensors, metadata); err != nil {
		return err
	}
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error { return Write(wrapWriter(w), tensors, metadata) })
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// TempFiles returns the temporary files that WriteFile leaves beside path
// only when it is killed mid-write (".NAME.tmp-*"), oldest first by name.
func TempFiles(path string) ([]string, error) {
	m, err := atomicfile.TempFiles(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return m, nil
}

// RemoveTempFiles removes what TempFiles finds and returns their names.
func RemoveTempFiles(path string) ([]string, error) {
	m, err := atomicfile.RemoveTempFiles(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return m, nil
}
