// Command transfer-demo shows transfer learning with VGG16 in Capa.
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
// --weights FILE takes Keras's HDF5 or torchvision's .pth VGG16 weights;
// without it the Keras file is taken from the user cache or downloaded.
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
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/cli"
	"github.com/capa-ml/capa/train"
	"github.com/capa-ml/capa/transfer"
	"github.com/capa-ml/capa/vgg"
)

type options struct {
	data, weights, out, dataDir string
	n, size, epochs, batch      int
	fineTune                    int
	seed                        uint64
	randomOK                    bool
	maxPixels                   *cli.Pixels
}

const usage = `Usage: transfer-demo [flags]

Transfer learning with VGG16. With --data DIR (one sub-folder of PNG or JPEG
images per class) it trains a classifier head on VGG16's frozen
convolutional base, optionally fine-tunes block5, and saves the model to
--out. Without --data it compares, on N Fashion-MNIST training images, VGG16
features plus a head against the course's CNN trained from scratch.
`

func main() {
	cli.Exit("transfer-demo", run(os.Args[1:]))
}

// run parses args and runs the demo; see package internal/cli for the
// meaning of its errors.
func run(args []string) error {
	var o options
	fs := cli.NewFlagSet("transfer-demo", usage)
	fs.StringVar(&o.data, "data", "", "image folder, one sub-folder per class (default: the Fashion-MNIST small-data story)")
	fs.StringVar(&o.weights, "weights", "", "VGG16 weights: Keras .h5 or torchvision .pth (default: Keras's, from the cache or downloaded)")
	fs.BoolVar(&o.randomOK, "random-weights", false, "run with random VGG16 weights when no weight file is available (the accuracy then means nothing)")
	fs.StringVar(&o.dataDir, "fashion-dir", "", "directory with the Fashion-MNIST files (as capa train --data)")
	fs.IntVar(&o.n, "n", 1000, "Fashion-MNIST: number of training images")
	fs.IntVar(&o.size, "size", 150, "--data: images are resized to SIZExSIZE")
	o.maxPixels = cli.PixelsVar(fs, "max-pixels", dataset.DefaultMaxPixels, "--data: largest image to decode, in pixels: a count or WIDTHxHEIGHT; a larger image is refused from its header")
	fs.IntVar(&o.epochs, "epochs", 20, "epochs for the head and for the CNN from scratch")
	fs.IntVar(&o.batch, "batch-size", 32, "batch size")
	fs.IntVar(&o.fineTune, "fine-tune", 0, "--data: epochs of fine-tuning block5 after the head (0: none)")
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

// base builds VGG16's base for size x size images and loads the weights.
func base(o options, size int) (*graph.Model, vgg.Source, error) {
	m, err := vgg.VGG16(vgg.Config{Height: size, Width: size, Seed: o.seed})
	if err != nil {
		return nil, 0, err
	}
	path := o.weights
	if path == "" {
		if path, err = vgg.KerasWeights(false); err != nil {
			if !o.randomOK {
				return nil, 0, fmt.Errorf("%w\n(or run with --random-weights to see the demo work without them; its accuracy then means nothing)", err)
			}
			fmt.Println("WARNING: no VGG16 weight file: running with RANDOM weights. The accuracy below says nothing about transfer learning; meaningful accuracy needs the real ImageNet weights.")
			return m, vgg.Keras, nil
		}
	}
	src, err := vgg.LoadWeights(m, path)
	if err != nil {
		return nil, 0, err
	}
	fmt.Printf("VGG16 base: %s weights from %s\n", src, filepath.Base(path))
	fmt.Println("Note: meaningful accuracy needs the real ImageNet weights; generated test files hold random weights.")
	return m, src, nil
}

// features preprocesses RGB images in [0, 1] for the weights and runs the
// frozen base once over them.
func features(b *graph.Model, src vgg.Source, s *dataset.Set) ([]float32, error) {
	x := make([]float32, len(s.Images))
	src.Preprocess(x, s.Images)
	return transfer.Features(b, x, 64, os.Stderr)
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
	b, src, err := base(o, 32)
	if err != nil {
		return err
	}
	t0 := time.Now()
	fmt.Println("Extracting VGG16 features (the frozen base runs once per image)...")
	ftr, err := features(b, src, dataset.ToRGB(small, 32))
	if err != nil {
		return err
	}
	fte, err := features(b, src, dataset.ToRGB(testSet, 32))
	if err != nil {
		return err
	}
	ht, err := fitHead(o, ftr, labels(small), small.N, b.OutputShape(), 10, nil)
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
	fmt.Printf("  VGG16 features + head (32x32 RGB)  %.4f  (%.0f s)\n", rv.Accuracy, tv.Seconds())
	fmt.Printf("  CNN from scratch (28x28 gray)      %.4f  (%.0f s)\n", rc.Accuracy, tc.Seconds())
	fmt.Println("VGG16's ImageNet features transfer only with the real ImageNet weights; with random or generated weight files these numbers say nothing about transfer learning.")
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
	b, src, err := base(o, o.size)
	if err != nil {
		return err
	}
	ftr, err := features(b, src, tr)
	if err != nil {
		return err
	}
	fval, err := features(b, src, val)
	if err != nil {
		return err
	}
	vd := graph.Data{X: fval, Y: labels(val), N: val.N}
	head, err := fitHead(o, ftr, labels(tr), tr.N, b.OutputShape(), max(2, len(classes)), &vd)
	if err != nil {
		return err
	}
	m, err := transfer.Combine(b, head)
	if err != nil {
		return err
	}
	fmt.Print(m.Summary())
	if err := m.Compile(&train.Adam{LearningRate: 1e-5}, train.SparseCategoricalCrossentropy{}); err != nil {
		return err
	}
	x := make([]float32, len(tr.Images))
	src.Preprocess(x, tr.Images)
	xv := make([]float32, len(val.Images))
	src.Preprocess(xv, val.Images)
	if o.fineTune > 0 {
		if err := transfer.UnfreezeFrom(m, "block5_conv1"); err != nil {
			return err
		}
		fmt.Println("Fine-tuning block5 with learning rate 1e-5:")
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
