//go:build unix

package main

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/formats/safetensors"
)

// killTrials is how many runs TestKillAndResume kills (CAPA_KILL_TRIALS
// overrides it).
func killTrials() int {
	if n, err := strconv.Atoi(os.Getenv("CAPA_KILL_TRIALS")); err == nil && n > 0 {
		return n
	}
	return 20
}

// TestKillAndResume SIGKILLs capa train at random moments, half of them as
// soon as a checkpoint write has begun (its temporary file exists), then
// checks that every model and checkpoint file on disk is complete (the old
// or the new version, never a torn one) and that resuming, until the run
// ends, gives the same weights, bit for bit, as a run never interrupted.
func TestKillAndResume(t *testing.T) {
	needData(t)
	dir := t.TempDir()
	args := []string{"train", "--limit", "256", "--epochs", "4", "--batch-size", "32"}
	ref := filepath.Join(dir, "ref.safetensors")
	run(t, append(args, "--out", ref)...)
	want := weights(t, ref)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills, duringWrite := 0, 0
	for trial := 0; kills < killTrials(); trial++ {
		out := filepath.Join(dir, strconv.Itoa(trial), "m.safetensors")
		os.MkdirAll(filepath.Dir(out), 0o755)
		ckpt := checkpointPath(out)
		cmdArgs := append(append([]string{}, args...), "--out", out)
		for attempt := 0; ; attempt++ {
			cmd := exec.Command(capaBin, cmdArgs...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			killed, exited := false, false
			var err error
			if attempt < 2 && kills < killTrials() {
				onWrite := rng.IntN(2) == 0
				deadline := time.After(time.Duration(200+rng.IntN(2500)) * time.Millisecond)
			watch:
				for {
					select {
					case err = <-done:
						exited = true
						break watch
					case <-deadline:
						if !onWrite {
							cmd.Process.Signal(syscall.SIGKILL)
							killed = true
							break watch
						}
					default:
					}
					if onWrite {
						if tmp, _ := safetensors.TempFiles(ckpt); len(tmp) > 0 {
							cmd.Process.Signal(syscall.SIGKILL)
							killed, onWrite = true, false
							duringWrite++
							break watch
						}
					}
					time.Sleep(200 * time.Microsecond)
				}
			}
			if !exited {
				err = <-done
			}
			if !killed {
				if err != nil {
					t.Fatalf("trial %d: capa %v: %v", trial, cmdArgs, err)
				}
				break
			}
			kills++
			// Whatever exists is complete.
			for _, p := range []string{out, ckpt} {
				if _, err := os.Stat(p); err == nil {
					if _, err := capa.Load(p); err != nil {
						t.Fatalf("trial %d, kill %d: %s is torn: %v", trial, kills, p, err)
					}
				}
			}
			if _, err := os.Stat(ckpt); err == nil {
				cmdArgs = []string{"train", "--resume", ckpt}
			} else {
				cmdArgs = append(append([]string{}, args...), "--out", out) // killed before the first checkpoint
			}
		}
		if got := weights(t, out); !slices.Equal(got, want) {
			t.Fatalf("trial %d: the resumed run ends with other weights than the uninterrupted one", trial)
		}
		if tmp, _ := safetensors.TempFiles(ckpt); len(tmp) > 0 {
			t.Errorf("trial %d: %v left behind", trial, tmp)
		}
	}
	t.Logf("%d kills (%d while a checkpoint was being written); every resumed run ended with the uninterrupted run's weights", kills, duringWrite)
}

// weights returns a model file's weights, concatenated.
func weights(t *testing.T, path string) []float32 {
	t.Helper()
	m, err := capa.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []float32
	for _, p := range m.Params() {
		out = append(out, p.Data()...)
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no weights", path)
	}
	return out
}
