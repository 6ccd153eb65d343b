package applications

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/download"
	"github.com/capa-ml/capa/internal/progress"
	"github.com/capa-ml/capa/vgg"
)

// Arch is one network of a family from one source: how to build it, load
// its published weights and preprocess its inputs.
type Arch struct {
	// Name is the network's ("resnet50") and Source its ecosystem
	// ("keras" or "torchvision").
	Name, Source string
	// Build makes the model, Load reads the source's weight file into it.
	Build func(Config) (*graph.Model, error)
	Load  func(m *graph.Model, path string) error
	// Preprocess turns RGB images in [0, 1], NHWC, into the inputs the
	// source's weights were trained on (dst may be src): Keras's "caffe"
	// for ResNet50 (package vgg's, which VGG shares), Keras's "tf" for
	// MobileNetV2, torchvision's ImageNet mean and std for torchvision's.
	Preprocess func(dst, src []float32)
	// Files names the published weight files (with and without the top).
	Files []string
	// MD5 holds the digests Keras publishes for Files (its applications'
	// WEIGHTS_HASHES), where it publishes any: ResNet50's. torchvision's
	// names carry a SHA-256 prefix instead.
	MD5 []string
}

var archs = []Arch{
	{"resnet50", "keras", KerasResNet50, LoadKeras, vgg.PreprocessCaffe,
		[]string{"resnet50_weights_tf_dim_ordering_tf_kernels.h5", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"},
		[]string{"2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"}},
	{"mobilenet_v2", "keras", KerasMobileNetV2, LoadKeras, PreprocessTF,
		[]string{"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5", "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"}, nil},
	{"resnet18", "torchvision", TorchResNet18, LoadTorchvision, vgg.PreprocessTorch, []string{"resnet18-f37072fd.pth"}, nil},
	{"resnet34", "torchvision", TorchResNet34, LoadTorchvision, vgg.PreprocessTorch, []string{"resnet34-b627a593.pth"}, nil},
	{"resnet50", "torchvision", TorchResNet50, LoadTorchvision, vgg.PreprocessTorch, []string{"resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth"}, nil},
	{"mobilenet_v2", "torchvision", TorchMobileNetV2, LoadTorchvision, vgg.PreprocessTorch, []string{"mobilenet_v2-b0353104.pth"}, nil},
}

// Lookup returns the network name from source ("" for the first source
// that has it: Keras's for resnet50 and mobilenet_v2).
func Lookup(name, source string) (Arch, error) {
	var have []string
	for _, a := range archs {
		if a.Name == name && (source == "" || a.Source == source) {
			return a, nil
		}
		have = append(have, a.Name+" ("+a.Source+")")
	}
	sort.Strings(have)
	return Arch{}, fmt.Errorf("applications: no network %q from %q; there are %s", name, source, strings.Join(have, ", "))
}

// PreprocessTF is Keras's "tf" preprocessing (MobileNetV2's): [0, 1] to
// [-1, 1].
func PreprocessTF(dst, src []float32) {
	for i, v := range src {
		dst[i] = 2*v - 1
	}
}

// SourceOf tells from a weight file's first bytes which ecosystem wrote
// it: "keras" for HDF5 (at offset 0, where Keras writes it),
// "torchvision" for a PyTorch file (a zip archive, or a legacy pickle), ""
// for anything else.
func SourceOf(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("applications: %w", err)
	}
	defer f.Close()
	head := make([]byte, 8)
	if _, err := io.ReadFull(f, head); err != nil {
		return "", nil
	}
	switch {
	case string(head) == "\x89HDF\r\n\x1a\n":
		return "keras", nil
	case string(head[:4]) == "PK\x03\x04" || head[0] == 0x80:
		return "torchvision", nil
	}
	return "", nil
}

// URL is where the source publishes the weight file name.
func (a Arch) URL(name string) string {
	if a.Source == "torchvision" {
		return "https://download.pytorch.org/models/" + name
	}
	dir := map[string]string{"resnet50": "resnet", "mobilenet_v2": "mobilenet_v2"}[a.Name]
	return "https://storage.googleapis.com/tensorflow/keras-applications/" + dir + "/" + name
}

// File is the published weight file for the whole network (top) or its
// base: Keras publishes both, torchvision one file for both.
func (a Arch) File(top bool) string {
	if !top && len(a.Files) > 1 && a.Source == "keras" {
		return a.Files[1]
	}
	return a.Files[0]
}

// FindWeights looks for the published weight file in the caches where
// Keras, torchvision and Capa keep them: $CAPA_WEIGHTS_DIR, ~/.keras/models,
// ~/.cache/torch/hub/checkpoints and the user cache's capa/<name>; a
// file not found is downloaded into the last (Download) where its source
// publishes a digest to check it by: torchvision's and Keras's ResNet50.
// Keras's MobileNetV2 files (no published digest) are not downloaded: the
// error says where to get one and where to put it.
func (a Arch) FindWeights(top bool) (string, error) {
	return a.findWeights(top, Downloader{})
}

// Downloader fetches the published files. Zero values: the official
// server, the user cache, a progress bar on stderr.
type Downloader struct {
	BaseURL  string // instead of the source's (Arch.URL's directory)
	CacheDir string // instead of the user cache's capa/<name>
	Client   *http.Client
	Progress io.Writer // nil: os.Stderr
}

// Download fetches a weight file into the cache (resuming a partial
// download) and checks it: a torchvision file by the SHA-256 prefix its
// name carries (resnet18-f37072fd.pth), as torch.hub does, a Keras file by
// the MD5 Keras publishes (a.MD5), as keras.utils.get_file does. A file
// without a published digest is refused.
func (d Downloader) Download(a Arch, top bool) (string, error) {
	name := a.File(top)
	opt := download.Options{Client: d.Client}
	if a.Source == "torchvision" {
		i, j := strings.LastIndexByte(name, '-'), strings.LastIndexByte(name, '.')
		if i < 0 || j < i+9 {
			return "", fmt.Errorf("applications: %s carries no SHA-256 prefix", name)
		}
		opt.Hash, opt.Sum, opt.SumPrefix = sha256.New, name[i+1:j], true
	} else {
		k := slices.Index(a.Files, name)
		if k < 0 || k >= len(a.MD5) {
			return "", fmt.Errorf("applications: %s's %s files are not downloaded (%s publishes no digest to check them by)", a.Source, a.Name, a.Source)
		}
		opt.Hash, opt.Sum = md5.New, a.MD5[k]
	}
	url := a.URL(name)
	if d.BaseURL != "" {
		url = d.BaseURL + name
	}
	dir := d.CacheDir
	if dir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("applications: no cache directory: %w", err)
		}
		dir = filepath.Join(c, "capa", a.Name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("applications: %w", err)
	}
	w := d.Progress
	if w == nil {
		w = os.Stderr
	}
	report := progress.Downloads(w)
	dst := filepath.Join(dir, name)
	opt.Progress = func(done, total int64) { report(name, done, total) }
	err := download.File(context.Background(), url, dst, opt)
	if err != nil {
		return "", fmt.Errorf("applications: %w", err)
	}
	return dst, nil
}

func (a Arch) findWeights(top bool, d Downloader) (string, error) {
	name := a.File(top)
	var dirs []string
	if d := os.Getenv("CAPA_WEIGHTS_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, ".keras", "models"), filepath.Join(h, ".cache", "torch", "hub", "checkpoints"))
	}
	if c, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(c, "capa", a.Name))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if a.Source == "torchvision" || len(a.MD5) > 0 {
		p, err := d.Download(a, top)
		if err != nil {
			return "", fmt.Errorf("%w\n(offline: download %s and put it in one of %s, or give its path)", err, a.URL(name), strings.Join(dirs, ", "))
		}
		return p, nil
	}
	return "", fmt.Errorf("applications: no %s weights for %s (not downloaded: %s publishes no digest to check them by): download %s and put it in one of %s (or give its path)",
		a.Source, a.Name, a.Source, a.URL(name), strings.Join(dirs, ", "))
}
