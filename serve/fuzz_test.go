package serve

import (
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
		if x, shape, err := parseTensor(b, 64); err == nil {
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
