package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

func TestParseAndStatus(t *testing.T) {
	var help bytes.Buffer
	defer func(w io.Writer) { stdout = w }(stdout)
	stdout = &help
	newFS := func() (*bool, func([]string) error) {
		fs := NewFlagSet("tool sub", "Usage: tool sub [flags]\n")
		v := fs.Bool("verbose", false, "say more")
		return v, func(args []string) error { return Parse(fs, args) }
	}

	_, parse := newFS()
	err := parse([]string{"-h"})
	if !IsHelp(err) || !strings.HasPrefix(help.String(), "Usage: tool sub [flags]\n\nFlags:\n  -verbose") {
		t.Errorf("-h: err %v, help %q", err, help.String())
	}
	var stderr bytes.Buffer
	if code := Status(&stderr, "tool sub", err); code != StatusOK || stderr.Len() != 0 {
		t.Errorf("help: status %d, stderr %q", code, stderr.String())
	}

	v, parse := newFS()
	if err := parse([]string{"--verbose"}); err != nil || !*v {
		t.Errorf("--verbose: %v, %v", err, *v)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-x"}, "tool sub: unknown flag -x; see 'tool sub -h'\n"},
		{[]string{"--verbose=maybe"}, `tool sub: invalid boolean value "maybe" for -verbose: parse error; see 'tool sub -h'` + "\n"},
	} {
		_, parse := newFS()
		stderr.Reset()
		if code := Status(&stderr, "tool sub", parse(c.args)); code != StatusUsage || stderr.String() != c.want {
			t.Errorf("%v: status %d, stderr %q; want 2, %q", c.args, code, stderr.String(), c.want)
		}
	}

	stderr.Reset()
	wrapped := fmt.Errorf("while checking: %w", Usagef("--n must be positive, got %d", -1))
	if code := Status(&stderr, "tool", wrapped); code != StatusUsage || stderr.String() != "tool: --n must be positive, got -1; see 'tool -h'\n" {
		t.Errorf("wrapped usage error: status %d, %q", code, stderr.String())
	}
	stderr.Reset()
	if code := Status(&stderr, "tool", errors.New("open x: no such file")); code != StatusError || stderr.String() != "tool: open x: no such file\n" {
		t.Errorf("runtime error: status %d, %q", code, stderr.String())
	}
}

// A command parses its flags with Parse and hands its error to Status
// (through Exit in main), which prints it and chooses the exit status.
func ExampleStatus() {
	fs := NewFlagSet("capa predict", "Usage: capa predict --model FILE IMAGE...\n")
	fs.String("model", "", "model file")
	err := Parse(fs, []string{"--modle", "m.safetensors"})
	code := Status(os.Stdout, "capa predict", err)
	fmt.Println("exit status", code)
	// Output:
	// capa predict: unknown flag -modle; see 'capa predict -h'
	// exit status 2
}

func TestPixels(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		str  string
	}{{"16777216", 1 << 24, "4096x4096"}, {"8192x8192", 8192 * 8192, "8192x8192"}, {"640×480", 640 * 480, "307200"}, {" 100X3 ", 300, "300"}} {
		var p Pixels
		if err := p.Set(c.in); err != nil || int64(p) != c.want || p.String() != c.str {
			t.Errorf("Set(%q): %d %q %v, want %d %q", c.in, p, p.String(), err, c.want, c.str)
		}
	}
	for _, in := range []string{"", "0", "-5", "0x100", "axb", "12x", "1e6", "99999999999x99999999999"} {
		var p Pixels
		if err := p.Set(in); err == nil {
			t.Errorf("Set(%q) accepted: %d", in, p)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	p := PixelsVar(fs, "max-pixels", 4096*4096, "limit")
	if err := fs.Parse([]string{"--max-pixels", "100x100"}); err != nil || *p != 10000 {
		t.Errorf("parsed %d, %v", *p, err)
	}
}
