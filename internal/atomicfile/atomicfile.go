// Package atomicfile writes files atomically: the bytes go to a temporary
// file beside the target (".NAME.tmp-*"), which is synced, closed, renamed
// over the target and followed by a sync of the directory, so that a crash
// or a kill leaves either the old file or the new one, never a partial one.
// On every error path (a failing writer, a full disk, a failed rename, a
// panic in the writer) the temporary file is removed and the target is
// left untouched. Only a process killed mid-write leaves a temporary file;
// TempFiles and RemoveTempFiles find and remove those.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write creates or replaces the file at path with what write writes, with
// permissions perm, atomically. write receives a buffered writer.
func Write(path string, perm os.FileMode, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close() // may already be closed; the error is irrelevant then
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := Rename(tmp, path); err != nil {
		return err
	}
	done = true
	return nil
}

// WriteBytes is Write of b.
func WriteBytes(path string, b []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// Rename renames the complete file tmp over path and syncs path's
// directory, so that the rename survives a crash. tmp must be in the same
// directory (a rename across file systems is not atomic).
func Rename(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// tempPrefix is the name prefix of path's temporary files.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// TempFiles returns the temporary files that Write leaves beside path only
// when it is killed mid-write (".NAME.tmp-*"), sorted by name.
func TempFiles(path string) ([]string, error) {
	pattern := filepath.Join(filepath.Dir(path), globEscape(tempPrefix(path))+"*")
	m, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("temp files of %s: %w", path, err)
	}
	return m, nil
}

// RemoveTempFiles removes what TempFiles finds and returns their names.
func RemoveTempFiles(path string) ([]string, error) {
	m, err := TempFiles(path)
	if err != nil {
		return nil, err
	}
	for _, f := range m {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("removing stale temp file: %w", err)
		}
	}
	return m, nil
}

// globEscape quotes the glob metacharacters of a file name.
func globEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}
