//go:build unix

package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInterruptAndResume sends SIGINT (Ctrl-C) to a training run, which a
// Windows process cannot receive from another: unix only.
func TestInterruptAndResume(t *testing.T) {
	needData(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "m.safetensors")
	cmd := exec.Command(capaBin, "train", "--limit", "3200", "--epochs", "2", "--out", model)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var log strings.Builder
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "Training on") {
			time.Sleep(500 * time.Millisecond)
			cmd.Process.Signal(syscall.SIGINT)
		}
	}
	err := cmd.Wait()
	if err == nil || !strings.Contains(log.String(), "capa train --resume") {
		t.Fatalf("interrupted run: err %v\n%s", err, log.String())
	}
	ckpt := checkpointPath(model)
	if _, err := os.Stat(ckpt); err != nil {
		t.Fatalf("no checkpoint after Ctrl-C: %v", err)
	}
	out := run(t, "summary", "--model", ckpt)
	if !strings.Contains(out, "0 epochs trained (+") {
		t.Errorf("checkpoint is not mid-epoch:\n%s", out)
	}
	out = run(t, "train", "--resume", ckpt)
	if !strings.Contains(out, "Resuming") || !strings.Contains(out, "Test accuracy") {
		t.Errorf("resume:\n%s", out)
	}
	out = run(t, "summary", "--model", model)
	if !strings.Contains(out, "2 epochs trained") {
		t.Errorf("resumed model:\n%s", out)
	}
}
