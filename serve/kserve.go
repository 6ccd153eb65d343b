package serve

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/capa-ml/capa/graph"
)

// kserve serves /v2/...: KServe's Open Inference Protocol, version 2, in
// its JSON form.
func (s *Server) kserve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v2"), "/"), "/")
	get := func() bool {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			s.answer(w, r, "", "kserve", start, nil, &apiError{http.StatusMethodNotAllowed, fmt.Sprintf("%s takes GET, not %s", r.URL.Path, r.Method)})
			return false
		}
		return true
	}
	switch {
	case len(parts) == 1 && parts[0] == "":
		if get() {
			s.answer(w, r, "", "kserve", start, map[string]any{"name": "capa", "version": "1", "extensions": []string{}}, nil)
		}
		return
	case len(parts) == 2 && parts[0] == "health" && parts[1] == "live":
		if get() {
			s.answer(w, r, "", "kserve", start, map[string]bool{"live": true}, nil)
		}
		return
	case len(parts) == 2 && parts[0] == "health" && parts[1] == "ready":
		if get() {
			ready := !s.closed.Load() && len(s.Models()) > 0
			status := http.StatusOK
			if !ready {
				status = http.StatusServiceUnavailable
			}
			writeJSON(w, status, map[string]bool{"ready": ready})
		}
		return
	case len(parts) < 2 || parts[0] != "models":
		s.answer(w, r, "", "kserve", start, nil, &apiError{http.StatusNotFound, fmt.Sprintf("no endpoint %s: see /v2/models/{name}[/versions/{v}][/ready|/infer]", r.URL.Path)})
		return
	}
	name, ver, rest := parts[1], "", parts[2:]
	if len(rest) >= 2 && rest[0] == "versions" {
		ver, rest = rest[1], rest[2:]
	}
	action := ""
	switch {
	case len(rest) == 1:
		action = rest[0]
	case len(rest) > 1:
		action = "?"
	}
	sv, v, err := s.lookup(name, ver)
	if err != nil {
		s.answer(w, r, "", "kserve", start, nil, err)
		return
	}
	switch action {
	case "":
		if get() {
			s.answer(w, r, name, "kserve", start, v2Metadata(name, v), nil)
		}
	case "ready":
		if get() {
			s.answer(w, r, name, "kserve", start, map[string]any{"name": name, "ready": true}, nil)
		}
	case "infer":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			s.answer(w, r, name, "kserve", start, nil, &apiError{http.StatusMethodNotAllowed, fmt.Sprintf("%s takes POST, not %s", r.URL.Path, r.Method)})
			return
		}
		var id string
		res, err := s.run(w, r, sv, v, func(b []byte, v *version) ([]float32, int, error) {
			x, n, reqID, err := decodeV2Infer(b, v, s.opts.MaxInstances)
			id = reqID
			return x, n, err
		})
		if err != nil {
			s.answer(w, r, name, "kserve", start, nil, err)
			return
		}
		n := len(res.y) / res.v.out.Size()
		shape := append([]int{n}, res.v.out...)
		head, _ := json.Marshal(map[string]string{"model_name": name, "model_version": strconv.FormatInt(res.v.number, 10), "id": id})
		b := append(head[:len(head)-1], `,"outputs":[{"name":"output","datatype":"FP32","shape":`...)
		b = appendInts(b, shape)
		b = append(b, `,"data":`...)
		b = appendFloats(b, res.y, []int{len(res.y)})
		s.answer(w, r, name, "kserve", start, append(b, "}]}"...), nil)
	default:
		s.answer(w, r, name, "kserve", start, nil, &apiError{http.StatusNotFound, fmt.Sprintf("no endpoint %s: see /v2/models/{name}[/versions/{v}][/ready|/infer]", r.URL.Path)})
	}
}

func appendInts(b []byte, v []int) []byte {
	b = append(b, '[')
	for i, d := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(d), 10)
	}
	return append(b, ']')
}

func v2Shape(s graph.Shape) []int { return append([]int{-1}, s...) }

// v2Metadata is the model metadata answer of the v2 protocol.
func v2Metadata(name string, v *version) map[string]any {
	return map[string]any{
		"name": name, "versions": []string{strconv.FormatInt(v.number, 10)}, "platform": "capa",
		"inputs":  []any{map[string]any{"name": inputName(v), "datatype": "FP32", "shape": v2Shape(v.in)}},
		"outputs": []any{map[string]any{"name": "output", "datatype": "FP32", "shape": v2Shape(v.out)}},
	}
}

// decodeV2Infer reads a v2 inference request: one input tensor of shape
// (batch, ...the model's input), datatype FP32, or UINT8 (an image's
// bytes, scaled to [0, 1] as the models' pixels are), its data flat or
// nested in row-major order. It returns the samples, their number and the
// request's id.
func decodeV2Infer(b []byte, v *version, maxInstances int) ([]float32, int, string, error) {
	var id string
	var inputs, outputs []byte
	var params map[string]any
	if err := decodeMembers(b, map[string]any{"id": &id, "parameters": &params},
		map[string]*[]byte{"inputs": &inputs, "outputs": &outputs}); err != nil {
		return nil, 0, "", badRequest(`the request is not JSON of the v2 inference protocol ({"inputs": [{"name", "shape", "datatype", "data"}]}): %v`, err)
	}
	var ins [][]byte
	if len(inputs) > 0 {
		var err error
		if ins, err = splitArray(inputs); err != nil {
			return nil, 0, id, badRequest(`"inputs": %v`, err)
		}
	}
	if len(ins) != 1 {
		return nil, 0, id, badRequest("the request has %d inputs; the model takes one, %q", len(ins), inputName(v))
	}
	if len(outputs) > 0 {
		var outs []struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(outputs, &outs); err != nil {
			return nil, 0, id, badRequest(`"outputs": %v`, err)
		}
		for _, o := range outs {
			if o.Name != "output" {
				return nil, 0, id, badRequest("output %q: the model has one output, \"output\"", o.Name)
			}
		}
	}
	var in struct {
		Name, Datatype string
		Shape          []int64
		Data           []byte
		Parameters     map[string]any
	}
	if err := decodeMembers(ins[0], map[string]any{"name": &in.Name, "datatype": &in.Datatype, "shape": &in.Shape, "parameters": &in.Parameters},
		map[string]*[]byte{"data": &in.Data}); err != nil {
		return nil, 0, id, badRequest("input: %v", err)
	}
	if in.Name != "" && in.Name != inputName(v) && in.Name != "input" {
		return nil, 0, id, badRequest("input %q: the model's input is %q", in.Name, inputName(v))
	}
	if len(in.Shape) != len(v.in)+1 || in.Shape[0] < 1 || in.Shape[0] > int64(maxInstances) {
		return nil, 0, id, badRequest("input shape %v: the model takes %v, the batch between 1 and %d", in.Shape, v2Shape(v.in), maxInstances)
	}
	for i, d := range v.in {
		if in.Shape[i+1] != int64(d) {
			return nil, 0, id, badRequest("input shape %v: the model takes %v", in.Shape, v2Shape(v.in))
		}
	}
	n := int(in.Shape[0])
	x, _, err := parseTensor(in.Data, n*v.in.Size(), n*v.in.Size())
	if err != nil {
		return nil, 0, id, badRequest("input data: %v", err)
	}
	if len(x) != n*v.in.Size() {
		return nil, 0, id, badRequest("input data holds %d values; shape %v needs %d", len(x), in.Shape, n*v.in.Size())
	}
	switch in.Datatype {
	case "FP32":
	case "UINT8":
		for i, f := range x {
			if f < 0 || f > 255 || f != float32(math.Trunc(float64(f))) {
				return nil, 0, id, badRequest("input data value %d (%v) is not a UINT8", i, f)
			}
			x[i] = f / 255
		}
	default:
		return nil, 0, id, badRequest("datatype %q: the server takes FP32, or UINT8 pixels (scaled to [0, 1])", in.Datatype)
	}
	return x, n, id, nil
}
