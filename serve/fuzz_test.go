package serve

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/capa-ml/capa/graph"
)

// FuzzDecodeRequest feeds arbitrary bodies to the request decoders of both
// protocols (and the tensor reader under them), for a model taking
// (2, 3, 1): each must decode samples of that shape or refuse, never
// panic, and never return more samples than the limit.
func FuzzDecodeRequest(f *testing.F) {
	m, err := graph.SequentialSeed(1, graph.Input(2, 3, 1), &graph.Flatten{}, &graph.Dense{Units: 2})
	if err != nil {
		f.Fatal(err)
	}
	v := &version{number: 1, model: m, in: m.InputShape(), out: m.OutputShape()}
	for _, s := range []string{
		`{"instances": [[[[1], [2], [3]], [[4], [5], [6]]]]}`,
		`{"instances": [{"input_layer": [[[1], [2], [3]], [[4], [5], [6]]]}]}`,
		`{"inputs": {"input_layer": [[[[0.5], [1e-3], [-2]], [[4], [5], [6]]]]}, "signature_name": "serving_default"}`,
		`{"inputs": [[[[1], [2], [3]], [[4], [5], [6]]], [[[1], [2], [3]], [[4], [5], [6]]]]}`,
		`{"id": "a", "inputs": [{"name": "input", "shape": [1, 2, 3, 1], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]}]}`,
		`{"inputs": [{"name": "input", "shape": [1, 2, 3, 1], "datatype": "UINT8", "data": [[[[1], [2], [255]], [[4], [5], [0]]]]}], "outputs": [{"name": "output"}]}`,
		`[[[]]]`, `1e999`, `{"instances": [[[[1]]], [[[1], [2]]]]}`,
	} {
		f.Add([]byte(s))
	}
	const maxInstances = 4
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(x []float32, n int, err error) {
			if err != nil {
				return
			}
			if n < 1 || n > maxInstances || len(x) != n*v.in.Size() {
				t.Fatalf("decoded %d values as %d samples of %v (limit %d)", len(x), n, v.in, maxInstances)
			}
		}
		x, n, _, err := decodeTFPredict(b, v, maxInstances)
		if n > 0 || len(x) > 0 { // zero instances are refused by the handler
			check(x, n, err)
		}
		x, n, _, err = decodeV2Infer(b, v, maxInstances)
		check(x, n, err)
		if x, shape, err := parseTensor(b, 64, 8); err == nil {
			size := 1
			for _, d := range shape {
				size *= d
			}
			if size != len(x) || len(x) > 64 {
				t.Fatalf("parseTensor: %d values for shape %v", len(x), shape)
			}
		}
	})
}

// FuzzParseNumber checks parseNumber's fast path against strconv and JSON's
// grammar (encoding/json's Valid) on any bytes.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "0.5", "0.123456", "1e-05", "1.5E+3", "16777215", "16777217", "1e10", "1e11", "3.4e38", "1e39", "01", ".5", "+1", "1.", "0x1p3", "1_0", "-", "1e", "12345678901234567890123"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkParseNumber(t, b)
	})
}

func checkParseNumber(t *testing.T, b []byte) {
	t.Helper()
	got, ok := parseNumber(b)
	want, err := strconv.ParseFloat(string(b), 32)
	// strconv takes no spaces, strings or literals; JSON takes no hex,
	// underscores, "+1", ".5", "1.", "Inf" or "NaN": both must.
	wantOK := err == nil && !math.IsInf(want, 0) && !math.IsNaN(want) && json.Valid(b)
	if ok != wantOK {
		t.Fatalf("parseNumber(%q) ok = %v, want %v", b, ok, wantOK)
	}
	if ok && math.Float32bits(got) != math.Float32bits(float32(want)) {
		t.Fatalf("parseNumber(%q) = %g (%#x), strconv: %g (%#x)", b, got, math.Float32bits(got), float32(want), math.Float32bits(float32(want)))
	}
}

// TestParseNumber compares the fast path with strconv on the decimals
// clients write: random float32 values in every format strconv writes,
// and every short decimal near the fast path's limits.
func TestParseNumber(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200000; i++ {
		v := float32(math.Ldexp(rng.Float64(), rng.IntN(80)-40))
		if rng.IntN(2) == 0 {
			v = -v
		}
		for _, s := range []string{
			strconv.FormatFloat(float64(v), 'g', 1+rng.IntN(9), 32),
			strconv.FormatFloat(float64(v), 'e', rng.IntN(9), 32),
			strconv.FormatFloat(float64(v), 'f', rng.IntN(12), 32),
			strconv.FormatFloat(float64(v), 'g', -1, 32),
			strconv.Itoa(1<<24-5+rng.IntN(10)) + "e" + strconv.Itoa(rng.IntN(25)-12),
		} {
			checkParseNumber(t, []byte(s))
		}
	}
}
