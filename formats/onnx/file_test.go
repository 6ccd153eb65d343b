package onnx

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// tiny is a valid model: y = Relu(x + b).
func tiny() *ModelProto {
	return &ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*OperatorSetIdProto{{Version: proto.Int64(17)}},
		Graph: &GraphProto{
			Name:        proto.String("tiny"),
			Input:       []*ValueInfoProto{{Name: proto.String("x")}},
			Output:      []*ValueInfoProto{{Name: proto.String("y")}},
			Initializer: []*TensorProto{FloatTensor("b", []int64{2}, []float32{1, -1})},
			Node: []*NodeProto{
				{OpType: proto.String("Add"), Input: []string{"x", "b"}, Output: []string{"s"}},
				{OpType: proto.String("Relu"), Input: []string{"s"}, Output: []string{"y"}},
			},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := WriteFile(path, tiny()); err != nil {
		t.Fatal(err)
	}
	m, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := TensorFloats(m.Graph.Initializer[0])
	if err != nil || len(v) != 2 || v[0] != 1 || v[1] != -1 {
		t.Fatalf("initializer %v, %v", v, err)
	}
	if !proto.Equal(m, tiny()) {
		t.Error("the model read back differs")
	}
}

func TestTensorInt64s(t *testing.T) {
	v, err := TensorInt64s(Int64Tensor("p", []int64{3}, []int64{1, -2, 1 << 40}))
	if err != nil || len(v) != 3 || v[1] != -2 || v[2] != 1<<40 {
		t.Fatalf("int64_data: %v, %v", v, err)
	}
	raw := &TensorProto{Name: proto.String("r"), Dims: []int64{2}, DataType: proto.Int32(int32(TensorProto_INT64)),
		RawData: []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0, 0, 0, 0, 0}}
	if v, err := TensorInt64s(raw); err != nil || len(v) != 2 || v[0] != -2 || v[1] != 7 {
		t.Fatalf("raw_data: %v, %v", v, err)
	}
	raw.RawData = raw.RawData[:12]
	if _, err := TensorInt64s(raw); !errors.Is(err, ErrFormat) {
		t.Errorf("12 bytes for 2 values: %v", err)
	}
	if _, err := TensorInt64s(FloatTensor("f", []int64{1}, []float32{1})); !errors.Is(err, ErrFormat) {
		t.Errorf("a FLOAT tensor: %v", err)
	}
}

// TestHostile checks that bad files are refused with ErrFormat and a
// message saying what is wrong.
func TestHostile(t *testing.T) {
	good, err := Marshal(tiny())
	if err != nil {
		t.Fatal(err)
	}
	huge := tiny()
	huge.Graph.Initializer[0].Dims = []int64{1 << 20, 1 << 20}
	cycle := tiny()
	cycle.Graph.Node[0].Input[0] = "y"
	order := tiny()
	order.Graph.Node[0], order.Graph.Node[1] = order.Graph.Node[1], order.Graph.Node[0]
	short := tiny()
	short.Graph.Initializer[0].RawData = short.Graph.Initializer[0].RawData[:5]
	external := tiny()
	external.Graph.Initializer[0].RawData = nil
	external.Graph.Initializer[0].DataLocation = TensorProto_EXTERNAL.Enum()
	external.Graph.Initializer[0].ExternalData = []*StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("../../etc/passwd")}}
	negative := tiny()
	negative.Graph.Initializer[0].Dims = []int64{-2}
	noGraph := tiny()
	noGraph.Graph = nil
	enc := func(m *ModelProto) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"truncated", good[:len(good)-7], "truncated or corrupt"},
		{"garbage", []byte("\xff\xff\xff\xff not protobuf"), "truncated or corrupt"},
		{"2^40 elements", enc(huge), "claim more than"},
		{"cycle", enc(cycle), `reads "y"`},
		{"out of order", enc(order), `reads "s"`},
		{"short data", enc(short), "5 bytes of data"},
		{"external data", enc(external), "external file"},
		{"negative dimension", enc(negative), "negative dimension"},
		{"no graph", enc(noGraph), "no graph"},
	} {
		_, err := Unmarshal(c.b)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrFormat saying %q", c.name, err, c.want)
		}
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "none.onnx")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzUnmarshal feeds arbitrary bytes to Unmarshal: it must accept or
// refuse with ErrFormat, never panic, and what it accepts re-encodes to a
// model it accepts again.
func FuzzUnmarshal(f *testing.F) {
	good, err := Marshal(tiny())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Unmarshal(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error does not wrap ErrFormat: %v", err)
			}
			return
		}
		again, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Unmarshal(again); err != nil {
			t.Fatalf("re-encoded model refused: %v", err)
		}
	})
}
