// Package cli holds the command-line conventions shared by Capa's commands
// (capa and its subcommands, transfer-demo):
//
//   - CMD -h, CMD --help and CMD -help print the command's usage to standard
//     output; the command then succeeds (exit status 0).
//   - A usage error (unknown flag, bad flag value, missing or extra
//     argument, unknown command) prints one line on standard error, the
//     mistake and a hint such as "see 'capa train -h'", and exits with
//     status 2.
//   - Any other error (a missing file, a diverging run) prints the message
//     on standard error and exits with status 1.
//
// A command builds its flags with NewFlagSet, parses them with Parse, and
// reports its own usage mistakes with Usagef; main passes the command's
// error to Exit.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit statuses.
const (
	StatusOK    = 0 // success, help included
	StatusError = 1 // the command ran and failed
	StatusUsage = 2 // the command line is wrong
)

// stdout receives help texts; a variable so that tests can capture it.
var stdout io.Writer = os.Stdout

// UsageError is a mistake in the command line. Its message is one line,
// without the command's name.
type UsageError struct {
	Msg string
}

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError with the formatted message, such as
// Usagef("--model FILE is required").
func Usagef(format string, a ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, a...)}
}

// IsHelp reports whether err means that help was asked for and printed:
// the command succeeded.
func IsHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }

// NewFlagSet returns a flag set named name (the command as typed, e.g.
// "capa train") that continues on error. Its Usage prints usage (the
// synopsis and a description, ending in a newline), then "Flags:" and the
// flags' defaults.
func NewFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, usage)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// Parse parses args with fs, printing nothing on error. When args ask for
// help (-h, -help, --help) it prints fs.Usage to standard output and
// returns flag.ErrHelp (see IsHelp). Any other parse failure is returned as
// a *UsageError: "unknown flag -x", "invalid value "abc" for flag -lr: ...",
// "flag needs an argument: -out".
func Parse(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if err == nil {
		return nil
	}
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(out)
		return flag.ErrHelp
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		msg = "unknown flag " + name
	}
	return &UsageError{Msg: msg}
}

// NoArgs returns a *UsageError if fs has arguments left after the flags.
func NoArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q (flags come before arguments; all of them start with -)", fs.Arg(0))
	}
	return nil
}

// Status reports err of the command named cmd on w (standard error) as the
// conventions say and returns the exit status: nothing and 0 for nil or
// help; "cmd: msg; see 'cmd -h'" and 2 for a *UsageError; "cmd: err" and 1
// otherwise.
func Status(w io.Writer, cmd string, err error) int {
	var ue *UsageError
	switch {
	case err == nil || IsHelp(err):
		return StatusOK
	case errors.As(err, &ue):
		fmt.Fprintf(w, "%s: %s; see '%s -h'\n", cmd, ue.Msg, cmd)
		return StatusUsage
	default:
		fmt.Fprintf(w, "%s: %v\n", cmd, err)
		return StatusError
	}
}

// Exit reports err as Status does, on standard error, and exits with its
// status.
func Exit(cmd string, err error) {
	os.Exit(Status(os.Stderr, cmd, err))
}
