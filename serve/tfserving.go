package serve

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/graph"
)

// tfServing serves /v1/models/...: TensorFlow Serving's REST API and the
// image endpoint.
func (s *Server) tfServing(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rest := strings.TrimPrefix(r.URL.Path, "/v1/models/")
	verb := ""
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		rest, verb = rest[:i], rest[i+1:]
	}
	meta := false
	if m, ok := strings.CutSuffix(rest, "/metadata"); ok && verb == "" {
		rest, meta = m, true
	}
	parts := strings.Split(rest, "/")
	name, ver := parts[0], ""
	switch {
	case len(parts) == 3 && parts[1] == "versions":
		ver = parts[2]
	case len(parts) != 1 || name == "":
		s.answer(w, r, "", "tfserving", start, nil, &apiError{http.StatusNotFound, fmt.Sprintf("no endpoint %s: see /v1/models/{name}[/versions/{v}][:predict|:classify|/metadata]", r.URL.Path)})
		return
	}
	sv, v, err := s.lookup(name, ver)
	if err != nil {
		s.answer(w, r, "", "tfserving", start, nil, err)
		return
	}
	want := http.MethodPost
	if verb == "" {
		want = http.MethodGet
	}
	if r.Method != want {
		w.Header().Set("Allow", want)
		s.answer(w, r, name, "tfserving", start, nil, &apiError{http.StatusMethodNotAllowed, fmt.Sprintf("%s takes %s, not %s", r.URL.Path, want, r.Method)})
		return
	}
	switch {
	case verb == "predict":
		var row bool
		res, err := s.run(w, r, sv, v, func(b []byte, v *version) ([]float32, int, error) {
			x, n, isRow, err := decodeTFPredict(b, v, s.opts.MaxInstances)
			row = isRow
			return x, n, err
		})
		if err != nil {
			s.answer(w, r, name, "tfserving", start, nil, err)
			return
		}
		n := len(res.y) / res.v.out.Size()
		key := `{"outputs":`
		if row {
			key = `{"predictions":`
		}
		b := appendFloats([]byte(key), res.y, append([]int{n}, res.v.out...))
		s.answer(w, r, name, "tfserving", start, append(b, '}'), nil)
	case verb == "classify":
		s.classify(w, r, sv, v, start)
	case verb != "":
		s.answer(w, r, name, "tfserving", start, nil, &apiError{http.StatusNotFound, fmt.Sprintf("no method %q: the methods are predict and classify", verb)})
	case meta:
		s.answer(w, r, name, "tfserving", start, tfMetadata(name, v), nil)
	default:
		s.answer(w, r, name, "tfserving", start, map[string]any{"model_version_status": []any{map[string]any{
			"version": strconv.FormatInt(v.number, 10), "state": "AVAILABLE",
			"status": map[string]string{"error_code": "OK", "error_message": ""},
		}}}, nil)
	}
}

// inputName is the name under which the model's input is known: its input
// layer's, Keras's "input_layer" for a Sequential model.
func inputName(v *version) string {
	nodes, inputs, _ := v.model.Nodes()
	if len(inputs) == 1 {
		if n := graph.NameOf(nodes[inputs[0]].Layer); n != "" {
			return n
		}
	}
	return "input_layer"
}

func tfShape(s graph.Shape) map[string]any {
	dims := []map[string]string{{"size": "-1", "name": ""}}
	for _, d := range s {
		dims = append(dims, map[string]string{"size": strconv.Itoa(d), "name": ""})
	}
	return map[string]any{"dim": dims, "unknown_rank": false}
}

// tfMetadata is TensorFlow Serving's GetModelMetadata answer: the
// serving_default signature.
func tfMetadata(name string, v *version) map[string]any {
	in := inputName(v)
	sig := map[string]any{
		"inputs":      map[string]any{in: map[string]any{"dtype": "DT_FLOAT", "tensor_shape": tfShape(v.in), "name": in}},
		"outputs":     map[string]any{"output": map[string]any{"dtype": "DT_FLOAT", "tensor_shape": tfShape(v.out), "name": "output"}},
		"method_name": "tensorflow/serving/predict",
	}
	return map[string]any{
		"model_spec": map[string]any{"name": name, "signature_name": "", "version": strconv.FormatInt(v.number, 10)},
		"metadata":   map[string]any{"signature_def": map[string]any{"signature_def": map[string]any{"serving_default": sig}}},
	}
}

// decodeTFPredict reads a TensorFlow Serving predict request: the row
// format {"instances": [instance, ...]} (each instance the input's nested
// lists, or {"<input name>": lists}) or the columnar {"inputs": lists with
// the batch first} (or {"inputs": {"<input name>": lists}}). It returns the
// samples, their number and whether the request was in the row format.
func decodeTFPredict(b []byte, v *version, maxInstances int) ([]float32, int, bool, error) {
	var req struct {
		Signature         string
		Instances, Inputs []byte
	}
	if err := decodeMembers(b, map[string]any{"signature_name": &req.Signature},
		map[string]*[]byte{"instances": &req.Instances, "inputs": &req.Inputs}); err != nil {
		return nil, 0, false, badRequest("the request is not JSON of TensorFlow Serving's predict API ({\"instances\": [...]} or {\"inputs\": ...}): %v", err)
	}
	if req.Signature != "" && req.Signature != "serving_default" {
		return nil, 0, false, badRequest("signature %q: the model has one, serving_default", req.Signature)
	}
	has := func(r []byte) bool { return len(r) > 0 }
	switch {
	case has(req.Instances) && has(req.Inputs):
		return nil, 0, false, badRequest(`the request has both "instances" and "inputs": give one`)
	case has(req.Instances):
		x, n, err := decodeInstances(req.Instances, v, maxInstances)
		return x, n, true, err
	case has(req.Inputs):
		raw, err := namedInput(req.Inputs, v, "inputs")
		if err != nil {
			return nil, 0, false, err
		}
		x, n, err := decodeBatch(raw, v, maxInstances, "inputs")
		return x, n, false, err
	}
	return nil, 0, false, badRequest(`the request has neither "instances" nor "inputs"`)
}

// namedInput returns raw itself, or the tensor of {"<input name>": tensor}.
func namedInput(raw []byte, v *version, what string) ([]byte, error) {
	t := bytes.TrimLeft(raw, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return raw, nil
	}
	named, err := scanObject(t)
	if err != nil {
		return nil, badRequest("%s: %v", what, err)
	}
	if len(named) != 1 {
		keys := make([]string, 0, len(named))
		for k := range named {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, badRequest("%s names %d inputs %v; the model has one, %q", what, len(named), keys, inputName(v))
	}
	for _, r := range named {
		return r, nil
	}
	return nil, nil
}

// decodeBatch reads a tensor whose first dimension is the batch and the
// rest the model's input shape.
func decodeBatch(raw []byte, v *version, maxInstances int, what string) ([]float32, int, error) {
	x, shape, err := parseTensor(raw, maxInstances*v.in.Size(), v.in.Size())
	if err != nil {
		return nil, 0, badRequest("%s: %v", what, err)
	}
	if len(shape) != len(v.in)+1 || !graph.Shape(shape[1:]).Equal(v.in) {
		return nil, 0, badRequest("%s has shape %v; the model takes (batch, %s)", what, shape, dims(v.in))
	}
	if shape[0] > maxInstances {
		return nil, 0, badRequest("%s holds %d instances; the limit is %d", what, shape[0], maxInstances)
	}
	return x, shape[0], nil
}

// dims writes a shape as "6, 6, 1".
func dims(s graph.Shape) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, ", ")
}

// decodeInstances reads the row format's list of instances.
func decodeInstances(raw []byte, v *version, maxInstances int) ([]float32, int, error) {
	t := bytes.TrimLeft(raw, " \t\r\n")
	if len(t) > 0 && t[0] == '[' {
		inner := bytes.TrimLeft(t[1:], " \t\r\n")
		if len(inner) > 0 && inner[0] == '{' {
			objs, err := splitArray(t)
			if err != nil {
				return nil, 0, badRequest("instances: %v", err)
			}
			if len(objs) > maxInstances {
				return nil, 0, badRequest("instances holds %d instances; the limit is %d", len(objs), maxInstances)
			}
			var x []float32
			for i, o := range objs {
				r, err := namedInput(o, v, fmt.Sprintf("instance %d", i))
				if err != nil {
					return nil, 0, err
				}
				xi, shape, err := parseTensor(r, v.in.Size(), v.in.Size())
				if err != nil {
					return nil, 0, badRequest("instance %d: %v", i, err)
				}
				if !graph.Shape(shape).Equal(v.in) {
					return nil, 0, badRequest("instance %d has shape %v; the model takes %v", i, shape, v.in)
				}
				x = append(x, xi...)
			}
			return x, len(objs), nil
		}
	}
	x, n, err := decodeBatch(raw, v, maxInstances, "instances")
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			ae.msg = strings.Replace(ae.msg, "(batch, ", "a list of instances of shape (", 1)
		}
	}
	return x, n, err
}

// classify answers a PNG or JPEG body with the model's top classes: the
// image converted as capa predict converts it (grayscale models: as
// Fashion-MNIST's images were prepared; RGB models: resized, HWC in
// [0, 1]), the decoded size bounded by Options.MaxPixels from the header.
func (s *Server) classify(w http.ResponseWriter, r *http.Request, sv *servable, v *version, start time.Time) {
	top := 5
	if t := r.URL.Query().Get("top"); t != "" {
		k, err := strconv.Atoi(t)
		if err != nil || k < 1 {
			s.answer(w, r, sv.name, "classify", start, nil, badRequest("top=%q: want a positive number", t))
			return
		}
		top = k
	}
	if len(v.in) != 3 || (v.in[2] != 1 && v.in[2] != 3) {
		s.answer(w, r, sv.name, "classify", start, nil, badRequest("model %q takes %v, not images (H, W, 1 or 3)", sv.name, v.in))
		return
	}
	res, err := s.run(w, r, sv, v, func(b []byte, v *version) ([]float32, int, error) {
		x, err := dataset.ReadImage(bytes.NewReader(b), dataset.ImageOptions{Height: v.in[0], Width: v.in[1], Channels: v.in[2], MaxPixels: s.opts.MaxPixels})
		if err != nil {
			return nil, 0, badRequest("the body is not a usable PNG or JPEG image: %v", err)
		}
		return x, 1, nil
	})
	if err != nil {
		s.answer(w, r, sv.name, "classify", start, nil, err)
		return
	}
	idx := make([]int, len(res.y))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return res.y[idx[a]] > res.y[idx[b]] })
	type class struct {
		Index       int     `json:"index"`
		Name        string  `json:"name"`
		Probability float32 `json:"probability"`
	}
	var out []class
	for _, i := range idx[:min(top, len(idx))] {
		name := strconv.Itoa(i)
		if i < len(res.v.names) {
			name = res.v.names[i]
		}
		out = append(out, class{i, name, res.y[i]})
	}
	s.answer(w, r, sv.name, "classify", start, map[string]any{"model_version": strconv.FormatInt(res.v.number, 10), "classes": out}, nil)
}
