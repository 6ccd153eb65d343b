// Command capa trains, evaluates and uses Capa models on Fashion-MNIST.
//
//	capa train    [--epochs 10] [--batch-size 32] [--lr 1e-3] [--optimizer adam] [--seed 1]
//	              [--out model.safetensors] [--data DIR] [--limit N] [--report FILE.json]
//	capa train    --resume CHECKPOINT
//	capa evaluate --model FILE [--data DIR] [--report FILE.json]
//	capa predict  --model FILE IMAGE...
//	capa summary  --model FILE
//	capa augment  --preview FILE.png [--data DIR] [--n 8] [--copies 8] [--seed 1]
//	capa visualize --model FILE [--image IMG] [--data DIR] [--out visualize] [--samples 32] [--limit N]
package main

import (
	"fmt"
	"os"
)

const usage = `capa: convolutional networks in Go, the Keras way.

Usage:
  capa train    [flags]            train the practical's CNN on Fashion-MNIST
  capa train    --resume FILE      continue an interrupted training run
  capa evaluate --model FILE       test accuracy, loss and confusion matrix
  capa predict  --model FILE IMG.. classify PNG or JPEG images
  capa summary  --model FILE       print a saved model's summary
  capa experiment CONFIG.json...  train configurations, choose on validation, test once
  capa vgg16 features|predict --weights FILE --input X.npy --output Y.npy
                                   run VGG16 with published weights on arrays
  capa bench    [flags]            training and inference speed, memory, and a PyTorch peer
  capa augment  --preview FILE.png a grid of Fashion-MNIST images and augmented copies
  capa visualize --model FILE      pictures: predictions, confusion matrix, filters,
                                   feature maps, learning curves (PNG, into ./visualize)

Run "capa COMMAND -h" for the flags of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"train":      cmdTrain,
		"evaluate":   cmdEvaluate,
		"predict":    cmdPredict,
		"summary":    cmdSummary,
		"vgg16":      cmdVGG16,
		"experiment": cmdExperiment,
		"bench":      cmdBench,
		"augment":    cmdAugment,
		"visualize":  cmdVisualize,
	}
	name := os.Args[1]
	if name == "-h" || name == "--help" || name == "help" {
		fmt.Print(usage)
		return
	}
	f, ok := cmds[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "capa: unknown command %q\n\n%s", name, usage)
		os.Exit(2)
	}
	if err := f(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "capa %s: %v\n", name, err)
		os.Exit(1)
	}
}
