// Package fulltest gates Capa's full-size checks: the tests that need
// minutes, gigabytes of generated files or optional tools (PyTorch,
// Jupyter) and are skipped by a plain "go test ./...". One command runs
// them all:
//
//	go test -tags full ./...
//
// Under the tag a missing prerequisite (Fashion-MNIST, python3-torch,
// Jupyter) fails the test with how to install it instead of skipping it,
// and generated inputs are written once into the user cache
// (~/.cache/capa/full/). See testdata/README.md at the repository's root.
package fulltest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa/internal/atomicfile"
)

// Skip skips t unless the full-size checks are enabled; why says what the
// test costs ("trains on all of Fashion-MNIST, 5 minutes").
func Skip(t testing.TB, why string) {
	t.Helper()
	if !Enabled {
		t.Skipf("%s: run with go test -tags full", why)
	}
}

// Missing reports a missing prerequisite of t: under -tags full the test
// fails (the full run must not pass by skipping), otherwise it is skipped.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Enabled {
		t.Fatalf("%s (go test -tags full runs every check: install what is missing)", msg)
	}
	t.Skip(msg)
}

// Generated returns the path of a generated input of a full-size check:
// $env if set; under -tags full, name in the user cache
// (~/.cache/capa/full/NAME), written first if absent by running
// /usr/bin/python3 with args followed by the destination (a temporary
// path, renamed into place when the script succeeds); otherwise t is
// skipped.
func Generated(t testing.TB, env, name string, args ...string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	cmd := fmt.Sprintf("/usr/bin/python3 %s DEST", strings.Join(args, " "))
	if !Enabled {
		t.Skipf("set %s to a path written by %s, or run with go test -tags full", env, cmd)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("fulltest: no cache directory for %s (set %s): %v", name, env, err)
	}
	dest := filepath.Join(cache, "capa", "full", name)
	if _, err := os.Stat(dest); err == nil {
		return dest
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := fmt.Sprintf("%s.tmp%d", dest, os.Getpid())
	defer os.RemoveAll(tmp)
	t.Logf("writing %s with %s", dest, cmd)
	out, err := exec.Command("/usr/bin/python3", append(args, tmp)...).CombinedOutput()
	if err != nil {
		Missing(t, "fulltest: %s failed (%v); the generators need Debian's python3-torch, python3-torchvision, python3-h5py and python3-numpy:\n%s", cmd, err, out)
	}
	// Another package's test may have written it meanwhile: either copy
	// is complete.
	if err := atomicfile.Rename(tmp, dest); err != nil {
		if _, serr := os.Stat(dest); serr != nil {
			t.Fatalf("fulltest: %v", err)
		}
	}
	return dest
}
