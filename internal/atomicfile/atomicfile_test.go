package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.txt")
	if err := WriteBytes(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteBytes(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "two" {
		t.Fatalf("read %q, %v", b, err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	if got := entries(t, dir); len(got) != 1 {
		t.Errorf("directory holds %v, want only a.txt", got)
	}
}

// TestWriteErrors checks that every failure leaves the old file and no
// temporary file.
func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.txt")
	if err := WriteBytes(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := Write(p, 0o644, func(w io.Writer) error { w.Write([]byte("partial")); return boom }); !errors.Is(err, boom) {
		t.Errorf("failing writer: %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the writer's panic was swallowed")
			}
		}()
		Write(p, 0o644, func(io.Writer) error { panic("writer panics") })
	}()
	// The target is a directory: the rename fails.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteBytes(sub, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), sub) {
		t.Errorf("target is a non-empty directory: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("the old file became %q", b)
	}
	if got := entries(t, dir); len(got) != 2 {
		t.Errorf("directory holds %v, want a.txt and sub", got)
	}
	// A directory that does not exist.
	if err := WriteBytes(filepath.Join(dir, "no", "a.txt"), nil, 0o644); err == nil {
		t.Error("missing directory: no error")
	}
	if os.Getuid() != 0 { // root writes into read-only directories
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		if err := WriteBytes(filepath.Join(ro, "a"), nil, 0o644); err == nil {
			t.Error("read-only directory: no error")
		}
	}
}

func TestTempFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m[1].capa")
	for _, n := range []string{".m[1].capa.tmp-123", ".m[1].capa.tmp-456", ".other.tmp-1", "m[1].capa"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := RemoveTempFiles(p)
	if err != nil || len(got) != 2 || !strings.HasSuffix(got[0], ".m[1].capa.tmp-123") {
		t.Fatalf("RemoveTempFiles: %v, %v", got, err)
	}
	if left := entries(t, dir); len(left) != 2 {
		t.Errorf("left %v, want .other.tmp-1 and m[1].capa", left)
	}
}
