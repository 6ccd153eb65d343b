package main

import (
	"fmt"

	"github.com/capa-ml/capa/applications"
	"github.com/capa-ml/capa/formats/npy"
	"github.com/capa-ml/capa/internal/cli"
)

// cmdApp runs a pretrained network of package applications (or VGG) on
// .npy arrays, as capa vgg16 does:
//
//	capa app features --arch resnet50 --source keras --weights FILE --input X.npy --output Y.npy
//	capa app predict  --arch mobilenet_v2 --source torchvision --weights FILE --input X.npy --output P.npy
//
// X is float32 (N, H, W, 3), already preprocessed for the weights; Y is the
// base's last feature map (N, h, w, C), channels-last; P the (N, 1000)
// probabilities of the whole network.
func cmdApp(args []string) error {
	mode, args, err := netMode("app", args)
	if err != nil {
		return err
	}
	fs := cli.NewFlagSet("capa app "+mode, appUsage)
	arch := fs.String("arch", "", "vgg16, vgg19, resnet18, resnet34, resnet50 or mobilenet_v2 (required)")
	source := fs.String("source", "", "keras or torchvision (default: the weight file's)")
	weights := fs.String("weights", "", "the published weight file: Keras .h5 or torchvision .pth (required)")
	input := fs.String("input", "", "float32 .npy input, (N, H, W, 3), preprocessed for the weights (required)")
	output := fs.String("output", "", "where to write the float32 .npy result (required)")
	batch := fs.Int("batch-size", 16, "images per batch")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fs); err != nil {
		return err
	}
	if *arch == "" || *weights == "" || *input == "" || *output == "" {
		return cli.Usagef("--arch, --weights, --input and --output are required")
	}
	if *arch == "vgg16" || *arch == "vgg19" {
		depth := "16"
		if *arch == "vgg19" {
			depth = "19"
		}
		return cmdVGG16([]string{mode, "--depth", depth, "--weights", *weights, "--input", *input, "--output", *output, "--batch-size", fmt.Sprint(*batch)})
	}
	src, err := applications.SourceOf(*weights)
	if err != nil {
		return err
	}
	switch {
	case src == "":
		return fmt.Errorf("%s is neither a Keras HDF5 file nor a PyTorch .pth file", *weights)
	case *source == "":
		*source = src
	case *source != src:
		return fmt.Errorf("%s is a %s file, not %s's: give --source %s", *weights, src, *source, src)
	}
	a, err := applications.Lookup(*arch, *source)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	shape, x, err := npy.ReadFile(*input)
	if err != nil {
		return err
	}
	if len(shape) != 4 || shape[3] != 3 {
		return fmt.Errorf("%s: shape %v, want (N, H, W, 3)", *input, shape)
	}
	m, err := a.Build(applications.Config{NoTop: mode == "features", Height: shape[1], Width: shape[2]})
	if err != nil {
		return err
	}
	if err := a.Load(m, *weights); err != nil {
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
	fmt.Printf("%s: %v -> %v with %s's %s weights (inputs must be preprocessed as %s expects)\n", mode, shape, out, a.Source, a.Name, a.Source)
	return nil
}
