// Package dataset loads image-classification data sets into memory as
// float32 tensors ready for training: Fashion-MNIST (with local lookup and a
// verified download), any MNIST-style pair of IDX files, and single PNG or
// JPEG images converted to look like Fashion-MNIST samples.
//
// Layout: images are NHWC (example, row, column, channel), row-major, so
// pixel (n, y, x, c) of a Set is Images[((n*H+y)*W+x)*C+c]. Pixel values are
// scaled to [0, 1] (a uint8 v becomes v/255).
package dataset

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/capa-ml/capa/formats/idx"
)

// Set is an in-memory labelled image data set.
//
// Images holds N images of H×W pixels with C channels in NHWC order, values
// in [0, 1]; Labels holds the N class indices. Sets returned by Slice and
// Split share their backing arrays with the receiver.
type Set struct {
	Images     []float32 // len N*H*W*C, NHWC, in [0, 1]
	Labels     []uint8   // len N, class indices
	N, H, W, C int       // examples, height, width, channels
}

// ImageLen returns the number of values in one image, H*W*C.
func (s *Set) ImageLen() int { return s.H * s.W * s.C }

// Image returns the HWC pixels of example i. The slice aliases s.Images.
// It panics if i is out of [0, N).
func (s *Set) Image(i int) []float32 {
	if i < 0 || i >= s.N {
		panic(fmt.Sprintf("dataset: Image(%d) out of range [0, %d)", i, s.N))
	}
	n := s.ImageLen()
	return s.Images[i*n : (i+1)*n : (i+1)*n]
}

// Slice returns examples [from, to) as a view: the returned Set shares
// Images and Labels with s (writes through one are seen by the other; the
// slices have capacity capped so appends do not). It panics, like slicing,
// unless 0 <= from <= to <= N.
func (s *Set) Slice(from, to int) *Set {
	if from < 0 || from > to || to > s.N {
		panic(fmt.Sprintf("dataset: Slice(%d, %d) out of range [0, %d]", from, to, s.N))
	}
	n := s.ImageLen()
	return &Set{
		Images: s.Images[from*n : to*n : to*n],
		Labels: s.Labels[from:to:to],
		N:      to - from, H: s.H, W: s.W, C: s.C,
	}
}

// Split holds out the last nVal examples as a validation set, as Keras's
// validation_split does: train is examples [0, N-nVal) and val is
// [N-nVal, N). Both are views sharing s's memory (see Slice). Shuffle first
// if the order of s is not random. It panics unless 0 <= nVal <= N.
func (s *Set) Split(nVal int) (train, val *Set) {
	if nVal < 0 || nVal > s.N {
		panic(fmt.Sprintf("dataset: Split(%d) out of range [0, %d]", nVal, s.N))
	}
	return s.Slice(0, s.N-nVal), s.Slice(s.N-nVal, s.N)
}

// Clone returns a deep copy of s.
func (s *Set) Clone() *Set {
	c := *s
	c.Images = append([]float32(nil), s.Images...)
	c.Labels = append([]uint8(nil), s.Labels...)
	return &c
}

// Swap exchanges examples i and j in place.
func (s *Set) Swap(i, j int) {
	s.Labels[i], s.Labels[j] = s.Labels[j], s.Labels[i]
	a, b := s.Image(i), s.Image(j)
	for k := range a {
		a[k], b[k] = b[k], a[k]
	}
}

// Shuffle permutes the examples in place using shuffle, typically
// (*math/rand/v2.Rand).Shuffle or rand.Shuffle.
func (s *Set) Shuffle(shuffle func(n int, swap func(i, j int))) {
	shuffle(s.N, s.Swap)
}

// ClassCounts returns how many examples carry each label 0..numClasses-1;
// labels >= numClasses are not counted.
func (s *Set) ClassCounts(numClasses int) []int {
	h := make([]int, numClasses)
	for _, l := range s.Labels {
		if int(l) < numClasses {
			h[l]++
		}
	}
	return h
}

// ErrMismatch is wrapped by the errors of loaders whose image and label
// files disagree (count) or whose images have an unexpected shape.
var ErrMismatch = errors.New("dataset: image and label files do not match")

// LoadIDX loads an MNIST-style pair of IDX files (raw or gzip): imagesPath
// holds uint8 images with dims (N, H, W) (then C = 1) or (N, H, W, C), and
// labelsPath holds N uint8 labels with dims (N). Pixels are scaled to [0, 1].
// Errors name the file at fault.
func LoadIDX(imagesPath, labelsPath string) (*Set, error) {
	img, err := readIDXFile(imagesPath, nil)
	if err != nil {
		return nil, err
	}
	lab, err := readIDXFile(labelsPath, nil)
	if err != nil {
		return nil, err
	}
	return makeSet(imagesPath, img, labelsPath, lab)
}

// idxFile is a parsed IDX file.
type idxFile struct {
	dims []int
	data []byte
}

// readIDXFile reads the IDX file at path. If h is not nil, the uncompressed
// bytes are written to it while they are parsed.
func readIDXFile(path string, h hash.Hash) (*idxFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	limit := int64(idx.DefaultMaxBytes)
	var r io.Reader = f
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		// Deflate expands at most ~1032:1; this bounds what a header may claim.
		limit = min(limit, 1100*fi.Size()+1<<16)
	}
	zr, err := idx.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", path, err)
	}
	if h != nil {
		zr = io.TeeReader(zr, h)
	}
	dims, data, err := idx.ReadLimit(zr, limit)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", path, err)
	}
	return &idxFile{dims, data}, nil
}

// scale maps a uint8 pixel to [0, 1].
var scale = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// makeSet checks that img and lab form a data set and converts the pixels.
func makeSet(imgPath string, img *idxFile, labPath string, lab *idxFile) (*Set, error) {
	if d := img.dims; len(d) != 3 && len(d) != 4 {
		return nil, fmt.Errorf("dataset: %s: image dimensions %v, want (N, H, W) or (N, H, W, C): %w", imgPath, d, ErrMismatch)
	}
	if len(lab.dims) != 1 {
		return nil, fmt.Errorf("dataset: %s: label dimensions %v, want (N): %w", labPath, lab.dims, ErrMismatch)
	}
	s := &Set{N: img.dims[0], H: img.dims[1], W: img.dims[2], C: 1}
	if len(img.dims) == 4 {
		s.C = img.dims[3]
	}
	if lab.dims[0] != s.N {
		return nil, fmt.Errorf("dataset: %s has %d images but %s has %d labels: %w", imgPath, s.N, labPath, lab.dims[0], ErrMismatch)
	}
	s.Labels = lab.data
	s.Images = make([]float32, len(img.data))
	toFloat(s.Images, img.data)
	return s, nil
}

// toFloat sets dst[i] = src[i]/255, splitting large inputs over GOMAXPROCS
// goroutines (the cost is mostly first-touching dst's memory).
func toFloat(dst []float32, src []byte) {
	const minChunk = 1 << 20
	workers := max(1, min(runtime.GOMAXPROCS(0), len(src)/minChunk))
	chunk := (len(src) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(src); lo += chunk {
		hi := min(lo+chunk, len(src))
		wg.Go(func() {
			d := dst[lo:hi]
			for i, v := range src[lo:hi] {
				d[i] = scale[v]
			}
		})
	}
	wg.Wait()
}
