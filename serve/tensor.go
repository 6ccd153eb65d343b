package serve

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unsafe"
)

// MaxTensorRank is the deepest nesting of JSON arrays a request's tensor may
// have.
const MaxTensorRank = 8

// parseTensor reads a JSON number or nested arrays of numbers (a tensor in
// TensorFlow Serving's and KServe's JSON, row-major) into float32 values
// and their shape, without building a generic JSON tree: a value takes 4
// bytes however it is written. The arrays must be rectangular, the values
// finite float32 numbers; max bounds the number of values, and room for
// want of them (or max, if fewer) is made at once. The error names the
// offset and the problem.
func parseTensor(b []byte, max, want int) ([]float32, []int, error) {
	p := tensorParser{b: b, max: max, data: make([]float32, 0, min(max, want))}
	p.space()
	if err := p.value(0); err != nil {
		return nil, nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, nil, fmt.Errorf("unexpected %q after the tensor at offset %d", p.b[p.i], p.i)
	}
	shape := []int{}
	if p.seen {
		shape = append(shape, p.lens[:p.rank]...)
	}
	return p.data, shape, nil
}

type tensorParser struct {
	b    []byte
	i    int
	max  int
	data []float32
	lens [MaxTensorRank]int  // the length of the arrays at each depth
	set  [MaxTensorRank]bool // an array at that depth has been read
	rank int                 // the depth of the numbers, once seen
	seen bool                // a number (or an empty array) was read: rank is known
}

func (p *tensorParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value reads an array or a number at depth d.
func (p *tensorParser) value(d int) error {
	if p.i >= len(p.b) {
		return fmt.Errorf("the tensor ends early at offset %d", p.i)
	}
	if p.b[p.i] != '[' {
		if p.seen && d != p.rank {
			return fmt.Errorf("a number at depth %d at offset %d, the others at depth %d: the arrays are not rectangular", d, p.i, p.rank)
		}
		p.rank, p.seen = d, true
		return p.number()
	}
	if d >= MaxTensorRank {
		return fmt.Errorf("arrays nested deeper than %d at offset %d", MaxTensorRank, p.i)
	}
	if p.seen && d >= p.rank {
		return fmt.Errorf("an array at depth %d at offset %d, where the numbers are: the arrays are not rectangular", d, p.i)
	}
	start := p.i
	p.i++
	p.space()
	n := 0
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
	} else {
		for {
			if err := p.value(d + 1); err != nil {
				return err
			}
			n++
			p.space()
			if p.i >= len(p.b) {
				return fmt.Errorf("the tensor ends early at offset %d", p.i)
			}
			if p.b[p.i] == ']' {
				p.i++
				break
			}
			if p.b[p.i] != ',' {
				return fmt.Errorf("unexpected %q at offset %d, want ',' or ']'", p.b[p.i], p.i)
			}
			p.i++
			p.space()
		}
	}
	switch {
	case !p.set[d]:
		p.lens[d], p.set[d] = n, true
	case p.lens[d] != n:
		return fmt.Errorf("an array of %d values at offset %d, its neighbours have %d: the arrays are not rectangular", n, start, p.lens[d])
	}
	if n == 0 && !p.seen {
		// An empty array: its depth holds the numbers, if any come.
		p.rank, p.seen = d+1, true
	}
	return nil
}

func (p *tensorParser) number() error {
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			p.i++
			continue
		}
		break
	}
	if start == p.i {
		if p.i < len(p.b) {
			return fmt.Errorf("unexpected %q at offset %d, want a number", p.b[p.i], p.i)
		}
		return fmt.Errorf("the tensor ends early at offset %d", p.i)
	}
	if len(p.data) >= p.max {
		return fmt.Errorf("more than %d values", p.max)
	}
	v, ok := parseNumber(p.b[start:p.i])
	if !ok {
		return fmt.Errorf("%q at offset %d is not a finite float32 number", p.b[start:p.i], start)
	}
	p.data = append(p.data, v)
	return nil
}

// pow10f32 holds the powers of ten that float32 represents exactly.
var pow10f32 = [...]float32{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

// parseNumber reads b, which must be a number in JSON's grammar (strconv
// also takes "+1", ".5", "1.", hex and underscores), as the nearest finite
// float32, exactly as strconv.ParseFloat(b, 32) rounds it. The numbers
// clients send are mostly short decimals (0.5, 0.123456, 1e-05): when the
// digits make an integer m below 2^24 and the decimal exponent e is at most
// 10 either way, m and 10^|e| are exact float32 values and one IEEE
// multiplication or division rounds m×10^e correctly (Clinger's fast path),
// with no call to strconv. Everything else goes to strconv.
func parseNumber(b []byte) (float32, bool) {
	i, neg := 0, false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	var m uint64
	nd := 0 // significant digits in m (leading zeros not counted)
	exp := 0
	digits := func(frac bool) int {
		s := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if nd < 19 {
				m = m*10 + uint64(b[i]-'0')
				if m != 0 {
					nd++
				}
				if frac {
					exp--
				}
			} else {
				nd = 20 // too many digits for the fast path
			}
		}
		return i - s
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits(false) == 0:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits(true) == 0 {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		s, e := i, 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if e < 10000 {
				e = e*10 + int(b[i]-'0')
			}
		}
		if i == s {
			return 0, false
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != len(b) {
		return 0, false
	}
	if nd <= 19 && m < 1<<24 && exp >= -10 && exp <= 10 {
		v := float32(m)
		if exp < 0 {
			v /= pow10f32[-exp]
		} else {
			v *= pow10f32[exp]
		}
		if neg {
			v = -v
		}
		return v, true
	}
	// unsafe.String: no copy of the digits (ParseFloat keeps the string
	// only in its error, which is dropped).
	v, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 32)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return float32(v), true
}

// scanObject splits a JSON object into its members' raw values without
// decoding them, so that a request's tensor is read once, by parseTensor,
// rather than validated by encoding/json and then parsed again. The
// members Capa does not read in full are checked with json.Valid by the
// caller (validValues). Keys must be plain strings without escapes.
func scanObject(b []byte) (map[string][]byte, error) {
	p := tensorParser{b: b}
	p.space()
	if p.i >= len(b) || b[p.i] != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	p.i++
	out := map[string][]byte{}
	p.space()
	if p.i < len(b) && b[p.i] == '}' {
		p.i++
	} else {
		for {
			p.space()
			key, err := p.plainString()
			if err != nil {
				return nil, err
			}
			p.space()
			if p.i >= len(b) || b[p.i] != ':' {
				return nil, fmt.Errorf("want ':' after the key %q at offset %d", key, p.i)
			}
			p.i++
			p.space()
			start := p.i
			if err := p.skipValue(0); err != nil {
				return nil, err
			}
			if _, dup := out[key]; dup {
				return nil, fmt.Errorf("the key %q appears twice", key)
			}
			out[key] = b[start:p.i]
			p.space()
			if p.i >= len(b) {
				return nil, fmt.Errorf("the object ends early at offset %d", p.i)
			}
			if b[p.i] == '}' {
				p.i++
				break
			}
			if b[p.i] != ',' {
				return nil, fmt.Errorf("unexpected %q at offset %d, want ',' or '}'", b[p.i], p.i)
			}
			p.i++
		}
	}
	p.space()
	if p.i != len(b) {
		return nil, fmt.Errorf("unexpected %q after the object at offset %d", b[p.i], p.i)
	}
	return out, nil
}

// plainString reads a JSON string without escapes.
func (p *tensorParser) plainString() (string, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", fmt.Errorf("want a key (a string) at offset %d", p.i)
	}
	start := p.i + 1
	for i := start; i < len(p.b); i++ {
		switch c := p.b[i]; {
		case c == '"':
			p.i = i + 1
			return string(p.b[start:i]), nil
		case c == '\\' || c < 0x20:
			return "", fmt.Errorf("the key at offset %d has an escape or a control character", start-1)
		}
	}
	return "", fmt.Errorf("the string at offset %d does not end", start-1)
}

// skipValue moves past one JSON value: strings with their escapes,
// arrays and objects by their brackets (at most MaxTensorRank*4 deep);
// the bytes skipped are validated later by whoever reads them.
func (p *tensorParser) skipValue(depth int) error {
	if depth > 4*MaxTensorRank {
		return fmt.Errorf("values nested deeper than %d at offset %d", 4*MaxTensorRank, p.i)
	}
	if p.i >= len(p.b) {
		return fmt.Errorf("the value ends early at offset %d", p.i)
	}
	switch c := p.b[p.i]; c {
	case '"':
		for i := p.i + 1; i < len(p.b); i++ {
			switch p.b[i] {
			case '\\':
				i++
			case '"':
				p.i = i + 1
				return nil
			}
		}
		return fmt.Errorf("the string at offset %d does not end", p.i)
	case '[', '{':
		// One pass over the brackets (a tensor's numbers are most of a
		// request, and its reader checks them): a stack of the closing
		// brackets expected, strings skipped with their escapes.
		var stack [4 * MaxTensorRank]byte
		n := 0
		for i := p.i; i < len(p.b); i++ {
			switch c := p.b[i]; c {
			case '[', '{':
				if depth+n >= 4*MaxTensorRank {
					return fmt.Errorf("values nested deeper than %d at offset %d", 4*MaxTensorRank, i)
				}
				stack[n] = c + 2 // ']' is '[' + 2, '}' is '{' + 2
				n++
			case ']', '}':
				if n == 0 || stack[n-1] != c {
					return fmt.Errorf("unexpected %q at offset %d", c, i)
				}
				n--
				if n == 0 {
					p.i = i + 1
					return nil
				}
			case '"':
				for i++; i < len(p.b) && p.b[i] != '"'; i++ {
					if p.b[i] == '\\' {
						i++
					}
				}
				if i >= len(p.b) {
					return fmt.Errorf("a string does not end")
				}
			}
		}
		return fmt.Errorf("the value ends early at offset %d", len(p.b))
	default:
		start := p.i
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case ',', ']', '}', ':', ' ', '\t', '\n', '\r', '"', '[', '{':
				if p.i == start {
					return fmt.Errorf("unexpected %q at offset %d", p.b[p.i], p.i)
				}
				return nil
			}
			p.i++
		}
		return nil
	}
}

// splitArray returns the raw elements of a JSON array.
func splitArray(b []byte) ([][]byte, error) {
	p := tensorParser{b: b}
	p.space()
	if p.i >= len(b) || b[p.i] != '[' {
		return nil, fmt.Errorf("not a JSON array")
	}
	p.i++
	var out [][]byte
	p.space()
	if p.i < len(b) && b[p.i] == ']' {
		p.i++
	} else {
		for {
			p.space()
			start := p.i
			if err := p.skipValue(0); err != nil {
				return nil, err
			}
			out = append(out, b[start:p.i])
			p.space()
			if p.i >= len(b) {
				return nil, fmt.Errorf("the array ends early at offset %d", p.i)
			}
			if b[p.i] == ']' {
				p.i++
				break
			}
			if b[p.i] != ',' {
				return nil, fmt.Errorf("unexpected %q at offset %d, want ',' or ']'", b[p.i], p.i)
			}
			p.i++
		}
	}
	p.space()
	if p.i != len(b) {
		return nil, fmt.Errorf("unexpected %q after the array at offset %d", b[p.i], p.i)
	}
	return out, nil
}

// decodeMembers reads the members of a JSON object: those in into with
// json.Unmarshal (small values), those in raw kept for the caller's own
// parser; any other member must be valid JSON.
func decodeMembers(b []byte, into map[string]any, raw map[string]*[]byte) error {
	members, err := scanObject(b)
	if err != nil {
		return err
	}
	for k, v := range members {
		switch {
		case raw[k] != nil:
			if string(v) != "null" {
				*raw[k] = v
			}
		case into[k] != nil:
			if err := json.Unmarshal(v, into[k]); err != nil {
				return fmt.Errorf("%q: %v", k, err)
			}
		default:
			if !json.Valid(v) {
				return fmt.Errorf("%q is not valid JSON", k)
			}
		}
	}
	return nil
}
