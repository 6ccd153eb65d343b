package safetensors

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTempFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m[1].safetensors")
	stale := filepath.Join(dir, ".m[1].safetensors.tmp-42")
	other := filepath.Join(dir, ".n.safetensors.tmp-7")
	for _, f := range []string{stale, other} {
		if err := os.WriteFile(f, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := TempFiles(path)
	if err != nil || len(got) != 1 || got[0] != stale {
		t.Fatalf("TempFiles: %v, %v; want [%s]", got, err, stale)
	}
	if removed, err := RemoveTempFiles(path); err != nil || len(removed) != 1 {
		t.Fatalf("RemoveTempFiles: %v, %v", removed, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("%s still exists", stale)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another file's temp file was removed: %v", err)
	}
}
