package main

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/cli"
	"github.com/capa-ml/capa/viz"
)

// Tile sizes of the pictures, in pixels: a sample image, a feature map,
// a filter.
const (
	vizSampleScale = 4
	vizMapSize     = 72
	vizFilterSize  = 40
)

// cmdVisualize writes pictures of a saved model into a directory: test
// images with their predictions, the confusion matrix, the first
// convolution's filters, the feature maps of one image and the learning
// curves.
func cmdVisualize(args []string) error {
	fs := cli.NewFlagSet("capa visualize", visualizeUsage)
	model := fs.String("model", "", "model file written by capa train or Save (required)")
	imagePath := fs.String("image", "", "PNG or JPEG image whose feature maps to draw (default: the first test image)")
	data := fs.String("data", "", "directory with the Fashion-MNIST files")
	outDir := fs.String("out", "visualize", "directory to write the pictures into")
	samples := fs.Int("samples", 32, "number of test images in samples.png")
	limit := fs.Int("limit", 0, "confusion matrix on the first N test images only (0: all)")
	maxPixels := maxPixelsFlag(fs)
	maxParams := maxParamsFlag(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fs); err != nil {
		return err
	}
	if *samples < 1 || *limit < 0 {
		return cli.Usagef("--samples must be positive and --limit not negative, got %d and %d", *samples, *limit)
	}
	m, names, err := loadModel(*model, *maxParams)
	if err != nil {
		return err
	}
	in := m.InputShape()
	if len(in) != 3 || (in[2] != 1 && in[2] != 3) {
		return fmt.Errorf("visualize takes image models with 1 or 3 channels, this one takes %v", in)
	}
	k := m.OutputShape().Size()
	if names == nil && k == len(dataset.ClassNames) {
		names = dataset.ClassNames[:]
	}
	className := func(c int) string {
		if c < len(names) {
			return names[c]
		}
		return fmt.Sprint(c)
	}
	// Read the image first: a bad file fails before anything is written.
	var img []float32
	var imgName string
	if *imagePath != "" {
		gray, err := dataset.LoadImageFileWith(*imagePath, imageOptions(in[0], in[1], *maxPixels))
		if err != nil {
			return err
		}
		img, imgName = toChannels(gray, in[2]), filepath.Base(*imagePath)
	}
	fashion := in[0] == 28 && in[1] == 28 && in[2] == 1
	if !fashion && img == nil {
		return fmt.Errorf("the model takes %v images, not Fashion-MNIST's 28x28x1: give one with --image", in)
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	write := func(name string, pic image.Image, what string) error {
		path := filepath.Join(*outDir, name)
		if err := viz.WritePNG(path, pic); err != nil {
			return err
		}
		fmt.Printf("wrote %s: %s\n", path, what)
		return nil
	}

	if fashion {
		_, test, err := dataset.LoadFashionMNIST(*data)
		if err != nil {
			return err
		}
		if len(m.OutputShape()) == 1 && k > 1 {
			if err := vizPredictions(m, test, className, *samples, *limit, write); err != nil {
				return err
			}
		} else {
			fmt.Printf("samples.png and confusion.png skipped: the model's output %v is no class vector\n", m.OutputShape())
		}
		if img == nil {
			img, imgName = test.Image(0), fmt.Sprintf("test image 0 (%s)", className(int(test.Labels[0])))
		}
	} else {
		fmt.Printf("samples.png and confusion.png skipped: the model takes %v images, not Fashion-MNIST's 28x28x1\n", in)
	}
	if err := vizFilters(m, write); err != nil {
		return err
	}
	if err := vizFeatureMaps(m, img, imgName, className, write); err != nil {
		return err
	}

	if len(m.State.History["loss"]) == 0 {
		fmt.Printf("curves.png skipped: %s holds no training history (a model saved before any epoch ended, or without its trainer)\n", *model)
		return nil
	}
	h := m.State.History
	var acc, loss []viz.Series
	for _, s := range []struct{ key, name string }{{"", "train"}, {"val_", "validation"}} {
		if y := h[s.key+"accuracy"]; len(y) > 0 {
			acc = append(acc, viz.Series{Name: s.name, Y: y})
		}
		if y := h[s.key+"loss"]; len(y) > 0 {
			loss = append(loss, viz.Series{Name: s.name, Y: y})
		}
	}
	accChart := viz.Chart{Title: "accuracy", XLabel: "epoch", Width: 560, Height: 360, Series: acc}
	lossChart := viz.Chart{Title: "loss", XLabel: "epoch", Width: 560, Height: 360, Series: loss}
	curves := viz.Titled(fmt.Sprintf("learning curves of %s (%d epochs)", filepath.Base(*model), len(h["loss"])), viz.SideBySide(accChart.Draw(), lossChart.Draw()))
	return write("curves.png", curves,
		fmt.Sprintf("learning curves over %d epochs", len(h["loss"])))
}

// vizPredictions writes samples.png (the first test images with their
// predicted classes) and confusion.png (on the first limit test images, 0
// meaning all).
func vizPredictions(m *capa.Model, test *dataset.Set, className func(int) string, samples, limit int, write func(string, image.Image, string) error) error {
	nConf := test.N
	if limit > 0 {
		nConf = min(limit, test.N)
	}
	ns := min(samples, test.N)
	n := max(nConf, ns)
	out, err := m.Predict(test.Images[:n*test.ImageLen()], 500)
	if err != nil {
		return err
	}
	k := m.OutputShape().Size()
	pred := make([]int, n)
	for i := range pred {
		p := out[i*k : (i+1)*k]
		for j, v := range p {
			if v > p[pred[i]] {
				pred[i] = j
			}
		}
	}

	labels := make([]string, ns)
	colors := make([]color.Color, ns)
	right := 0
	for i := range labels {
		truth := int(test.Labels[i])
		if pred[i] == truth {
			labels[i], colors[i] = className(pred[i])+" (ok)", color.RGBA{0, 120, 0, 255}
			right++
		} else {
			labels[i], colors[i] = className(pred[i])+" (was "+className(truth)+")", color.RGBA{200, 0, 0, 255}
		}
	}
	grid, err := viz.Grid(test.Images[:ns*test.ImageLen()], ns, []int{test.H, test.W, test.C},
		viz.GridOptions{Cols: 8, Scale: vizSampleScale, Labels: labels, LabelColors: colors})
	if err != nil {
		return err
	}
	title := fmt.Sprintf("The first %d test images and the predicted class: (ok) when right, (was TRUE CLASS) when wrong.\n%d of %d right.", ns, right, ns)
	if err := write("samples.png", viz.Titled(title, grid), fmt.Sprintf("%d test images, %d predicted right", ns, right)); err != nil {
		return err
	}

	cm := make([][]int, k)
	for i := range cm {
		cm[i] = make([]int, k)
	}
	for i := 0; i < nConf; i++ {
		if t := int(test.Labels[i]); t < k {
			cm[t][pred[i]]++
		}
	}
	names := make([]string, k)
	for i := range names {
		names[i] = className(i)
	}
	pic, err := viz.ConfusionMatrix(cm, names)
	if err != nil {
		return err
	}
	return write("confusion.png", pic, fmt.Sprintf("confusion matrix on %d test images", nConf))
}

// vizFilters writes filters.png: the kernel of the first Conv2D layer.
func vizFilters(m *capa.Model, write func(string, image.Image, string) error) error {
	for _, l := range m.Layers() {
		if _, ok := l.(*graph.Conv2D); !ok {
			continue
		}
		p, err := m.Param(graph.NameOf(l) + "/kernel")
		if err != nil {
			return err
		}
		s := p.Shape()
		pic, err := viz.Filters(p.Data(), s, max(1, vizFilterSize/max(s[0], s[1])))
		if err != nil {
			return err
		}
		how := "averaged over its input channels"
		switch s[2] {
		case 1:
			how = "one input channel"
		case 3:
			how = "as RGB"
		}
		title := fmt.Sprintf("%s: %d filters of %dx%d (%s)", graph.NameOf(l), s[3], s[0], s[1], how)
		return write("filters.png", viz.Titled(title, pic), fmt.Sprintf("the %d filters of %s", s[3], graph.NameOf(l)))
	}
	fmt.Println("filters.png skipped: the model has no Conv2D layer")
	return nil
}

// vizFeatureMaps writes featuremaps-<layer>.png for every convolution and
// pooling layer: its output for the image x, next to x.
func vizFeatureMaps(m *capa.Model, x []float32, name string, className func(int) string, write func(string, image.Image, string) error) error {
	outs, err := m.LayerOutputs(x, 1)
	if err != nil {
		return err
	}
	in := m.InputShape()
	caption := name
	if last := outs[len(outs)-1]; len(m.OutputShape()) == 1 && len(last) > 1 {
		best := 0
		for j, v := range last {
			if v > last[best] {
				best = j
			}
		}
		caption = fmt.Sprintf("%s, predicted %s (%.2f)", name, className(best), last[best])
	}
	input, err := viz.ImageGrid(x, 1, in, []string{"input"}, 1, (vizMapSize+in[0]-1)/in[0])
	if err != nil {
		return err
	}
	wrote := false
	for i, l := range m.Layers() {
		switch l.(type) {
		case *graph.Conv2D, *graph.MaxPooling2D, *graph.AveragePooling2D:
		default:
			continue
		}
		s := m.LayerOutputShape(i)
		pic, err := viz.FeatureMaps(outs[i], s, 8, max(1, vizMapSize/s[0]))
		if err != nil {
			return err
		}
		lname := graph.NameOf(l)
		title := fmt.Sprintf("%s (%s): output %dx%dx%d for %s", lname, l.Class(), s[0], s[1], s[2], caption)
		if err := write("featuremaps-"+fileSafe(lname)+".png", viz.Titled(title, viz.SideBySide(input, pic)),
			fmt.Sprintf("the %d channels of %s for %s", s[2], lname, name)); err != nil {
			return err
		}
		wrote = true
	}
	if !wrote {
		fmt.Println("featuremaps-*.png skipped: the model has no Conv2D or pooling layer")
	}
	return nil
}

// toChannels repeats gray values c times (c is 1 or 3).
func toChannels(gray []float32, c int) []float32 {
	if c == 1 {
		return gray
	}
	out := make([]float32, 0, len(gray)*c)
	for _, v := range gray {
		for range c {
			out = append(out, v)
		}
	}
	return out
}

// fileSafe keeps letters, digits, '-', '_' and '.' of a layer name for a
// file name, replacing the rest with '_'.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}
