// Package nodetest finds, for tests, the Node.js packages that Capa's
// interchange checks run exported models in (scripts/node: ONNX Runtime,
// TensorFlow.js). Without Node or the packages a test is skipped, except
// under CI (the CI variable set), where it fails: there they must run.
package nodetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Install is how the packages are installed, for the skip messages.
const Install = "apt-get install nodejs npm && npm install --ignore-scripts --prefix scripts/node"

// Dir returns the scripts/node directory holding pkg in node_modules, or
// skips (fails under CI) the test when Node or pkg is missing.
func Dir(t testing.TB, pkg string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "node")
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
		missing = pkg + " is not installed in scripts/node"
	}
	if missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI is set: the interchange checks must run); install with: %s", missing, Install)
		}
		t.Skipf("%s; install with: %s", missing, Install)
	}
	return dir
}
