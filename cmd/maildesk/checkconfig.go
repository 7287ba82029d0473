package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/configload"
	"github.com/maildesk/maildesk/notify"
)

// cmdCheckConfig prints "config ok" (after notes on choices worth knowing
// about), or one line per problem and fails.
var checkConfigCommand = &command{name: "check-config", flags: "--config FILE", summary: "validate the configuration and the contacts file",
	run: func(_ context.Context, args []string, stdout, _ io.Writer) error { return cmdCheckConfig(args, stdout) }}

func cmdCheckConfig(args []string, stdout io.Writer) error {
	fs, path := newFlags("check-config")
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	cfg, _, err := loadConfig(*path)
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
	for _, n := range configNotes(cfg) {
		fmt.Fprintln(stdout, "note:", n)
	}
	fmt.Fprintln(stdout, "config ok")
	return nil
}

// configNotes explain settings that are valid but have consequences an
// operator should choose knowingly.
func configNotes(cfg *config.Config) []string {
	var notes []string
	d := cfg.Desk
	if len(d.Agents)+len(d.AgentDomains) > 0 && d.AgentMail != config.AgentMailAuthenticated {
		notes = append(notes, "desk.agent_mail is off: agents' mail is refused and they answer through the API, the "+
			"CLI or the dashboard. To let them answer by mail, set desk.agent_mail: authenticated and "+
			"authz.trusted_authserv_ids to your MTA's authserv-id (docs/operations.md#security).")
	}
	return notes
}

// loadConfig is configload.Load plus the checks that need the daemon's own
// packages (the templates), reported the same way: a broken template is
// found by check-config and at start, not on the first mail.
func loadConfig(path string) (*config.Config, *notify.Templates, error) {
	cfg, err := configload.Load(path)
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
	// What the Redis client refuses at start (an unknown URL option, a bad
	// database number) is a problem of the config, found here too.
	if cfg.Redis.Mode() == "url" {
		if _, err := singleOptions(cfg.Redis); err != nil {
			return nil, nil, config.Problems{{File: cfg.Path, Path: "redis.url", Reason: err.Error()}}
		}
	}
	return cfg, tpl, nil
}
