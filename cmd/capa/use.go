package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"sort"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/formats/npy"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/cli"
	"github.com/capa-ml/capa/train"
)

func loadModel(path string, maxParams int64) (*capa.Model, []string, error) {
	if path == "" {
		return nil, nil, cli.Usagef("--model FILE is required")
	}
	if maxParams < 1 {
		return nil, nil, cli.Usagef("--max-params must be positive, got %d", maxParams)
	}
	m, err := capa.Load(path, graph.WithLimits(graph.Limits{MaxParams: maxParams}))
	if err != nil {
		return nil, nil, err
	}
	var names []string
	if m.Extra["class_names"] != "" {
		json.Unmarshal([]byte(m.Extra["class_names"]), &names)
	}
	return m, names, nil
}

// maxParamsFlag defines --max-params, the largest model a command loads.
func maxParamsFlag(fs *flag.FlagSet) *int64 {
	return fs.Int64("max-params", graph.DefaultLimits.MaxParams,
		"largest number of weights a model file may ask for (4 bytes each); a larger architecture is refused from its shapes, before anything is allocated")
}

// maxPixelsFlag defines --max-pixels, the largest image a command decodes.
func maxPixelsFlag(fs *flag.FlagSet) *cli.Pixels {
	return cli.PixelsVar(fs, "max-pixels", dataset.DefaultMaxPixels,
		"largest image to decode, in pixels: a count or WIDTHxHEIGHT; a larger image is refused from its header (decoding takes up to 8 bytes a pixel)")
}

// imageOptions are the options to read a user's image into h×w with the
// --max-pixels limit, whose refusal names the flag.
func imageOptions(h, w int, maxPixels cli.Pixels) dataset.ImageOptions {
	return dataset.ImageOptions{Height: h, Width: w, MaxPixels: int64(maxPixels), RaiseHint: "--max-pixels"}
}

func cmdEvaluate(args []string) error {
	fs := cli.NewFlagSet("capa evaluate", evaluateUsage)
	model := fs.String("model", "", "model file written by capa train or Save")
	maxParams := maxParamsFlag(fs)
	data := fs.String("data", "", "directory with the Fashion-MNIST files")
	report := fs.String("report", "", "write a JSON report to this file")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fs); err != nil {
		return err
	}
	m, names, err := loadModel(*model, *maxParams)
	if err != nil {
		return err
	}
	if !m.Compiled() {
		// Evaluation needs a loss, not an optimizer.
		if err := m.Compile(nil, train.SparseCategoricalCrossentropy{}); err != nil {
			return err
		}
	}
	if names == nil {
		names = dataset.ClassNames[:]
	}
	_, testSet, err := dataset.LoadFashionMNIST(*data)
	if err != nil {
		return err
	}
	rep, err := m.Evaluate(capa.FromSet(testSet), 1000)
	if err != nil {
		return err
	}
	fmt.Printf("Test accuracy: %.4f  test loss: %.4f  (%d images)\n\n", rep.Accuracy, rep.Loss, rep.N)
	fmt.Print(rep.Table(names))
	if *report == "" {
		return nil
	}
	tr, non := m.CountParams()
	return writeReport(*report, map[string]any{
		"test_accuracy":    rep.Accuracy,
		"test_loss":        rep.Loss,
		"test_images":      rep.N,
		"params":           tr + non,
		"confusion_matrix": rep.Confusion,
		"precision":        rep.Precision,
		"recall":           rep.Recall,
		"class_names":      names,
		"model":            *model,
	})
}

func cmdPredict(args []string) error {
	fs := cli.NewFlagSet("capa predict", predictUsage)
	model := fs.String("model", "", "model file written by capa train or Save")
	top := fs.Int("top", 3, "how many classes to show per image")
	input := fs.String("input", "", "instead of images: a float32 .npy array (N, ...the model's input shape), run as it is")
	output := fs.String("output", "", "with --input: where to write the float32 .npy outputs (N, ...the model's output shape)")
	batch := fs.Int("batch", 64, "with --input: samples per Predict call")
	maxParams := maxParamsFlag(fs)
	maxPixels := maxPixelsFlag(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *input != "" || *output != "" {
		if *input == "" || *output == "" || fs.NArg() > 0 {
			return cli.Usagef("--input X.npy and --output Y.npy go together, without images")
		}
		if *batch < 1 {
			return cli.Usagef("--batch must be positive, got %d", *batch)
		}
		m, _, err := loadModel(*model, *maxParams)
		if err != nil {
			return err
		}
		return predictArray(m, *input, *output, *batch)
	}
	if fs.NArg() == 0 {
		return cli.Usagef("give one or more PNG or JPEG images after the flags, or --input X.npy --output Y.npy")
	}
	m, names, err := loadModel(*model, *maxParams)
	if err != nil {
		return err
	}
	in := m.InputShape()
	if len(in) != 3 || in[2] != 1 {
		return fmt.Errorf("predict takes grayscale image models, this one takes %v", in)
	}
	var x []float32
	for _, path := range fs.Args() {
		img, err := dataset.LoadImageFileWith(path, imageOptions(in[0], in[1], *maxPixels))
		if err != nil {
			return err
		}
		x = append(x, img...)
	}
	out, err := m.Predict(x, 64)
	if err != nil {
		return err
	}
	k := m.OutputShape().Size()
	for i, path := range fs.Args() {
		p := out[i*k : (i+1)*k]
		idx := make([]int, k)
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
		fmt.Printf("%s:", path)
		for _, j := range idx[:min(*top, k)] {
			name := fmt.Sprint(j)
			if j < len(names) {
				name = names[j]
			}
			fmt.Printf("  %s %.3f", name, p[j])
		}
		fmt.Println()
	}
	return nil
}

// predictArray runs m on the float32 array in the .npy file input, whose
// shape must be (N, ...m's input shape), and writes the outputs, (N,
// ...m's output shape), to the .npy file output: no conversion, so that
// other tools' outputs can be compared with Capa's.
func predictArray(m *capa.Model, input, output string, batch int) error {
	if ins := m.Inputs(); len(ins) != 1 {
		return fmt.Errorf("capa predict --input: the model has %d inputs %v; --input takes models of one", len(ins), ins)
	}
	shape, x, err := npy.ReadFile(input)
	if err != nil {
		return err
	}
	in := m.InputShape()
	if len(shape) != len(in)+1 || !graph.Shape(shape[1:]).Equal(in) {
		return fmt.Errorf("%s: shape %v, but the model takes %v", input, shape, in)
	}
	out, err := predictToNpy(m, x, shape[0], batch, output)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %v -> %s: %v\n", input, shape, output, out)
	return nil
}

// predictToNpy runs m on the n samples of x in batches and writes the
// outputs to the .npy file path, returning their shape (n, ...m's output
// shape): the end of capa predict --input and of capa vgg16/app.
func predictToNpy(m *capa.Model, x []float32, n, batch int, path string) ([]int, error) {
	y, err := m.Predict(x, batch)
	if err != nil {
		return nil, err
	}
	out := append([]int{n}, m.OutputShape()...)
	return out, npy.WriteFile(path, out, y)
}

func cmdSummary(args []string) error {
	fs := cli.NewFlagSet("capa summary", summaryUsage)
	model := fs.String("model", "", "model file")
	maxParams := maxParamsFlag(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fs); err != nil {
		return err
	}
	m, _, err := loadModel(*model, *maxParams)
	if err != nil {
		return err
	}
	fmt.Print(m.Summary())
	if opt := m.Optimizer(); opt != nil {
		fmt.Printf("Compiled: %s, loss %s; %d epochs trained", opt.Class(), m.Loss().Name(), m.State.Epoch)
		if m.State.Batch > 0 {
			fmt.Printf(" (+%d batches)", m.State.Batch)
		}
		fmt.Println()
	}
	return nil
}
