package cli

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Pixels is a flag.Value holding a number of pixels, given as a count
// ("16777216") or as width×height ("4096x4096", "4096×4096"), for flags
// such as --max-pixels. It must be positive.
type Pixels int64

// PixelsVar defines a Pixels flag on fs with a default and returns it.
func PixelsVar(fs *flag.FlagSet, name string, def int64, usage string) *Pixels {
	p := Pixels(def)
	fs.Var(&p, name, usage)
	return &p
}

// String prints the value as a count, with its w×h form when square.
func (p *Pixels) String() string {
	if p == nil {
		return "0"
	}
	n := int64(*p)
	for s := int64(math.Sqrt(float64(n))) - 1; s <= int64(math.Sqrt(float64(n)))+1; s++ {
		if s >= 64 && s*s == n {
			return fmt.Sprintf("%dx%d", s, s)
		}
	}
	return strconv.FormatInt(n, 10)
}

// Set parses a count or width×height.
func (p *Pixels) Set(s string) error {
	t := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "×", "x")
	var n int64
	if w, h, ok := strings.Cut(t, "x"); ok {
		a, err1 := strconv.ParseInt(w, 10, 32)
		b, err2 := strconv.ParseInt(h, 10, 32)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("want a pixel count or WIDTHxHEIGHT, such as 8192x8192")
		}
		n = a * b
		if a <= 0 || b <= 0 {
			n = 0
		}
	} else {
		v, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return fmt.Errorf("want a pixel count or WIDTHxHEIGHT, such as 8192x8192")
		}
		n = v
	}
	if n <= 0 {
		return fmt.Errorf("want a positive number of pixels")
	}
	*p = Pixels(n)
	return nil
}
