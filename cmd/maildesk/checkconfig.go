package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
)

// cmdCheckConfig prints "config ok", or one line per problem and fails.
func cmdCheckConfig(args []string, stdout io.Writer) error {
	fs, path := newFlags("check-config")
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	_, _, err := loadConfig(*path)
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(stdout, p.String())
		}
		return errReported
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "config ok")
	return nil
}

// loadConfig is config.Load plus the checks that need the daemon's own
// packages (the templates), reported the same way: a broken template is
// found by check-config and at start, not on the first mail.
func loadConfig(path string) (*config.Config, *notify.Templates, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	tpl, err := notify.LoadTemplates(cfg.Desk.TemplatesDir)
	var tp notify.TemplateProblems
	if errors.As(err, &tp) {
		ps := make(config.Problems, len(tp))
		for i, p := range tp {
			ps[i] = config.Problem{File: p.File, Line: p.Line, Reason: p.Reason}
		}
		return nil, nil, ps
	}
	if err != nil {
		return nil, nil, fmt.Errorf("loading templates from desk.templates_dir %s: %w", cfg.Desk.TemplatesDir, err)
	}
	return cfg, tpl, nil
}
