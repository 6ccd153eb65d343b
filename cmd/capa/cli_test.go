package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// capaStatus runs the built binary and returns its exit status, stdout and
// stderr.
func capaStatus(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	code, out, errs, _ := capaRun(t, args...)
	return code, out, errs
}

// capaRun is capaStatus that also returns the child's resource usage
// (os.ProcessState.SysUsage).
func capaRun(t *testing.T, args ...string) (int, string, string, any) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(capaBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String(), cmd.ProcessState.SysUsage()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String(), cmd.ProcessState.SysUsage()
	}
	t.Fatalf("capa %v: %v", args, err)
	return 0, "", "", nil
}

// TestExitStatus checks the command-line conventions of every subcommand:
// -h, --help and "capa help CMD" print the usage on stdout and exit 0; an
// unknown flag exits 2 with a one-line hint on stderr; a runtime error (a
// missing file) exits 1.
func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.safetensors")
	runtime := map[string][]string{
		"train":      {"--resume", missing},
		"evaluate":   {"--model", missing},
		"predict":    {"--model", missing, filepath.Join(dir, "x.png")},
		"summary":    {"--model", missing},
		"experiment": {filepath.Join(dir, "missing.json")},
		"vgg16":      {"features", "--weights", missing, "--input", filepath.Join(dir, "x.npy"), "--output", filepath.Join(dir, "y.npy")},
		"app":        {"features", "--arch", "resnet50", "--weights", missing, "--input", filepath.Join(dir, "x.npy"), "--output", filepath.Join(dir, "y.npy")},
		"bench":      {"--limit", "32", "--test-limit", "32", "--runs", "3", "--python", "", "--peer", filepath.Join(dir, "missing.py")},
		"augment":    {"--preview", filepath.Join(dir, "no", "such", "dir", "p.png"), "--n", "1", "--copies", "1"},
		"visualize":  {"--model", missing, "--out", dir},
		"export":     {"--model", missing, "--out", filepath.Join(dir, "m.onnx")},
		"import":     {filepath.Join(dir, "missing.onnx"), "--out", filepath.Join(dir, "m.safetensors")},
		"serve":      {"--model", "m=" + missing, "--addr", "127.0.0.1:0"},
		"loadtest":   {"--model", missing},
	}
	if len(runtime) != len(commands) {
		t.Fatalf("the test covers %d commands, capa has %d", len(runtime), len(commands))
	}
	for name := range commands {
		t.Run(name, func(t *testing.T) {
			for _, args := range [][]string{{name, "-h"}, {name, "--help"}, {"help", name}} {
				code, out, errs := capaStatus(t, args...)
				if code != 0 || !strings.HasPrefix(out, "Usage: capa "+name) || !strings.Contains(out, "Flags:") || errs != "" {
					t.Errorf("capa %v: status %d, stdout %q..., stderr %q; want 0, the usage, nothing", args, code, first(out), errs)
				}
			}
			bad := []string{name, "--no-such-flag"}
			if name == "vgg16" || name == "app" {
				bad = []string{name, "features", "--no-such-flag"}
			}
			code, out, errs := capaStatus(t, bad...)
			hint := "capa " + name + ": unknown flag -no-such-flag; see 'capa " + name + " -h'\n"
			if code != 2 || out != "" || errs != hint {
				t.Errorf("capa %v: status %d, stdout %q, stderr %q; want 2, nothing, %q", bad, code, out, errs, hint)
			}
			args := append([]string{name}, runtime[name]...)
			code, _, errs = capaStatus(t, args...)
			if code != 1 || !strings.HasPrefix(errs, "capa "+name+": ") {
				t.Errorf("capa %v: status %d, stderr %q; want 1 and the error", args, code, errs)
			}
		})
	}
}

// TestUsageErrors checks the top level and the usage mistakes found after
// parsing: each exits 2 with one line on stderr naming the mistake.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		code, out, errs := capaStatus(t, args...)
		if code != 0 || !strings.Contains(out, "capa train") || !strings.Contains(out, "capa visualize") || errs != "" {
			t.Errorf("capa %v: status %d, stdout %q..., stderr %q; want 0 and the command list", args, code, first(out), errs)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `capa: unknown command "frobnicate"; see 'capa -h'`},
		{[]string{"help", "frobnicate"}, `capa: unknown command "frobnicate"`},
		{[]string{"train", "--lr", "abc"}, `capa train: invalid value "abc" for flag -lr`},
		{[]string{"train", "--epochs", "0"}, "capa train: --epochs and --batch-size must be positive"},
		{[]string{"train", "--optimizer", "nope"}, "capa train: "},
		{[]string{"train", "extra"}, `capa train: unexpected argument "extra"`},
		{[]string{"train", "--resume", "x.safetensors", "--epochs", "3"}, "capa train: --resume continues the saved run"},
		{[]string{"evaluate"}, "capa evaluate: --model FILE is required; see 'capa evaluate -h'"},
		{[]string{"predict", "--model", "m.safetensors"}, "capa predict: give one or more PNG or JPEG images"},
		{[]string{"experiment"}, "capa experiment: give one or more CONFIG.json"},
		{[]string{"vgg16"}, "capa vgg16: give the mode first"},
		{[]string{"vgg16", "features"}, "capa vgg16: --weights, --input and --output are required"},
		{[]string{"augment"}, "capa augment: --preview FILE.png is required"},
		{[]string{"train", "--out"}, "capa train: flag needs an argument: -out"},
	} {
		code, out, errs := capaStatus(t, c.args...)
		if code != 2 || out != "" || !strings.HasPrefix(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("capa %v: status %d, stdout %q, stderr %q; want 2 and one line starting %q", c.args, code, out, errs, c.want)
		}
	}
}

func first(s string) string {
	if len(s) > 60 {
		return s[:60]
	}
	return s
}
