package serve

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/capa-ml/capa/graph"
)

// version is one loaded, verified version of a model: immutable once
// serving.
type version struct {
	number  int64 // the directory's number, or 1, 2, ... for a replaced file
	path    string
	model   *graph.Model
	in, out graph.Shape // per sample
	names   []string    // class names saved with the model, if any
	stamp   fileStamp
	loaded  time.Time
}

// fileStamp identifies a file's content well enough to notice that it was
// replaced: a new file (rename) or new bytes change one of these.
type fileStamp struct {
	size    int64
	modTime time.Time
	ino     uint64
}

func stampOf(fi os.FileInfo) fileStamp {
	return fileStamp{size: fi.Size(), modTime: fi.ModTime(), ino: inode(fi)}
}

// source is where a model's versions come from: one file, replaced in
// place to update it, or a directory of numbered versions (TensorFlow
// Serving's model_base_path/1/, /2/, ...), each holding one .safetensors
// model file, the highest number served.
type source struct {
	path string
	dir  bool
}

// latest returns the path, number and stamp of the newest version.
func (s source) latest() (string, int64, fileStamp, error) {
	if !s.dir {
		fi, err := os.Stat(s.path)
		if err != nil {
			return "", 0, fileStamp{}, err
		}
		return s.path, 0, stampOf(fi), nil
	}
	entries, err := os.ReadDir(s.path)
	if err != nil {
		return "", 0, fileStamp{}, err
	}
	var nums []int64
	for _, e := range entries {
		if n, err := strconv.ParseInt(e.Name(), 10, 64); err == nil && n >= 0 && e.IsDir() {
			nums = append(nums, n)
		}
	}
	if len(nums) == 0 {
		return "", 0, fileStamp{}, fmt.Errorf("%s has no numbered version directory (%s/1/model.safetensors, ...)", s.path, s.path)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] > nums[j] })
	n := nums[0]
	dir := filepath.Join(s.path, strconv.FormatInt(n, 10))
	files, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if err != nil {
		return "", 0, fileStamp{}, err
	}
	if len(files) != 1 {
		return "", 0, fileStamp{}, fmt.Errorf("version directory %s holds %d .safetensors files, want one", dir, len(files))
	}
	fi, err := os.Stat(files[0])
	if err != nil {
		return "", 0, fileStamp{}, err
	}
	return files[0], n, stampOf(fi), nil
}

// loadVersion loads the model file at path and verifies it: one input and
// one output, and finite outputs on a zero input and on a random one,
// before it takes traffic.
func loadVersion(path string, number int64, stamp fileStamp, limits graph.Limits) (*version, error) {
	m, err := graph.Load(path, graph.WithLimits(limits))
	if err != nil {
		return nil, err
	}
	if len(m.Inputs()) != 1 || len(m.Outputs()) != 1 {
		return nil, fmt.Errorf("%s: the model has %d inputs and %d outputs; the server takes models of one each", path, len(m.Inputs()), len(m.Outputs()))
	}
	v := &version{number: number, path: path, model: m, in: m.InputShape(), out: m.OutputShape(), stamp: stamp, loaded: time.Now()}
	if m.Extra["class_names"] != "" {
		if err := json.Unmarshal([]byte(m.Extra["class_names"]), &v.names); err != nil {
			return nil, fmt.Errorf("%s: class_names: %w", path, err)
		}
	}
	x := make([]float32, 2*v.in.Size())
	for i := v.in.Size(); i < len(x); i++ {
		x[i] = float32(i%17) / 17
	}
	y, err := m.Predict(x, 2)
	if err != nil {
		return nil, fmt.Errorf("%s: verifying the model: %w", path, err)
	}
	for _, f := range y {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil, fmt.Errorf("%s: verifying the model: it predicts %v on a test input", path, f)
		}
	}
	return v, nil
}
