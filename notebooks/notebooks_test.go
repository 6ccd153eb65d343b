package notebooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/capa-ml/capa/internal/fulltest"
)

// kernelName is the kernelspec install-kernel.sh installs and the notebooks
// name in their metadata.
const kernelName = "gophernotes-capa"

// expected lists the course's notebooks.
var expected = []string{
	"01-convolution-and-pooling.ipynb",
	"02-fashion-mnist-cnn.ipynb",
	"03-exercise-configurations.ipynb",
	"04-data-augmentation.ipynb",
	"05-transfer-learning.ipynb",
	"06-residual-networks.ipynb",
}

const installHelp = `to run the notebooks, install Jupyter's nbconvert and the Go kernel:
	sudo apt-get install jupyter-nbconvert gcc
	notebooks/install-kernel.sh`

// notebook is the part of the .ipynb format (nbformat 4) the tests read.
type notebook struct {
	NBFormat int `json:"nbformat"`
	Metadata struct {
		Kernelspec struct {
			Name     string `json:"name"`
			Language string `json:"language"`
		} `json:"kernelspec"`
	} `json:"metadata"`
	Cells []cell `json:"cells"`
}

type cell struct {
	Type           string   `json:"cell_type"`
	Source         source   `json:"source"`
	ExecutionCount *int     `json:"execution_count"`
	Outputs        []output `json:"outputs"`
}

type output struct {
	Type  string                     `json:"output_type"`
	Name  string                     `json:"name"`
	Text  source                     `json:"text"`
	Data  map[string]json.RawMessage `json:"data"`
	EName string                     `json:"ename"`
	Value string                     `json:"evalue"`
}

// source is a string that nbformat stores either whole or as a list of
// lines.
type source string

func (s *source) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = source(one)
		return nil
	}
	var lines []string
	if err := json.Unmarshal(b, &lines); err != nil {
		return err
	}
	*s = source(strings.Join(lines, ""))
	return nil
}

func (o output) text(mime string) string {
	raw, ok := o.Data[mime]
	if !ok {
		return ""
	}
	var s source
	if err := json.Unmarshal(raw, &s); err != nil {
		return ""
	}
	return string(s)
}

func readNotebook(t *testing.T, path string) notebook {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var nb notebook
	if err := json.Unmarshal(b, &nb); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return nb
}

var (
	importRE = regexp.MustCompile(`(?m)^\s*import\s*[("]`)
	// A cell ending in fmt.Print... shows the call's results ("12 <nil>").
	printResultRE = regexp.MustCompile(`^\d+ <nil>$`)
)

// checkExecuted checks a notebook that ran top to bottom: every code cell
// executed in order, none failed, and it drew pictures.
func checkExecuted(t *testing.T, name string, nb notebook) {
	t.Helper()
	count, images := 0, 0
	for i, c := range nb.Cells {
		if c.Type != "code" {
			continue
		}
		count++
		if c.ExecutionCount == nil || *c.ExecutionCount != count {
			t.Errorf("%s: cell %d: execution count %v, want %d (run the notebook from the top, in one kernel)", name, i, c.ExecutionCount, count)
		}
		for _, o := range c.Outputs {
			switch {
			case o.Type == "error":
				t.Errorf("%s: cell %d failed: %s: %s", name, i, o.EName, o.Value)
			case o.Type == "stream" && o.Name == "stderr" && strings.Contains(string(o.Text), "panic"):
				t.Errorf("%s: cell %d: %s", name, i, o.Text)
			case o.Data != nil && printResultRE.MatchString(o.text("text/plain")):
				t.Errorf("%s: cell %d ends with a call to fmt.Print*: its result %q is shown", name, i, o.text("text/plain"))
			}
			if _, ok := o.Data["image/png"]; ok {
				images++
			}
		}
	}
	if images == 0 {
		t.Errorf("%s: no pictures", name)
	}
}

// TestCommittedNotebooks checks the notebooks as committed: for the gophernotes
// kernel, every import in the first code cell, and the outputs of a full run
// (quick mode off) saved with them.
func TestCommittedNotebooks(t *testing.T) {
	found, err := filepath.Glob("*.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(found)
	if strings.Join(found, " ") != strings.Join(expected, " ") {
		t.Errorf("notebooks %v, want %v", found, expected)
	}
	for _, name := range found {
		nb := readNotebook(t, name)
		if nb.NBFormat != 4 || nb.Metadata.Kernelspec.Name != kernelName || nb.Metadata.Kernelspec.Language != "go" {
			t.Errorf("%s: nbformat %d, kernel %q (%s); want nbformat 4 and the %q kernel (go)",
				name, nb.NBFormat, nb.Metadata.Kernelspec.Name, nb.Metadata.Kernelspec.Language, kernelName)
		}
		firstCode, usesQuick, quickOff := true, false, false
		for i, c := range nb.Cells {
			if c.Type != "code" {
				continue
			}
			hasImport := importRE.MatchString(string(c.Source))
			if firstCode && !hasImport {
				t.Errorf("%s: the first code cell must import every package the notebook uses", name)
			}
			if !firstCode && hasImport {
				t.Errorf("%s: cell %d imports packages: import everything in the first code cell (the kernel builds one plugin for it)", name, i)
			}
			firstCode = false
			if strings.Contains(string(c.Source), "CAPA_NOTEBOOK_QUICK") {
				usesQuick = true
			}
			for _, o := range c.Outputs {
				if strings.Contains(o.text("text/plain"), "quick mode: false") {
					quickOff = true
				}
			}
		}
		if usesQuick && !quickOff {
			t.Errorf(`%s: no "quick mode: false" output: commit the outputs of a full run (CAPA_NOTEBOOK_QUICK unset)`, name)
		}
		checkExecuted(t, name, nb)
	}
}

// kernelInstalled reports what is missing to execute the notebooks, or "".
func kernelInstalled() string {
	if _, err := exec.LookPath("jupyter"); err != nil {
		return "jupyter is not installed"
	}
	if out, err := exec.Command("jupyter", "nbconvert", "--version").CombinedOutput(); err != nil {
		return fmt.Sprintf("jupyter nbconvert does not run: %v: %s", err, bytes.TrimSpace(out))
	}
	// Where Jupyter looks for kernelspecs: kernels/NAME in its data
	// directories (jupyter kernelspec, from the jupyter-client package, is
	// not needed).
	out, err := exec.Command("jupyter", "--paths", "--json").Output()
	if err != nil {
		return fmt.Sprintf("jupyter --paths: %v", err)
	}
	var paths struct {
		Data []string `json:"data"`
	}
	if err := json.Unmarshal(out, &paths); err != nil {
		return fmt.Sprintf("jupyter --paths: %v", err)
	}
	for _, dir := range paths.Data {
		spec := filepath.Join(dir, "kernels", kernelName)
		if _, err := os.Stat(filepath.Join(spec, "kernel.json")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(spec, "gophernotes")); err != nil {
			return fmt.Sprintf("the %q kernel in %s is incomplete: %v", kernelName, spec, err)
		}
		return ""
	}
	return fmt.Sprintf("the %q kernel is not installed (looked in %s)", kernelName, strings.Join(paths.Data, ", "))
}

// TestNotebooksExecute runs every notebook top to bottom in quick mode
// (CAPA_NOTEBOOK_QUICK=1: a few hundred images, one epoch) with Jupyter's
// nbconvert and the gophernotes kernel, and fails on the first cell that
// fails. Without Jupyter or the kernel it is skipped, except under CI (the
// CI variable set), where it fails.
func TestNotebooksExecute(t *testing.T) {
	if testing.Short() {
		t.Skip("executing the notebooks takes minutes; skipped with -short")
	}
	if missing := kernelInstalled(); missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI is set: the notebooks must run)\n%s", missing, installHelp)
		}
		fulltest.Missing(t, "%s\n%s", missing, installHelp)
	}
	for _, name := range expected {
		t.Run(strings.TrimSuffix(name, ".ipynb"), func(t *testing.T) {
			t.Parallel()
			runNotebook(t, name)
		})
	}
}

func runNotebook(t *testing.T, name string) {
	out := t.TempDir()
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-15*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "jupyter", "nbconvert", "--to", "notebook", "--execute",
		"--ExecutePreprocessor.timeout=600", "--ExecutePreprocessor.kernel_name="+kernelName,
		"--output-dir", out, name)
	cmd.Env = append(os.Environ(), "CAPA_NOTEBOOK_QUICK=1", "CAPA_NOTEBOOK_OUT="+filepath.Join(out, "files"))
	start := time.Now()
	log, err := cmd.CombinedOutput()
	if err != nil {
		if len(log) > 6000 {
			log = append([]byte("...\n"), log[len(log)-6000:]...)
		}
		t.Fatalf("jupyter nbconvert --execute %s: %v\n%s", name, err, log)
	}
	t.Logf("%s ran in %.0f s (quick mode)", name, time.Since(start).Seconds())
	checkExecuted(t, name, readNotebook(t, filepath.Join(out, name)))
}
