package interchange

import (
	"math/rand/v2"
	"testing"

	"github.com/capa-ml/capa/formats/onnx"
	"github.com/capa-ml/capa/graph"
	"google.golang.org/protobuf/proto"
)

// TestImportONNXMutations imports 5,000 structured mutations of an export
// (inputs dropped, outputs removed, attributes and INT64 constants set to
// small values, zeros and negatives included): each must build or be
// refused, never panic. It complements FuzzImportONNX, whose byte-level
// mutations rarely keep a protobuf valid.
func TestImportONNXMutations(t *testing.T) {
	m, _ := graph.Sequential(graph.Input(6, 6, 2), &graph.Conv2D{Filters: 2, KernelSize: [2]int{3, 3}, Padding: "same", Activation: "relu"},
		&graph.MaxPooling2D{}, &graph.BatchNormalization{}, &graph.Flatten{}, &graph.Reshape{TargetShape: []int{2, 9}}, &graph.Flatten{}, &graph.Dense{Units: 3, Activation: "softmax"})
	pm, _ := ExportONNXModel(m, ONNXOptions{})
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		c := proto.Clone(pm).(*onnx.ModelProto)
		for k := 0; k < 2; k++ {
			nd := c.Graph.Node[r.IntN(len(c.Graph.Node))]
			switch r.IntN(4) {
			case 0:
				if len(nd.Input) > 0 {
					nd.Input = nd.Input[:r.IntN(len(nd.Input))]
				}
			case 1:
				nd.Output = nil
			case 2:
				for _, a := range nd.Attribute {
					for j := range a.Ints {
						a.Ints[j] = int64(r.IntN(5)) - 1
					}
					if a.I != nil {
						a.I = proto.Int64(int64(r.IntN(6)) - 2)
					}
				}
			case 3:
				for _, ini := range c.Graph.Initializer {
					if ini.GetDataType() == int32(onnx.TensorProto_INT64) {
						for j := range ini.Int64Data {
							ini.Int64Data[j] = int64(r.IntN(7)) - 2
						}
					}
				}
			}
		}
		func() {
			defer func() {
				if e := recover(); e != nil {
					t.Fatalf("panic %v on mutation %d", e, i)
				}
			}()
			ImportONNX(c)
		}()
	}
}
