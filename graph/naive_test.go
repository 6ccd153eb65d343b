package graph

import (
	"math"
	"strings"
	"testing"

	"github.com/capa-ml/capa/internal/naiveref"
)

// The naive references and assertions of the layer tests: a copy of the
// part of internal/engine's naive_test.go that the layer tests use (test
// files are not shared across packages).

var (
	naiveConv2D = naiveref.Conv2D
	naivePool2D = naiveref.Pool2D
)

func kopAssertNear(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// kopWantErr fails unless err is non-nil and mentions every fragment.
func kopWantErr(t *testing.T, what string, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Fatalf("%s: error %q does not mention %q", what, err, f)
		}
	}
}
