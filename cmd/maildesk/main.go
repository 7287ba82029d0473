// Command maildesk turns e-mail to a servicedesk address into tickets.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks command-line mistakes: they exit 2 after the usage text.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	switch args[0] {
	case "--version", "-v":
		args = append([]string{"version"}, args[1:]...)
	case "help", "--help", "-h":
		// maildesk help [COMMAND...]
		if len(args) > 1 {
			if c, full, rest := lookup(args[1:]); c != nil && len(rest) == 0 {
				fmt.Fprint(stdout, commandUsage(full, c, nil))
				return 0
			}
		}
		fmt.Fprint(stdout, usage())
		return 0
	}
	c, full, rest := lookup(args)
	if c == nil {
		fmt.Fprintf(stderr, "maildesk: %v: unknown command %q\n", errUsage, args[0])
		fmt.Fprint(stderr, usage())
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, c, full, rest, stdout, stderr)
	var fp *flagProblem
	errors.As(err, &fp)
	var fs *flag.FlagSet
	if fp != nil {
		fs = fp.fs
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, commandUsage(full, c, fs))
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "maildesk:", err)
		fmt.Fprint(stderr, commandUsage(full, c, fs))
		return 2
	case errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintln(stderr, "maildesk:", err)
		return 1
	}
}

// errReported: the command has printed its own failure.
var errReported = errors.New("reported")

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// newFlags makes the flag set of a subcommand with its --config FILE; the
// subcommand adds its other flags.
func newFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := fs.String("config", "", "path to the YAML configuration")
	return fs, cfg
}

// parseFlags parses flags given before, between or after the positional
// arguments ("tickets reply --config F SD-1 --message TEXT"); fs.Args() are
// the positional ones afterwards.
func parseFlags(fs *flag.FlagSet, cfg *string, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return flagError(fs, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	// Parse again so that fs.Args() are the positional arguments.
	if err := fs.Parse(append([]string{"--"}, pos...)); err != nil {
		return flagError(fs, err)
	}
	if *cfg == "" {
		return fmt.Errorf("%w: %s needs --config FILE", errUsage, fs.Name())
	}
	return nil
}
