package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// A layer's configuration in a file uses Keras's keys and forms, so that
// reading and writing Keras's own files (issue 12) is a mapping. The Go
// structs keep names whose zero value is Keras's default (NoBias, Frozen);
// this file translates, in one place, between them and Keras's keys:
//
//	Go field (JSON tag)        file (format version 2, Keras)
//	NoBias   ("no_bias")       "use_bias": !NoBias
//	Frozen   ("frozen")        "trainable": !Frozen
//	"glorot_uniform"           {"class_name": "GlorotUniform", "config": {"seed": null}}
//
// Files of format version 1 (Capa's keys, initializers as strings) read
// unchanged, and initializers may be given as strings in either version.

// negatedKeys maps Keras's boolean keys to the Go struct's negated ones.
var negatedKeys = [...]struct{ keras, capa string }{
	{"use_bias", "no_bias"},
	{"trainable", "frozen"},
}

// toKerasConfig rewrites a layer struct's JSON in Keras's keys and forms,
// keeping the fields' order.
func toKerasConfig(raw []byte) ([]byte, error) {
	fields, err := orderedFields(raw)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		key, v := f.key, f.value
		for _, k := range negatedKeys {
			if key != k.capa {
				continue
			}
			var neg bool
			if err := json.Unmarshal(v, &neg); err != nil {
				return nil, fmt.Errorf("%s: %w", k.capa, err)
			}
			key, v = k.keras, json.RawMessage(fmt.Sprint(!neg))
		}
		var name string
		if strings.HasSuffix(key, "_initializer") && json.Unmarshal(v, &name) == nil && name != "" {
			cfg := `{"seed":null}`
			if !initializerDraws(name) {
				cfg = `{}`
			}
			v = json.RawMessage(fmt.Sprintf(`{"class_name":%q,"config":%s}`, camelName(name), cfg))
		}
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type field struct {
	key   string
	value json.RawMessage
}

// orderedFields splits a JSON object into its fields, in order.
func orderedFields(raw []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("want a JSON object, got %.40s", raw)
	}
	var out []field
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, field{t.(string), v})
	}
	return out, nil
}

// fromKerasConfig rewrites a file's layer configuration (Keras's keys, or
// format version 1's) in the Go struct's JSON tags.
func fromKerasConfig(raw []byte) ([]byte, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return raw, nil // not an object: the struct decoder reports it
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	for _, k := range negatedKeys {
		v, ok := m[k.keras]
		if !ok {
			continue
		}
		if _, both := m[k.capa]; both {
			return nil, fmt.Errorf("both %q and %q given: use %q", k.keras, k.capa, k.keras)
		}
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return nil, fmt.Errorf("%s must be true or false, got %s", k.keras, v)
		}
		delete(m, k.keras)
		m[k.capa] = json.RawMessage(fmt.Sprint(!b))
	}
	for key, v := range m {
		if !strings.HasSuffix(key, "_initializer") || bytes.TrimSpace(v)[0] != '{' {
			continue
		}
		var obj struct {
			Class  string                     `json:"class_name"`
			Config map[string]json.RawMessage `json:"config"`
			// Keras 3 adds these; they carry nothing Capa needs.
			Module     *string `json:"module"`
			Registered *string `json:"registered_name"`
		}
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&obj); err != nil {
			return nil, fmt.Errorf("%s: want a name or {\"class_name\": ..., \"config\": {...}}: %w", key, err)
		}
		for ck, cv := range obj.Config {
			if ck != "seed" || string(bytes.TrimSpace(cv)) != "null" {
				return nil, fmt.Errorf("%s: %s with %q = %s is not supported: Capa's initializers take no arguments (a seed comes from the model's seed)", key, obj.Class, ck, cv)
			}
		}
		name, err := initializerName(obj.Class)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		m[key] = json.RawMessage(fmt.Sprintf("%q", name))
	}
	return json.Marshal(m)
}

// camelName turns a snake-case name into Keras's class name:
// glorot_uniform -> GlorotUniform.
func camelName(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
