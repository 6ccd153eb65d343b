// Command transfer-demo shows transfer learning in Capa, with VGG16 or
// (--base) ResNet50, MobileNetV2, ResNet18 or ResNet34.
//
// With --data DIR (one sub-folder of PNG/JPEG images per class) it trains a
// classifier head on VGG16's frozen convolutional base for the user's
// images, optionally fine-tunes the last block, and saves the model.
//
// Without --data it tells the small-data story on Fashion-MNIST: N training
// images (default 1,000); VGG16 features of 32x32 RGB copies plus a head,
// against the course's CNN trained from scratch on the same images; both
// test accuracies are printed.
//
// --weights FILE takes Keras's HDF5 or torchvision's .pth weights of the
// base; without it VGG16's Keras file is taken from the user cache or
// downloaded, and the other bases' from Keras's or torchvision's caches.
// Meaningful accuracy needs the real ImageNet weights: with random weights
// (such as the generated test files) the demo runs but proves nothing.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/applications"
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/cli"
	"github.com/capa-ml/capa/train"
	"github.com/capa-ml/capa/transfer"
	"github.com/capa-ml/capa/vgg"
)

type options struct {
	base, source                string
	data, weights, out, dataDir string
	n, size, epochs, batch      int
	fineTune                    int
	seed                        uint64
	randomOK                    bool
	maxPixels                   *cli.Pixels
}

const usage = `Usage: transfer-demo [flags]

Transfer learning with VGG16 (or --base resnet50, mobilenet_v2, resnet18,
resnet34). With --data DIR (one sub-folder of PNG or JPEG images per class)
it trains a classifier head on the base's frozen convolutional layers,
optionally fine-tunes its last block, and saves the model to --out. Without
--data it compares, on N Fashion-MNIST training images, the base's features
plus a head against the course's CNN trained from scratch.
`

func main() {
	cli.Exit("transfer-demo", run(os.Args[1:]))
}

// run parses args and runs the demo; see package internal/cli for the
// meaning of its errors.
func run(args []string) error {
	var o options
	fs := cli.NewFlagSet("transfer-demo", usage)
	fs.StringVar(&o.base, "base", "vgg16", "the pretrained base: vgg16, resnet50 or mobilenet_v2 (Keras's or torchvision's, from the weight file; resnet18 and resnet34: torchvision's)")
	fs.StringVar(&o.source, "source", "", "keras or torchvision, for a base without --weights (default keras, where Keras publishes the network)")
	fs.StringVar(&o.data, "data", "", "image folder, one sub-folder per class (default: the Fashion-MNIST small-data story)")
	fs.StringVar(&o.weights, "weights", "", "the base's weights: Keras .h5 or torchvision .pth (default: VGG16's Keras file from the cache or downloaded; the other bases' from the Keras or torchvision caches)")
	fs.BoolVar(&o.randomOK, "random-weights", false, "run with random base weights when no weight file is available (the accuracy then means nothing)")
	fs.StringVar(&o.dataDir, "fashion-dir", "", "directory with the Fashion-MNIST files (as capa train --data)")
	fs.IntVar(&o.n, "n", 1000, "Fashion-MNIST: number of training images")
	fs.IntVar(&o.size, "size", 150, "--data: images are resized to SIZExSIZE")
	o.maxPixels = cli.PixelsVar(fs, "max-pixels", dataset.DefaultMaxPixels, "--data: largest image to decode, in pixels: a count or WIDTHxHEIGHT; a larger image is refused from its header")
	fs.IntVar(&o.epochs, "epochs", 20, "epochs for the head and for the CNN from scratch")
	fs.IntVar(&o.batch, "batch-size", 32, "batch size")
	fs.IntVar(&o.fineTune, "fine-tune", 0, "--data: epochs of fine-tuning the base's last block after the head (0: none)")
	fs.StringVar(&o.out, "out", "transfer.safetensors", "--data: where to save the combined model")
	fs.Uint64Var(&o.seed, "seed", 1, "seed")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fs); err != nil {
		return err
	}
	if o.epochs < 1 || o.batch < 1 || o.size < 1 || o.fineTune < 0 {
		return cli.Usagef("--epochs, --batch-size and --size must be positive and --fine-tune not negative; got %d, %d, %d, %d", o.epochs, o.batch, o.size, o.fineTune)
	}
	if o.data != "" {
		return folderDemo(o)
	}
	return fashionDemo(o)
}

// pretrained is a frozen base with its preprocessing and the layer its
// last block starts at (for fine-tuning).
type pretrained struct {
	name       string
	model      *graph.Model
	preprocess func(dst, src []float32)
	lastBlock  string
}

// lastBlocks names where each base's last block starts.
var lastBlocks = map[string]string{
	"vgg16": "block5_conv1", "resnet50/keras": "conv5_block1_1_conv", "mobilenet_v2/keras": "block_16_expand",
	"resnet18/torchvision": "layer4_0_conv1", "resnet34/torchvision": "layer4_0_conv1", "resnet50/torchvision": "layer4_0_conv1",
	"mobilenet_v2/torchvision": "features_17_conv_0_0",
}

// base builds the chosen base for size x size images and loads the weights.
func base(o options, size int) (pretrained, error) {
	if o.base == "vgg16" {
		return vggBase(o, size)
	}
	source := o.source
	if o.weights != "" {
		src, err := applications.SourceOf(o.weights)
		if err != nil {
			return pretrained{}, err
		}
		source = src
	} else if source == "" {
		source = "keras"
		if o.base == "resnet18" || o.base == "resnet34" {
			source = "torchvision"
		}
	}
	a, err := applications.Lookup(o.base, source)
	if err != nil {
		return pretrained{}, cli.Usagef("--base: %v", err)
	}
	// Global average pooling ends the base, as Keras's pooling="avg".
	m, err := a.Build(applications.Config{NoTop: true, Pooling: "avg", Height: size, Width: size, Seed: o.seed})
	if err != nil {
		return pretrained{}, err
	}
	p := pretrained{name: fmt.Sprintf("%s (%s)", a.Name, a.Source), model: m, preprocess: a.Preprocess, lastBlock: lastBlocks[a.Name+"/"+a.Source]}
	path := o.weights
	if path == "" {
		if path, err = a.FindWeights(false); err != nil {
			if !o.randomOK {
				return pretrained{}, fmt.Errorf("%w\n(or run with --random-weights to see the demo work without them; its accuracy then means nothing)", err)
			}
			fmt.Printf("WARNING: no %s weight file: running with RANDOM weights. The accuracy below says nothing about transfer learning.\n", p.name)
			return p, nil
		}
	}
	if err := a.Load(m, path); err != nil {
		return pretrained{}, err
	}
	fmt.Printf("%s base: weights from %s\n", p.name, filepath.Base(path))
	return p, nil
}

// vggBase is VGG16's base, its weights from --weights or Keras's file.
func vggBase(o options, size int) (pretrained, error) {
	m, err := vgg.VGG16(vgg.Config{Height: size, Width: size, Seed: o.seed})
	if err != nil {
		return pretrained{}, err
	}
	p := pretrained{name: "VGG16", model: m, preprocess: vgg.Keras.Preprocess, lastBlock: lastBlocks["vgg16"]}
	path := o.weights
	if path == "" {
		if path, err = vgg.KerasWeights(false); err != nil {
			if !o.randomOK {
				return pretrained{}, fmt.Errorf("%w\n(or run with --random-weights to see the demo work without them; its accuracy then means nothing)", err)
			}
			fmt.Println("WARNING: no VGG16 weight file: running with RANDOM weights. The accuracy below says nothing about transfer learning; meaningful accuracy needs the real ImageNet weights.")
			return p, nil
		}
	}
	src, err := vgg.LoadWeights(m, path)
	if err != nil {
		return pretrained{}, err
	}
	p.preprocess = src.Preprocess
	fmt.Printf("VGG16 base: %s weights from %s\n", src, filepath.Base(path))
	fmt.Println("Note: meaningful accuracy needs the real ImageNet weights; generated test files hold random weights.")
	return p, nil
}

// features preprocesses RGB images in [0, 1] for the weights and runs the
// frozen base once over them.
func features(b pretrained, s *dataset.Set) ([]float32, error) {
	x := make([]float32, len(s.Images))
	b.preprocess(x, s.Images)
	return transfer.Features(b.model, x, 64, os.Stderr)
}

func labels(s *dataset.Set) []float32 { return capa.FromSet(s).Y }

func fitHead(o options, feats []float32, y []float32, n int, shape graph.Shape, classes int, val *graph.Data) (*graph.Model, error) {
	head, err := transfer.HeadModel(shape, transfer.Head{Classes: classes}, o.seed)
	if err != nil {
		return nil, err
	}
	if err := head.Compile(&train.Adam{LearningRate: 1e-3}, train.SparseCategoricalCrossentropy{}); err != nil {
		return nil, err
	}
	fmt.Print(head.Summary())
	_, err = head.FitContext(context.Background(), graph.Data{X: feats, Y: y, N: n}, graph.FitOptions{
		Epochs: o.epochs, BatchSize: o.batch, ValidationData: val,
	})
	return head, err
}

func fashionDemo(o options) error {
	trainSet, testSet, err := dataset.LoadFashionMNIST(o.dataDir)
	if err != nil {
		return err
	}
	if o.n < 10 || o.n > trainSet.N {
		return fmt.Errorf("--n must be between 10 and %d, got %d", trainSet.N, o.n)
	}
	small := trainSet.Slice(0, o.n)
	fmt.Printf("The small-data story: %d Fashion-MNIST training images, %d test images.\n\n", small.N, testSet.N)

	// 1. VGG16 features of 32x32 RGB copies, and a head trained on them.
	b, err := base(o, 32)
	if err != nil {
		return err
	}
	t0 := time.Now()
	fmt.Printf("Extracting %s features (the frozen base runs once per image)...\n", b.name)
	ftr, err := features(b, dataset.ToRGB(small, 32))
	if err != nil {
		return err
	}
	fte, err := features(b, dataset.ToRGB(testSet, 32))
	if err != nil {
		return err
	}
	ht, err := fitHead(o, ftr, labels(small), small.N, b.model.OutputShape(), 10, nil)
	if err != nil {
		return err
	}
	rv, err := ht.Evaluate(graph.Data{X: fte, Y: labels(testSet), N: testSet.N}, 1000)
	if err != nil {
		return err
	}
	tv := time.Since(t0)

	// 2. The course's CNN from scratch on the same images.
	t1 := time.Now()
	cnn, err := capa.PracticalCNN(0, o.seed)
	if err != nil {
		return err
	}
	if err := cnn.Compile(&train.Adam{}, train.SparseCategoricalCrossentropy{}); err != nil {
		return err
	}
	fmt.Println("\nThe course's CNN from scratch on the same images:")
	if _, err := cnn.Fit(capa.FromSet(small), graph.FitOptions{Epochs: o.epochs, BatchSize: o.batch}); err != nil {
		return err
	}
	rc, err := cnn.Evaluate(capa.FromSet(testSet), 1000)
	if err != nil {
		return err
	}
	tc := time.Since(t1)

	fmt.Printf("\nTest accuracy with %d training images:\n", small.N)
	fmt.Printf("  %s features + head (32x32 RGB)  %.4f  (%.0f s)\n", b.name, rv.Accuracy, tv.Seconds())
	fmt.Printf("  CNN from scratch (28x28 gray)      %.4f  (%.0f s)\n", rc.Accuracy, tc.Seconds())
	fmt.Println("ImageNet features transfer only with the real ImageNet weights; with random or generated weight files these numbers say nothing about transfer learning.")
	return nil
}

func folderDemo(o options) error {
	set, classes, err := dataset.LoadImageFolderWith(o.data, dataset.ImageOptions{
		Height: o.size, Width: o.size, Channels: 3, MaxPixels: int64(*o.maxPixels), RaiseHint: "--max-pixels"})
	if err != nil {
		return err
	}
	// Shuffle once (seeded), then hold out the last 20% for validation.
	rng := newRand(o.seed)
	set.Shuffle(rng)
	nVal := max(1, set.N/5)
	tr, val := set.Split(nVal)
	fmt.Printf("%d images of %d classes %v: %d for training, %d for validation\n", set.N, len(classes), classes, tr.N, val.N)
	b, err := base(o, o.size)
	if err != nil {
		return err
	}
	ftr, err := features(b, tr)
	if err != nil {
		return err
	}
	fval, err := features(b, val)
	if err != nil {
		return err
	}
	vd := graph.Data{X: fval, Y: labels(val), N: val.N}
	head, err := fitHead(o, ftr, labels(tr), tr.N, b.model.OutputShape(), max(2, len(classes)), &vd)
	if err != nil {
		return err
	}
	m, err := transfer.Combine(b.model, head)
	if err != nil {
		return err
	}
	fmt.Print(m.Summary())
	if err := m.Compile(&train.Adam{LearningRate: 1e-5}, train.SparseCategoricalCrossentropy{}); err != nil {
		return err
	}
	x := make([]float32, len(tr.Images))
	b.preprocess(x, tr.Images)
	xv := make([]float32, len(val.Images))
	b.preprocess(xv, val.Images)
	if o.fineTune > 0 {
		if err := transfer.UnfreezeFrom(m, b.lastBlock); err != nil {
			return err
		}
		fmt.Printf("Fine-tuning from %s with learning rate 1e-5:\n", b.lastBlock)
		if _, err := m.FitContext(context.Background(), graph.Data{X: x, Y: labels(tr), N: tr.N}, graph.FitOptions{
			Epochs: o.fineTune, BatchSize: o.batch, ValidationData: &graph.Data{X: xv, Y: labels(val), N: val.N},
		}); err != nil && !errors.Is(err, graph.ErrInterrupted) {
			return err
		}
	}
	r, err := m.Evaluate(graph.Data{X: xv, Y: labels(val), N: val.N}, 32)
	if err != nil {
		return err
	}
	fmt.Printf("Validation accuracy: %.4f\n", r.Accuracy)
	if err := m.Save(o.out); err != nil {
		return err
	}
	fmt.Printf("Model saved to %s\n", o.out)
	return nil
}
