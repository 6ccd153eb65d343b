package main

import (
	"fmt"
	"strings"

	"github.com/capa-ml/capa/applications"
	"github.com/capa-ml/capa/graph"
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
	io := netFlags(fs, "the published weight file: Keras .h5 or torchvision .pth (required)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fs); err != nil {
		return err
	}
	if *arch == "" || io.missing() {
		return cli.Usagef("--arch, --weights, --input and --output are required")
	}
	if *arch == "vgg16" || *arch == "vgg19" {
		return cmdVGG16([]string{mode, "--depth", strings.TrimPrefix(*arch, "vgg"), "--weights", *io.weights,
			"--input", *io.input, "--output", *io.output, "--batch-size", fmt.Sprint(*io.batch)})
	}
	src, err := applications.SourceOf(*io.weights)
	if err != nil {
		return err
	}
	switch {
	case src == "":
		return fmt.Errorf("%s is neither a Keras HDF5 file nor a PyTorch .pth file", *io.weights)
	case *source == "":
		*source = src
	case *source != src:
		return fmt.Errorf("%s is a %s file, not %s's: give --source %s", *io.weights, src, *source, src)
	}
	a, err := applications.Lookup(*arch, *source)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	return io.run(mode, func(h, w int) (*graph.Model, string, error) {
		m, err := a.Build(applications.Config{NoTop: mode == "features", Height: h, Width: w})
		if err != nil {
			return nil, "", err
		}
		return m, a.Source + "'s " + a.Name, a.Load(m, *io.weights)
	})
}
