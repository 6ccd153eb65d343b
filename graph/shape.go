package graph

import (
	"fmt"
	"strings"
)

// Shape is the shape of one sample, channels-last and without the batch
// dimension: (H, W, C) for feature maps, (D) for vectors.
type Shape []int

// Size is the number of elements of one sample.
func (s Shape) Size() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// String prints the shape in Keras notation with the batch dimension:
// (None, 24, 24, 32).
func (s Shape) String() string {
	parts := []string{"None"}
	for _, d := range s {
		parts = append(parts, fmt.Sprint(d))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Clone returns a copy of s.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// Equal reports whether two shapes are the same.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// WithBatch returns the full tensor shape (batch, s...).
func (s Shape) WithBatch(batch int) []int { return append([]int{batch}, s...) }
