//go:build full

package dataset

// fullTests is set by "go test -tags full": the full-size checks run
// (see testdata/README.md at the repository's root).
const fullTests = true
