package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/interchange"
	"github.com/capa-ml/capa/internal/cli"
)

const exportUsage = `Usage: capa export --model FILE --format onnx --out M.onnx
       capa export --model FILE --format tfjs --out DIR
       capa export --model FILE --format keras --out M.keras

Writes a saved model (from capa train or Save) in another runtime's format.
"onnx": an ONNX model of opset 17 that ONNX Runtime and other ONNX runtimes
run with Capa's predictions; its input is channels-last (N, H, W, C), as
Capa's, with a dynamic batch N. Layers that act only in training (Dropout,
augmentation) are left out. "tfjs": TensorFlow.js's Layers format,
DIR/model.json and one weights shard, for tf.loadLayersModel. "keras": a
Keras 3 model file, as model.save("m.keras") writes it, for
keras.saving.load_model (not compiled: compile it anew to train). Files are
written atomically.
`

func cmdExport(args []string) error {
	fs := cli.NewFlagSet("capa export", exportUsage)
	model := fs.String("model", "", "model file written by capa train or Save")
	format := fs.String("format", "onnx", "output format: onnx, tfjs or keras")
	out := fs.String("out", "", "file to write")
	maxParams := maxParamsFlag(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected arguments %v", fs.Args())
	}
	if *out == "" {
		return cli.Usagef("--out FILE is required")
	}
	if *format != "onnx" && *format != "tfjs" && *format != "keras" {
		return cli.Usagef("--format %q: the formats are onnx, tfjs and keras", *format)
	}
	m, _, err := loadModel(*model, *maxParams)
	if err != nil {
		return err
	}
	if *format == "tfjs" {
		if err := interchange.ExportTFJS(*out, m); err != nil {
			return err
		}
		fmt.Printf("wrote %s/model.json and %s (TensorFlow.js Layers format): input %v, output %v (None: the batch)\n",
			*out, interchange.TFJSWeightsFile, m.InputShape(), m.OutputShape())
		return nil
	}
	if *format == "keras" {
		if err := interchange.ExportKeras(*out, m); err != nil {
			return err
		}
		st, err := os.Stat(*out)
		if err != nil {
			return err
		}
		fmt.Printf("wrote %s (Keras 3 model file, %d bytes): input %v, output %v (None: the batch)\n",
			*out, st.Size(), m.InputShape(), m.OutputShape())
		return nil
	}
	if err := interchange.ExportONNXFile(*out, m, interchange.ONNXOptions{}); err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s (ONNX opset %d, %d bytes): input %v, output %v (None: the batch)\n",
		*out, interchange.ONNXOpset, st.Size(), m.InputShape(), m.OutputShape())
	return nil
}

const importUsage = `Usage: capa import M.onnx --out M.safetensors
       capa import DIR/model.json --out M.safetensors
       capa import M.h5 --out M.safetensors
       capa import M.keras --out M.safetensors

Builds an ONNX model (exported by PyTorch's torch.onnx.export, by capa
export, ...) as a Capa Functional model with its weights, or a TensorFlow.js
Layers model (model.json and its weight shards, as tf.LayersModel.save
writes them), a Keras 2 whole-model file (model.save("m.h5")) or a Keras 3
one (model.save("m.keras")), prints its summary and saves it. The model keeps the ONNX file's layout at its
boundary: a PyTorch model takes and returns (N, C, H, W) arrays, as in
PyTorch (capa predict --input X.npy runs it on them). An operator Capa does
not build is refused with the node's name.
`

func cmdImport(args []string) error {
	fs := cli.NewFlagSet("capa import", importUsage)
	out := fs.String("out", "", "model file to write (safetensors, as capa train writes)")
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = append(append([]string(nil), args[1:]...), args[0]) // the file first, as the usage shows
	}
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("give one ONNX file")
	}
	if *out == "" {
		return cli.Usagef("--out FILE is required")
	}
	var m *graph.Model
	var err error
	switch {
	case strings.HasSuffix(fs.Arg(0), ".json"):
		m, err = interchange.ImportTFJS(fs.Arg(0))
	case strings.HasSuffix(fs.Arg(0), ".h5"):
		m, err = interchange.ImportKerasH5(fs.Arg(0))
	case strings.HasSuffix(fs.Arg(0), ".keras"):
		m, err = interchange.ImportKeras(fs.Arg(0))
	default:
		m, err = interchange.ImportONNXFile(fs.Arg(0))
	}
	if err != nil {
		return err
	}
	fmt.Print(m.Summary())
	if err := m.Save(*out); err != nil {
		return err
	}
	fmt.Printf("wrote %s: input %v, output %v (None: the batch)\n", *out, m.InputShape(), m.OutputShape())
	return nil
}
