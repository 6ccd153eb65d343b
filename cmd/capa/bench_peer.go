package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// The peer runner of capa bench: a reference script (PyTorch by default)
// run as a child process, printing one JSON object per line.

// peerEpoch is one epoch line of the peer script's output.
type peerEpoch struct {
	Epoch        int     `json:"epoch"`
	TrainSeconds float64 `json:"train_seconds"`
	TrainRate    float64 `json:"train_images_per_second"`
	TestAccuracy float64 `json:"test_accuracy"`
	InferRate    float64 `json:"inference_images_per_second"`
}

// peerOutput is what one run of the peer script printed.
type peerOutput struct {
	Epochs    []peerEpoch
	Framework string // from the summary line, if any
	Threads   int
}

// parsePeerOutput reads the peer's standard output: one JSON object per
// epoch with train_images_per_second and inference_images_per_second, and a
// summary object ("summary": true). Other lines (warnings) are skipped. It
// fails if no epoch line has both rates.
func parsePeerOutput(r io.Reader) (peerOutput, error) {
	var p peerOutput
	lines, err := scanLines(r)
	if err != nil {
		return p, err
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var raw map[string]json.RawMessage
		if json.Unmarshal([]byte(line), &raw) != nil {
			continue
		}
		if s, ok := raw["summary"]; ok && string(s) == "true" {
			var sum struct {
				Framework string `json:"framework"`
				Threads   int    `json:"threads"`
			}
			json.Unmarshal([]byte(line), &sum)
			p.Framework, p.Threads = sum.Framework, sum.Threads
			continue
		}
		if raw["train_images_per_second"] == nil || raw["inference_images_per_second"] == nil {
			continue
		}
		var e peerEpoch
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return p, fmt.Errorf("peer output: %q: %v", line, err)
		}
		if !(e.TrainRate > 0) || !(e.InferRate > 0) || math.IsInf(e.TrainRate, 0) || math.IsInf(e.InferRate, 0) {
			return p, fmt.Errorf("peer output: rates must be positive: %q", line)
		}
		p.Epochs = append(p.Epochs, e)
	}
	if len(p.Epochs) == 0 {
		return p, fmt.Errorf("peer output has no line with train_images_per_second and inference_images_per_second:\n%s", tail(lines, 10))
	}
	return p, nil
}

// trainRate is the run's training images/s over all its epochs (the
// harmonic mean of the epochs' rates, as the epochs are of equal size).
func (p peerOutput) trainRate() float64 {
	return harmonic(p.Epochs, func(e peerEpoch) float64 { return e.TrainRate })
}

// inferenceRate is the run's inference images/s, likewise.
func (p peerOutput) inferenceRate() float64 {
	return harmonic(p.Epochs, func(e peerEpoch) float64 { return e.InferRate })
}

func harmonic(es []peerEpoch, f func(peerEpoch) float64) float64 {
	var inv float64
	for _, e := range es {
		inv += 1 / f(e)
	}
	return float64(len(es)) / inv
}

// runPeer runs the peer script once on n training images with as many
// threads as GOMAXPROCS and parses its output.
func runPeer(c benchConfig, n int) (peerOutput, error) {
	args := []string{"--epochs", strconv.Itoa(c.epochs), "--batch-size", "32",
		"--threads", strconv.Itoa(runtime.GOMAXPROCS(0)), "--limit", strconv.Itoa(n)}
	if c.data != "" {
		args = append(args, "--data", c.data)
	}
	var p peerOutput
	err := runPeerScript(c, args, func(r io.Reader) (err error) {
		p, err = parsePeerOutput(r)
		return err
	})
	return p, err
}

// runPeerScript runs the peer script c.peer (through c.python if set)
// with args and hands its standard output to parse. Errors name the
// command and end with the last lines of its standard error.
func runPeerScript(c benchConfig, args []string, parse func(io.Reader) error) error {
	var cmd *exec.Cmd
	if c.python != "" {
		cmd = exec.Command(c.python, append([]string{c.peer}, args...)...)
	} else {
		cmd = exec.Command(c.peer, args...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("peer %s: %v\n%s", strings.Join(cmd.Args, " "), err,
			tail(strings.Split(strings.TrimSpace(stderr.String()), "\n"), 10))
	}
	if err := parse(&stdout); err != nil {
		return fmt.Errorf("peer %s: %w", strings.Join(cmd.Args, " "), err)
	}
	return nil
}

// scanLines returns the trimmed lines of r (a peer's output).
func scanLines(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("peer output: %w", err)
	}
	return lines, nil
}

func tail(lines []string, n int) string {
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// runBasePeer runs the peer script once on the sizes, with as many threads
// as GOMAXPROCS, and returns its images/s per size (in the order of hws)
// and the framework it names; for a network other than vgg16 it is told
// which one with --net. It reads one JSON object per size with "size" and
// "images_per_second"; other lines (warnings) are skipped.
func runBasePeer(c benchConfig, hws []int) ([]float64, string, error) {
	var sizes []string
	for _, hw := range hws {
		sizes = append(sizes, strconv.Itoa(hw))
	}
	args := []string{"--threads", strconv.Itoa(runtime.GOMAXPROCS(0)), "--sizes", strings.Join(sizes, ","),
		"--seconds", strconv.FormatFloat(c.seconds, 'g', -1, 64)}
	if c.arch != "vgg16" {
		args = append(args, "--net", c.arch)
	}
	var rates []float64
	var fw string
	err := runPeerScript(c, args, func(r io.Reader) (err error) {
		rates, fw, err = parseBasePeerOutput(r, hws)
		return err
	})
	return rates, fw, err
}

// parseBasePeerOutput reads the VGG peer's standard output (see runBasePeer)
// and returns the images/s of each of hws, failing if one is missing or
// not a positive number.
func parseBasePeerOutput(r io.Reader, hws []int) ([]float64, string, error) {
	got := map[int]float64{}
	var fw string
	lines, err := scanLines(r)
	if err != nil {
		return nil, "", err
	}
	for _, line := range lines {
		var v struct {
			Size      *int     `json:"size"`
			Rate      *float64 `json:"images_per_second"`
			Framework string   `json:"framework"`
		}
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &v) != nil || v.Size == nil || v.Rate == nil {
			continue
		}
		if !(*v.Rate > 0) || math.IsInf(*v.Rate, 0) {
			return nil, "", fmt.Errorf("peer output: images_per_second must be positive: %q", line)
		}
		got[*v.Size] = *v.Rate
		if v.Framework != "" {
			fw = v.Framework
		}
	}
	out := make([]float64, len(hws))
	for i, hw := range hws {
		rate, ok := got[hw]
		if !ok {
			return nil, "", fmt.Errorf("peer output has no line with size %d and images_per_second:\n%s", hw, tail(lines, 10))
		}
		out[i] = rate
	}
	return out, fw, nil
}
