package train

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
)

func utReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// utEpochs ends epochs (numbered from first, 1-based) with the given logs.
func utEpochs(t *testing.T, c graph.Callback, first int, logs ...graph.Logs) {
	t.Helper()
	tr := &graph.Model{}
	for i, l := range logs {
		tr.State.Epoch = first + i
		if err := c.OnEpochEnd(tr, l); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCSVLogger(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log.csv")
	os.WriteFile(path, []byte("old contents\n"), 0o644)
	c := &CSVLogger{Path: path}
	utEpochs(t, c, 1,
		graph.Logs{"loss": 1.25, "accuracy": 0.5, "lr": 0.001},
		graph.Logs{"loss": 1, "accuracy": 0.75, "lr": 1e-5},
		graph.Logs{"loss": math.NaN(), "lr": 1e16}) // a missing metric is NA
	want := "epoch,accuracy,loss,lr\n" +
		"0,0.5,1.25,0.001\n" +
		"1,0.75,1.0,1e-05\n" +
		"2,NA,nan,1e+16\n"
	if got := utReadFile(t, path); got != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	// A metric that is not a column is an error.
	tr := &graph.Model{State: graph.State{Epoch: 4}}
	utWantErr(t, "new metric", c.OnEpochEnd(tr, graph.Logs{"loss": 1, "val_loss": 2}), `"val_loss" is not among the file's columns`)

	// Appending, as a resumed run does, keeps the file's columns and adds
	// no header; another separator.
	path = filepath.Join(dir, "semi.csv")
	os.WriteFile(path, []byte("epoch;loss;accuracy\n0;2.0;0.25\n"), 0o644)
	c = &CSVLogger{Path: path, Separator: ';', Append: true}
	utEpochs(t, c, 2, graph.Logs{"accuracy": 0.5, "loss": 1.5}, graph.Logs{"accuracy": 1, "loss": 0.125})
	want = "epoch;loss;accuracy\n0;2.0;0.25\n1;1.5;0.5\n2;0.125;1.0\n"
	if got := utReadFile(t, path); got != want {
		t.Errorf("appended file:\n%s\nwant:\n%s", got, want)
	}
	// Appending to an absent file writes the header.
	path = filepath.Join(dir, "new.csv")
	utEpochs(t, &CSVLogger{Path: path, Append: true}, 1, graph.Logs{"loss": 3})
	if got, want := utReadFile(t, path), "epoch,loss\n0,3.0\n"; got != want {
		t.Errorf("appended new file:\n%s\nwant:\n%s", got, want)
	}
	// Appending to a file that is not a logger's is an error.
	path = filepath.Join(dir, "other.csv")
	os.WriteFile(path, []byte("a,b\n"), 0o644)
	utWantErr(t, "foreign file", (&CSVLogger{Path: path, Append: true}).OnEpochEnd(tr, graph.Logs{"loss": 1}), `does not start with "epoch"`)
}

func TestJSONLogger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	os.WriteFile(path, []byte("old contents\n"), 0o644)
	j := &JSONLogger{Path: path}
	utEpochs(t, j, 1,
		graph.Logs{"loss": 1.25, "accuracy": 0.5, "lr": 0.001},
		graph.Logs{"loss": math.Inf(1), "val_loss": math.NaN(), "lr": 1e-5, `we"ird`: 2})
	want := `{"epoch":0,"accuracy":0.5,"loss":1.25,"lr":0.001}` + "\n" +
		`{"epoch":1,"loss":null,"lr":1e-05,"val_loss":null,"we\"ird":2.0}` + "\n"
	if got := utReadFile(t, path); got != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	// Append adds lines after the file's.
	utEpochs(t, &JSONLogger{Path: path, Append: true}, 3, graph.Logs{"loss": 0.5})
	if got := utReadFile(t, path); got != want+`{"epoch":2,"loss":0.5}`+"\n" {
		t.Errorf("appended file:\n%s", got)
	}
}

func TestPyFloat(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0.0", 1: "1.0", -2: "-2.0", 0.1: "0.1", 1.0 / 3: "0.3333333333333333",
		1e-4: "0.0001", 1.5e-5: "1.5e-05", 123456789: "123456789.0", 1e15: "1000000000000000.0",
		1e16: "1e+16", 2.5e22: "2.5e+22", math.Inf(-1): "-inf", math.Copysign(0, -1): "-0.0",
	} {
		if got := pyFloat(v); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q (Python's repr)", v, got, want)
		}
	}
}

// TestLoggersFit: in a real run the loggers write every epoch's metrics,
// equal to the History.
func TestLoggersFit(t *testing.T) {
	dir := t.TempDir()
	csvPath, jsonPath := filepath.Join(dir, "log.csv"), filepath.Join(dir, "log.jsonl")
	d := utData(24, 4, 2)
	tr := utCompile(t, utMLP(t, 1, false), &SGD{LearningRate: 0.1})
	h := utFit(t, tr, d, graph.FitOptions{Epochs: 3, BatchSize: 8, ValidationSplit: 0.25, Schedule: StepDecay{Factor: 0.5, Every: 1},
		Callbacks: []graph.Callback{&CSVLogger{Path: csvPath}, &JSONLogger{Path: jsonPath}}})
	names := []string{"accuracy", "loss", "lr", "seconds", "val_accuracy", "val_loss"}
	if len(h) != len(names) {
		t.Errorf("history has %d metrics, want %v", len(h), names)
	}
	if lr := h["lr"]; len(lr) != 3 || lr[0] != 0.1 || lr[1] != 0.05 || lr[2] != 0.025 {
		t.Errorf("history lr %v, want [0.1 0.05 0.025]", lr)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rows[0], ","); got != "epoch,"+strings.Join(names, ",") || len(rows) != 4 {
		t.Fatalf("CSV header %q and %d rows", got, len(rows)-1)
	}
	jf, err := os.Open(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	sc := bufio.NewScanner(jf)
	for e := 0; e < 3; e++ {
		if !sc.Scan() {
			t.Fatalf("JSON log has %d lines, want 3", e)
		}
		var line map[string]float64
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("JSON line %d: %v", e+1, err)
		}
		if line["epoch"] != float64(e) || rows[e+1][0] != strconv.Itoa(e) {
			t.Errorf("epoch %d numbered %v in JSON and %s in CSV", e, line["epoch"], rows[e+1][0])
		}
		for i, n := range names {
			v, err := strconv.ParseFloat(rows[e+1][i+1], 64)
			if err != nil || v != h[n][e] || line[n] != h[n][e] {
				t.Errorf("epoch %d, %s: CSV %s, JSON %v, history %v", e, n, rows[e+1][i+1], line[n], h[n][e])
			}
		}
	}
	if sc.Scan() {
		t.Errorf("JSON log has more than 3 lines: %s", sc.Text())
	}
}
