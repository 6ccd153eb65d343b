package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrainDiverges checks that capa train with an absurd learning rate
// stops, says that it diverged and with which learning rate, exits 1 and
// writes no model; --stop-on-divergence=false lets the same run finish.
func TestTrainDiverges(t *testing.T) {
	needData(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "m.safetensors")
	args := []string{"train", "--lr", "1e6", "--limit", "320", "--epochs", "1", "--out", out}
	code, _, errs := capaStatus(t, args...)
	if code != 1 || !strings.Contains(errs, "diverged") || !strings.Contains(errs, "learning rate 1e+06") {
		t.Errorf("capa train --lr 1e6: status %d, stderr %q; want 1 and a divergence naming the learning rate", code, errs)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a diverged run wrote %s (%v)", out, err)
	}
	code, _, errs = capaStatus(t, append(args, "--stop-on-divergence=false")...)
	if code != 0 {
		t.Errorf("--stop-on-divergence=false: status %d, stderr %q", code, errs)
	}
}
