package graph

import (
	"fmt"
	"math"
)

// Helpers for layers' SetDefaults and Validate methods.

// setDefault sets *field to def if it holds its type's zero value.
func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// firstError returns the first non-nil error.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// positive checks that an integer field is at least 1.
func positive(field string, v int) error {
	if v < 1 {
		return fmt.Errorf("%s must be positive, got %d", field, v)
	}
	return nil
}

// positive2 checks that both entries of a pair field are at least 1.
func positive2(field string, v [2]int) error {
	if v[0] < 1 || v[1] < 1 {
		return fmt.Errorf("%s must be positive, got %v", field, v)
	}
	return nil
}

// checkPadding checks a padding field.
func checkPadding(p string) error {
	if p != "valid" && p != "same" {
		return fmt.Errorf("padding must be \"valid\" or \"same\", got %q", p)
	}
	return nil
}

// validate checks a regularizer's factors (nil is no regularizer).
func (r *Regularizer) validate(field string) error {
	if r == nil {
		return nil
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"l1", r.L1}, {"l2", r.L2}} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s: %s must be a non-negative number, got %v", field, f.name, f.v)
		}
	}
	return nil
}

// needMaps checks that a layer's input is (H, W, C) feature maps.
func needMaps(class string, in Shape) error {
	if len(in) != 3 {
		return fmt.Errorf("%s needs (height, width, channels) input, got %v", class, in)
	}
	return nil
}
