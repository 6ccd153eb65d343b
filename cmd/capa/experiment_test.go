package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const tinyExperiment = `{"name": "NAME", "model": {"input_shape": [28, 28, 1], "layers": [
  {"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": [5, 5], "strides": [3, 3], "activation": "relu"}},
  {"class_name": "Flatten", "config": {}},
  {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}]},
 "training": {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.01}}, "epochs": 1, "batch_size": 50 EXTRA}}`

// TestExperimentAddsToTable runs two configurations in two commands into
// one directory: the table holds both; another split is refused, and
// --fresh replaces the table.
func TestExperimentAddsToTable(t *testing.T) {
	needData(t)
	dir := t.TempDir()
	cfg := func(name, extra string) string {
		p := filepath.Join(dir, name+".json")
		body := strings.NewReplacer("NAME", name, "EXTRA", extra).Replace(tinyExperiment)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := cfg("a", "")
	b := cfg("b", `, "augment": "fashion-mnist", "schedule": {"class_name": "CosineDecay", "config": {"decay_steps": 4}}`)
	out := filepath.Join(dir, "out")
	run(t, "experiment", "--out", out, "--limit", "200", "--validation", "100", a)
	log := run(t, "experiment", "--out", out, "--limit", "200", "--validation", "100", b)
	if !strings.Contains(log, "1 earlier results") {
		t.Errorf("output does not mention the earlier result:\n%s", log)
	}
	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "a**") && !strings.Contains(string(md), "| a |") || !strings.Contains(string(md), "b") ||
		strings.Count(string(md), "\n| ") != 3 || strings.Count(string(md), "(best by validation)") != 1 {
		t.Errorf("table:\n%s", md)
	}
	rep := readJSON(t, filepath.Join(out, "results.json"))
	if cmds, _ := rep["commands"].([]any); len(cmds) != 2 {
		t.Errorf("commands %v", rep["commands"])
	}
	bad, err := exec.Command(capaBin, "experiment", "--out", out, "--limit", "200", "--validation", "150", a).CombinedOutput()
	if err == nil || !strings.Contains(string(bad), "another split") {
		t.Errorf("a different split was merged: %v\n%s", err, bad)
	}
	run(t, "experiment", "--out", out, "--fresh", "--limit", "200", "--validation", "150", a)
	md, _ = os.ReadFile(filepath.Join(out, "results.md"))
	if strings.Count(string(md), "\n| ") != 2 {
		t.Errorf("--fresh kept the earlier table:\n%s", md)
	}
}

// withoutTimes drops the training-time column of a results table (the one
// thing two runs of the same configurations do not share).
func withoutTimes(md string) string {
	var out []string
	for _, line := range strings.Split(md, "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) == 9 { // a row or the header: the last cell is the time
			cells = cells[:8]
		}
		out = append(out, strings.Join(cells, " | "))
	}
	return strings.Join(out, "\n")
}

// TestExperimentShards runs four configurations once in one process, and
// as two shards into one directory (the second through JOB_COMPLETION_INDEX,
// as a Kubernetes Indexed Job's pod would): merge writes the same table.
func TestExperimentShards(t *testing.T) {
	needData(t)
	dir := t.TempDir()
	var cfgs []string
	for i, extra := range []string{"", `, "seed": 2`, `, "seed": 3`, `, "seed": 4`} {
		name := "c" + strconv.Itoa(i)
		p := filepath.Join(dir, name+".json")
		body := strings.NewReplacer("NAME", name, "EXTRA", extra).Replace(tinyExperiment)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, p)
	}
	common := []string{"--limit", "200", "--validation", "100"}
	one := filepath.Join(dir, "one")
	run(t, append(append([]string{"experiment", "--out", one}, common...), cfgs...)...)
	sharded := filepath.Join(dir, "sharded")
	run(t, append(append([]string{"experiment", "--out", sharded, "--shard", "0/2"}, common...), cfgs...)...)
	if _, err := exec.Command(capaBin, "experiment", "merge", sharded).CombinedOutput(); err == nil {
		t.Error("merge with a shard missing succeeded")
	}
	cmd := exec.Command(capaBin, append(append([]string{"experiment", "--out", sharded, "--shard", "auto/2"}, common...), cfgs...)...)
	cmd.Env = append(os.Environ(), "JOB_COMPLETION_INDEX=1")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "shard 1 of 2: 2 configurations") {
		t.Fatalf("shard 1: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(sharded, "results.md")); err == nil {
		t.Error("a shard wrote the table")
	}
	run(t, "experiment", "merge", sharded)
	a, _ := os.ReadFile(filepath.Join(one, "results.md"))
	b, _ := os.ReadFile(filepath.Join(sharded, "results.md"))
	if withoutTimes(string(a)) != withoutTimes(string(b)) || strings.Count(string(a), " | 1342 | ") != 4 {
		t.Errorf("one run:\n%s\nmerged shards:\n%s", a, b)
	}
}
