package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ClassNames are the Fashion-MNIST class names, indexed by label.
var ClassNames = [10]string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// FashionMNISTURL is the official download mirror of Fashion-MNIST.
const FashionMNISTURL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

// FashionMNISTEnv is the environment variable naming a directory that holds
// the Fashion-MNIST files.
const FashionMNISTEnv = "FASHION_MNIST_DIR"

// FashionMNISTSystemDir is where the Debian/Ubuntu package
// dataset-fashion-mnist installs the files.
const FashionMNISTSystemDir = "/usr/share/datasets/fashion-mnist"

// ErrNotFound is wrapped by the error LoadFashionMNIST returns when no
// directory holds the files and they cannot be downloaded.
var ErrNotFound = errors.New("dataset: Fashion-MNIST files not found")

// ErrChecksum is wrapped by the error returned for a file whose content does
// not match its published checksum.
var ErrChecksum = errors.New("dataset: checksum mismatch")

// fashionFile describes one of the four Fashion-MNIST files.
type fashionFile struct {
	name   string // official name, gzip-compressed
	gzMD5  string // MD5 of the official .gz (checked on download only)
	sha256 string // SHA-256 of the decompressed IDX bytes (checked on every load)
}

// fashionFiles lists the files in the order train images, train labels, test
// images, test labels. The MD5s are those published in the Fashion-MNIST
// README; the SHA-256s were computed from the decompressed files of the
// Debian package dataset-fashion-mnist 0.0~git20200523.55506a9-1, whose
// decompressed MD5s equal the published ones (f4a8712d..., 9018921c...,
// 8181f547..., 15d48437...). Debian recompressed the .gz files, so only the
// decompressed content can be checked for every source. Tests replace it.
var fashionFiles = [4]fashionFile{
	{"train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
	{"train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
	{"t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
	{"t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
}

// systemDir is FashionMNISTSystemDir; tests point it elsewhere.
var systemDir = FashionMNISTSystemDir

// FashionMNISTOptions configures LoadFashionMNISTWith. The zero value
// searches the default places and downloads into the user cache.
type FashionMNISTOptions struct {
	// Dir, if not empty, is searched first.
	Dir string
	// CacheDir is searched last and receives downloads. Default:
	// os.UserCacheDir()/capa/fashion-mnist.
	CacheDir string
	// BaseURL is the download mirror, ending in "/". Default: FashionMNISTURL.
	BaseURL string
	// Client performs downloads. Default: an http.Client with a 10-minute timeout.
	Client *http.Client
	// Progress is called as a download advances, with the file's name, the
	// bytes so far and the total (-1 if unknown). Default: a progress bar on
	// os.Stderr; pass func(string, int64, int64) {} to silence it.
	Progress func(file string, done, total int64)
	// NoDownload makes a missing data set an error instead of a download.
	NoDownload bool
}

// LoadFashionMNIST loads the Fashion-MNIST training (60000) and test (10000)
// sets: 28×28×1 images in [0, 1] and labels 0..9 (see ClassNames). It is
// LoadFashionMNISTWith(FashionMNISTOptions{Dir: dir}).
func LoadFashionMNIST(dir string) (train, test *Set, err error) {
	return LoadFashionMNISTWith(FashionMNISTOptions{Dir: dir})
}

// LoadFashionMNISTWith loads Fashion-MNIST from the first directory that
// holds all four files, searching in order opts.Dir (if set),
// $FASHION_MNIST_DIR (if set), /usr/share/datasets/fashion-mnist (Debian
// package dataset-fashion-mnist) and the cache directory. Each file may be
// the official gzip-compressed one (train-images-idx3-ubyte.gz, ...) or its
// decompressed form (train-images-idx3-ubyte, ...).
//
// If no directory has them, the missing files are downloaded from
// opts.BaseURL into the cache directory, with progress on opts.Progress;
// each download is checked against the official MD5 and renamed into place
// only when complete and correct.
//
// Every load checks the SHA-256 of each file's decompressed content while it
// is decompressed, then the shapes (28×28 images, as many labels as images)
// and the labels (< 10). Errors name the file at fault; when the data set is
// missing and cannot be downloaded the error wraps ErrNotFound and says how
// to install it.
func LoadFashionMNISTWith(opts FashionMNISTOptions) (train, test *Set, err error) {
	if opts.CacheDir == "" {
		if c, err := os.UserCacheDir(); err == nil {
			opts.CacheDir = filepath.Join(c, "capa", "fashion-mnist")
		}
	}
	var searched []string
	for _, d := range []struct{ dir, what string }{
		{opts.Dir, "explicit directory"},
		{os.Getenv(FashionMNISTEnv), "$" + FashionMNISTEnv},
		{systemDir, "package dataset-fashion-mnist"},
		{opts.CacheDir, "cache"},
	} {
		if d.dir == "" {
			continue
		}
		searched = append(searched, fmt.Sprintf("%s (%s)", d.dir, d.what))
		if paths, ok := findFashion(d.dir); ok {
			return loadFashion(paths)
		}
	}
	if err := downloadFashion(&opts); err != nil {
		return nil, nil, fmt.Errorf("%w in %s; %w\n%s", ErrNotFound, strings.Join(searched, ", "), err, fashionHelp)
	}
	paths, ok := findFashion(opts.CacheDir)
	if !ok {
		return nil, nil, fmt.Errorf("%w in %s after download\n%s", ErrNotFound, opts.CacheDir, fashionHelp)
	}
	return loadFashion(paths)
}

const fashionHelp = `To get Fashion-MNIST, either:
  - install the Debian/Ubuntu package: sudo apt-get install dataset-fashion-mnist
    (files in ` + FashionMNISTSystemDir + `), or
  - download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
    t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz from
    ` + FashionMNISTURL + `
    into a directory and set ` + FashionMNISTEnv + `=/that/dir (or pass --data /that/dir).`

// findFashion returns the paths of the four files in dir, preferring the
// .gz names, and whether all four exist.
func findFashion(dir string) ([4]string, bool) {
	var paths [4]string
	for i, f := range fashionFiles {
		for _, name := range []string{f.name, strings.TrimSuffix(f.name, ".gz")} {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				paths[i] = p
				break
			}
		}
		if paths[i] == "" {
			return paths, false
		}
	}
	return paths, true
}

// loadFashion reads and checks the four files, concurrently.
func loadFashion(paths [4]string) (train, test *Set, err error) {
	var files [4]*idxFile
	var errs [4]error
	var wg sync.WaitGroup
	for i := range paths {
		wg.Go(func() {
			h := sha256.New()
			files[i], errs[i] = readIDXFile(paths[i], h)
			if errs[i] != nil {
				return
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != fashionFiles[i].sha256 {
				errs[i] = fmt.Errorf("dataset: %s: SHA-256 of the decompressed content is %s, want %s (corrupt or not the Fashion-MNIST file; delete it to download again): %w",
					paths[i], got, fashionFiles[i].sha256, ErrChecksum)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return nil, nil, err
	}
	var sets [2]*Set
	for k := range sets {
		ip, lp := paths[2*k], paths[2*k+1]
		s, err := makeSet(ip, files[2*k], lp, files[2*k+1])
		if err != nil {
			return nil, nil, err
		}
		if s.H != 28 || s.W != 28 || s.C != 1 {
			return nil, nil, fmt.Errorf("dataset: %s: images are %d×%d×%d, want 28×28×1: %w", ip, s.H, s.W, s.C, ErrMismatch)
		}
		for i, l := range s.Labels {
			if l >= 10 {
				return nil, nil, fmt.Errorf("dataset: %s: label %d of example %d (offset %d) is not a class (want 0..9)", lp, l, i, 8+i)
			}
		}
		sets[k] = s
	}
	return sets[0], sets[1], nil
}
