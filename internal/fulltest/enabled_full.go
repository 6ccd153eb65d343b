//go:build full

package fulltest

// Enabled is true under "go test -tags full": the full-size checks run.
const Enabled = true
