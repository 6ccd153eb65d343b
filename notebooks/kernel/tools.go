//go:build tools

// Package kernel pins the Jupyter kernel's module versions; it has no code.
// Requiring Capa (replaced by this checkout) puts Capa's module versions in
// the kernel's build list.
package kernel

import (
	_ "github.com/capa-ml/capa"
	_ "github.com/gopherdata/gophernotes"
)
