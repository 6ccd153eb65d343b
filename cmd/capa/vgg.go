package main

import (
	"flag"
	"fmt"

	"github.com/capa-ml/capa/graph"

	"github.com/capa-ml/capa/formats/npy"
	"github.com/capa-ml/capa/internal/cli"
	"github.com/capa-ml/capa/vgg"
)

// cmdVGG16 runs VGG16 with published weights on .npy arrays, to cross-check
// Capa against other frameworks:
//
//	capa vgg16 features --weights FILE --input X.npy --output Y.npy
//	capa vgg16 predict  --weights FILE --input X.npy --output P.npy
//
// X is float32 (N, H, W, 3), already preprocessed for the weights; Y is the
// base's output (N, h, w, 512), channels-last; P the (N, 1000)
// probabilities of the full model at 224x224.
func cmdVGG16(args []string) error {
	mode, args, err := netMode("vgg16", args)
	if err != nil {
		return err
	}
	fs := cli.NewFlagSet("capa vgg16 "+mode, vgg16Usage)
	io := netFlags(fs, "VGG16 weights: Keras .h5 or torchvision .pth (required)")
	depth := fs.Int("depth", 16, "16 or 19")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fs); err != nil {
		return err
	}
	if io.missing() {
		return cli.Usagef("--weights, --input and --output are required")
	}
	return io.run(mode, func(h, w int) (*graph.Model, string, error) {
		m, err := vgg.New(*depth, vgg.Config{IncludeTop: mode == "predict", Height: h, Width: w})
		if err != nil {
			return nil, "", err
		}
		src, err := vgg.LoadWeights(m, *io.weights)
		return m, src.String(), err
	})
}

// netIO holds the flags capa vgg16 and capa app share.
type netIO struct {
	weights, input, output *string
	batch                  *int
}

// netFlags declares the shared flags on fs.
func netFlags(fs *flag.FlagSet, weightsHelp string) netIO {
	return netIO{
		weights: fs.String("weights", "", weightsHelp),
		input:   fs.String("input", "", "float32 .npy input, (N, H, W, 3), preprocessed for the weights (required)"),
		output:  fs.String("output", "", "where to write the float32 .npy result (required)"),
		batch:   fs.Int("batch-size", 16, "images per batch"),
	}
}

// missing reports whether a required shared flag is missing.
func (n netIO) missing() bool { return *n.weights == "" || *n.input == "" || *n.output == "" }

// run reads the input array, builds the network for its image size (build
// returns the model with its weights loaded and their source's name), runs
// it and writes the output array.
func (n netIO) run(mode string, build func(h, w int) (*graph.Model, string, error)) error {
	shape, x, err := npy.ReadFile(*n.input)
	if err != nil {
		return err
	}
	if len(shape) != 4 || shape[3] != 3 {
		return fmt.Errorf("%s: shape %v, want (N, H, W, 3)", *n.input, shape)
	}
	m, src, err := build(shape[1], shape[2])
	if err != nil {
		return err
	}
	out, err := predictToNpy(m, x, shape[0], max(*n.batch, 1), *n.output)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %v -> %v with %s weights (inputs must be preprocessed as %s expects)\n", mode, shape, out, src, src)
	return nil
}

// netMode takes the mode, "features" or "predict", off the front of a
// network command's arguments (capa vgg16, capa app); without one only the
// help flags are understood, with the mode shown as "features|predict".
func netMode(cmd string, args []string) (string, []string, error) {
	if len(args) > 0 && (args[0] == "features" || args[0] == "predict") {
		return args[0], args[1:], nil
	}
	if len(args) == 0 || (args[0] != "-h" && args[0] != "-help" && args[0] != "--help") {
		return "", nil, cli.Usagef("give the mode first: capa %s features|predict [flags]", cmd)
	}
	return "features|predict", args, nil
}
