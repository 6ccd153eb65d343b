package train

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/capa-ml/capa/graph"
)

// CSVLogger is Keras's CSVLogger callback: it writes one row per epoch to
// Path, the epoch then every metric of the epoch's logs, under a header
// line. Columns are "epoch" (counted from 0, as Keras writes it) and the
// metric names in sorted order, fixed by the first epoch it sees; a metric
// missing from a later epoch is written "NA", and one absent from the header
// is an error. Numbers are written as Python writes them ("1.0", "1e-05",
// "nan"), so files match Keras's, except that lines end in "\n" rather than
// Python's "\r\n". The file is written and closed at each epoch's end.
//
// Without Append, the first epoch truncates the file. With Append, rows are
// added after those already in it, in the columns of its header (or under a
// new header if the file is empty or absent): use it when resuming a run.
type CSVLogger struct {
	Path string `json:"filename"`
	// Separator between fields, ',' by default (in a config, a rune's
	// code: 44 is ',').
	Separator rune `json:"separator"`
	Append    bool `json:"append"`

	keys    []string // metric columns, after "epoch"
	started bool     // the file was opened once: later epochs append
}

// OnEpochEnd appends the epoch's row.
func (c *CSVLogger) OnEpochEnd(m *graph.Model, logs graph.Logs) error {
	sep := c.Separator
	if sep == 0 {
		sep = ','
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Comma = sep
	truncate := !c.started && !c.Append
	if !c.started && c.Append {
		keys, err := csvHeader(c.Path, sep)
		if err != nil {
			return err
		}
		c.keys = keys
	}
	if c.keys == nil || truncate {
		c.keys = sortedKeys(logs)
		if err := w.Write(append([]string{"epoch"}, c.keys...)); err != nil {
			return fmt.Errorf("train: CSVLogger %s: %w", c.Path, err)
		}
	}
	for k := range logs {
		if !slices.Contains(c.keys, k) {
			return fmt.Errorf("train: CSVLogger %s: metric %q is not among the file's columns %v", c.Path, k, c.keys)
		}
	}
	row := []string{strconv.Itoa(m.State.Epoch - 1)}
	for _, k := range c.keys {
		v, ok := logs[k]
		if !ok {
			row = append(row, "NA")
			continue
		}
		row = append(row, pyFloat(v))
	}
	if err := w.Write(row); err != nil {
		return fmt.Errorf("train: CSVLogger %s: %w", c.Path, err)
	}
	w.Flush()
	if err := appendFile(c.Path, buf.Bytes(), truncate); err != nil {
		return fmt.Errorf("train: CSVLogger: %w", err)
	}
	c.started = true
	return nil
}

// csvHeader reads the metric columns of an existing logger file: nil if the
// file is absent or empty.
func csvHeader(path string, sep rune) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("train: CSVLogger: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.Comma = sep
	r.FieldsPerRecord = -1
	h, err := r.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("train: CSVLogger %s: header: %w", path, err)
	}
	if len(h) == 0 || h[0] != "epoch" {
		return nil, fmt.Errorf("train: CSVLogger %s: cannot append: its header %q does not start with \"epoch\"", path, h)
	}
	return h[1:], nil
}

// JSONLogger writes one JSON object per epoch and per line to Path (JSON
// Lines): "epoch" (counted from 0, like CSVLogger's) first, then every
// metric of the epoch's logs in sorted order, such as
// {"epoch":0,"accuracy":0.5,"loss":1.0986,"lr":0.001,"seconds":0.25}.
// Numbers are written as Python's json module writes them; NaN and
// infinities, which JSON cannot hold, as null. The file is written and
// closed at each epoch's end; without Append the first epoch truncates it.
type JSONLogger struct {
	Path   string `json:"filename"`
	Append bool   `json:"append"`

	started bool
}

// OnEpochEnd appends the epoch's line.
func (j *JSONLogger) OnEpochEnd(m *graph.Model, logs graph.Logs) error {
	var b strings.Builder
	fmt.Fprintf(&b, `{"epoch":%d`, m.State.Epoch-1)
	for _, k := range sortedKeys(logs) {
		name, err := json.Marshal(k)
		if err != nil {
			return fmt.Errorf("train: JSONLogger %s: %w", j.Path, err)
		}
		v := logs[k]
		val := "null"
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			val = pyFloat(v)
		}
		fmt.Fprintf(&b, ",%s:%s", name, val)
	}
	b.WriteString("}\n")
	if err := appendFile(j.Path, []byte(b.String()), !j.started && !j.Append); err != nil {
		return fmt.Errorf("train: JSONLogger: %w", err)
	}
	j.started = true
	return nil
}

func sortedKeys(logs graph.Logs) []string {
	keys := make([]string, 0, len(logs))
	for k := range logs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendFile writes b at the end of path (from its start if truncate),
// creating it, and closes it.
func appendFile(path string, b []byte, truncate bool) error {
	flag := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if truncate {
		flag |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pyFloat formats v as Python's repr does: the shortest digits that read
// back as v, in positional notation with at least one decimal ("1.0") when
// the decimal exponent is in [-4, 16), in exponent notation otherwise
// ("1e-05", "1.5e+16"); "nan", "inf", "-inf".
func pyFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(v, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if v != 0 && (exp < -4 || exp >= 16) {
		return e
	}
	f := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(f, ".") {
		f += ".0"
	}
	return f
}
