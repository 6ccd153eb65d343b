// Command capa trains, evaluates and uses Capa models on Fashion-MNIST.
//
//	capa train    [--epochs 10] [--batch-size 32] [--lr 1e-3] [--optimizer adam] [--seed 1]
//	              [--out model.safetensors] [--data DIR] [--limit N] [--report FILE.json]
//	capa train    --resume CHECKPOINT
//	capa evaluate --model FILE [--data DIR] [--report FILE.json]
//	capa predict  --model FILE IMAGE...
//	capa summary  --model FILE
//	capa export   --model FILE --format onnx|tfjs --out PATH
//	capa import   M.onnx|DIR/model.json|M.h5|M.keras --out M.safetensors
//	capa augment  --preview FILE.png [--data DIR] [--n 8] [--copies 8] [--seed 1]
//	capa visualize --model FILE [--image IMG] [--data DIR] [--out visualize] [--samples 32] [--limit N]
package main

import (
	"fmt"
	"os"

	"github.com/capa-ml/capa/internal/cli"
)

const usage = `capa: convolutional networks in Go, the Keras way.

Usage:
  capa train    [flags]            train the practical's CNN on Fashion-MNIST
  capa train    --resume FILE      continue an interrupted training run
  capa evaluate --model FILE       test accuracy, loss and confusion matrix
  capa predict  --model FILE IMG.. classify PNG or JPEG images
  capa summary  --model FILE       print a saved model's summary
  capa export   --model FILE --format onnx|tfjs|keras --out PATH
                                   write a saved model for other runtimes (ONNX, TensorFlow.js, Keras 3)
  capa import   M.onnx|model.json|M.h5|M.keras --out M.safetensors
                                   an ONNX, TensorFlow.js or Keras model as a Capa model file
  capa experiment CONFIG.json...  train configurations, choose on validation, test once
  capa vgg16 features|predict --weights FILE --input X.npy --output Y.npy
                                   run VGG16 with published weights on arrays
  capa app features|predict --arch NAME --weights FILE --input X.npy --output Y.npy
                                   the same for resnet18/34/50, mobilenet_v2, vgg16/19
  capa serve    --model NAME=PATH  serve models over HTTP (TensorFlow Serving and KServe v2 APIs)
  capa loadtest --model FILE       requests/s and latencies of capa serve at 1, 16, 64 clients
  capa bench    [flags]            training and inference speed, memory, and a PyTorch peer
  capa augment  --preview FILE.png a grid of Fashion-MNIST images and augmented copies
  capa visualize --model FILE      pictures: predictions, confusion matrix, filters,
                                   feature maps, learning curves (PNG, into ./visualize)

Run "capa COMMAND -h" or "capa help COMMAND" for the flags of a command.
`

func main() {
	os.Exit(dispatch(os.Args[1:]))
}

// commands maps each subcommand to its function. A function returns a
// *cli.UsageError for a mistake in its command line, flag.ErrHelp after
// printing its help (cli.Parse does both), or the error of the run.
var commands = map[string]func([]string) error{
	"train":      cmdTrain,
	"evaluate":   cmdEvaluate,
	"predict":    cmdPredict,
	"summary":    cmdSummary,
	"export":     cmdExport,
	"import":     cmdImport,
	"vgg16":      cmdVGG16,
	"app":        cmdApp,
	"experiment": cmdExperiment,
	"bench":      cmdBench,
	"augment":    cmdAugment,
	"visualize":  cmdVisualize,
	"serve":      cmdServe,
	"loadtest":   cmdLoadtest,
}

// dispatch runs the command line args (without the program name) and returns
// the exit status: 0 on success or help, 2 for a usage error, 1 when the
// command fails (see package internal/cli).
func dispatch(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return cli.StatusUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		fmt.Print(usage)
		return cli.StatusOK
	case "help":
		switch len(args) {
		case 1:
			fmt.Print(usage)
			return cli.StatusOK
		case 2:
			name, args = args[1], []string{args[1], "-h"}
		default:
			return cli.Status(os.Stderr, "capa help", cli.Usagef("give one command, got %q", args[1:]))
		}
	}
	f, ok := commands[name]
	if !ok {
		return cli.Status(os.Stderr, "capa", cli.Usagef("unknown command %q", name))
	}
	return cli.Status(os.Stderr, "capa "+name, f(args[1:]))
}
