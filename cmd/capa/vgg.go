package main

import (
	"fmt"

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
	weights := fs.String("weights", "", "VGG16 weights: Keras .h5 or torchvision .pth (required)")
	input := fs.String("input", "", "float32 .npy input, (N, H, W, 3), preprocessed for the weights (required)")
	output := fs.String("output", "", "where to write the float32 .npy result (required)")
	batch := fs.Int("batch-size", 16, "images per batch")
	depth := fs.Int("depth", 16, "16 or 19")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fs); err != nil {
		return err
	}
	if *weights == "" || *input == "" || *output == "" {
		return cli.Usagef("--weights, --input and --output are required")
	}
	shape, x, err := npy.ReadFile(*input)
	if err != nil {
		return err
	}
	if len(shape) != 4 || shape[3] != 3 {
		return fmt.Errorf("%s: shape %v, want (N, H, W, 3)", *input, shape)
	}
	top := mode == "predict"
	m, err := vgg.New(*depth, vgg.Config{IncludeTop: top, Height: shape[1], Width: shape[2]})
	if err != nil {
		return err
	}
	src, err := vgg.LoadWeights(m, *weights)
	if err != nil {
		return err
	}
	y, err := m.Predict(x, max(*batch, 1))
	if err != nil {
		return err
	}
	out := append([]int{shape[0]}, m.OutputShape()...)
	if err := npy.WriteFile(*output, out, y); err != nil {
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
