package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/maildesk/maildesk/config"
)

var runCommand = &command{name: "run", flags: "--config FILE [--config FILE ...]",
	summary: "run the daemon, one desk per config (SIGINT/SIGTERM: finish the mail in hand, stop)",
	run:     func(ctx context.Context, args []string, _, stderr io.Writer) error { return cmdRun(ctx, args, stderr) }}

func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	path := new(string)
	// Several --config: several desks in one process.
	var paths []string
	fs.Func("config", "a desk's configuration (repeat for several desks)", func(p string) error {
		paths = append(paths, p)
		*path = p
		return nil
	})
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	var cfgs []*config.Config
	reported := false
	for _, p := range paths {
		cfg, _, err := loadConfig(p)
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(stderr, p.String())
			}
			reported = true
			continue
		}
		if err != nil {
			return err
		}
		cfgs = append(cfgs, cfg)
	}
	if reported {
		return errReported
	}
	log := newLogger(cfgs[0].Log, stderr)
	return runDesks(ctx, cfgs, log, time.Now)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	format := c.Format
	if format == "" || format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
