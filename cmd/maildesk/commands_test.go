package main

import (
	"bytes"
	"strings"
	"testing"
)

// everyCommand is every entry of the table with its full name: groups,
// their subcommands and commands with subcommands of their own (demo).
func everyCommand() map[string]*command {
	out := map[string]*command{}
	var walk func(prefix string, cs []*command)
	walk = func(prefix string, cs []*command) {
		for _, c := range cs {
			full := strings.TrimSpace(prefix + " " + c.name)
			out[full] = c
			walk(full, c.subs)
		}
	}
	walk("", commands)
	return out
}

// `maildesk CMD --help` and `-h` (and `maildesk CMD SUB --help`) print
// that command's usage to stdout and exit 0, whatever else is on the line;
// nothing is run.
func TestCommandHelp(t *testing.T) {
	for full, c := range everyCommand() {
		for _, help := range []string{"--help", "-h", "-help"} {
			args := append(strings.Fields(full), help)
			if c.run != nil {
				// Flags before it are no reason to run.
				args = append(strings.Fields(full), "--config", "nowhere.yaml", help)
				if full == "healthcheck" || full == "version" || strings.HasPrefix(full, "demo") {
					args = append(strings.Fields(full), help)
				}
			}
			var out, errOut bytes.Buffer
			code := run(args, &out, &errOut)
			if code != 0 || errOut.Len() != 0 {
				t.Errorf("%q: exit %d, stderr %q; want exit 0 and nothing on stderr", args, code, errOut.String())
				continue
			}
			got := out.String()
			if !strings.HasPrefix(got, "Usage:\n  maildesk "+full) {
				t.Errorf("%q printed %q, want the usage of %s", args, got, full)
			}
			if strings.Contains(got, "help requested") || (full != "version" && strings.Contains(got, "maildesk version")) {
				t.Errorf("%q printed more than its own usage:\n%s", args, got)
			}
			for _, s := range c.subs {
				if !strings.Contains(got, "maildesk "+full+" "+s.name) {
					t.Errorf("%q: usage lacks its subcommand %s:\n%s", args, s.name, got)
				}
			}
			if c.run != nil && strings.Contains(c.flags, "--config") && !strings.Contains(got, "\n  --config ") {
				t.Errorf("%q: usage lacks the --config flag:\n%s", args, got)
			}
		}
	}
}

// An unknown flag is a usage mistake: exit 2 with the mistake and the
// command's usage (not the whole CLI's) on stderr.
func TestCommandUnknownFlag(t *testing.T) {
	for full, c := range everyCommand() {
		if c.run == nil {
			continue
		}
		args := append(strings.Fields(full), "--no-such-flag")
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		got := errOut.String()
		if code != 2 || !strings.Contains(got, "flag provided but not defined: -no-such-flag") ||
			!strings.Contains(got, "Usage:\n  maildesk "+full) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2, the mistake and the usage of %s", args, code, got, full)
		}
		if full != "version" && strings.Contains(got, "maildesk version") {
			t.Errorf("%q: the whole usage printed:\n%s", args, got)
		}
	}
}

// The top-level usage is made from the table: every command is in it, in
// the table's order; `maildesk help CMD` is that command's.
func TestUsageFromTable(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--help"}, &out, &errOut); code != 0 || out.String() != usage() {
		t.Fatalf("--help: exit %d, %q", code, out.String())
	}
	u := usage()
	last := 0
	var walk func(prefix string, cs []*command)
	walk = func(prefix string, cs []*command) {
		for _, c := range cs {
			full := strings.TrimSpace(prefix + " " + c.name)
			if c.run != nil || len(c.subs) == 0 {
				i := strings.Index(u, "  maildesk "+full+" ")
				if i < 0 {
					i = strings.Index(u, "  maildesk "+full+"\n")
				}
				if i < last {
					t.Errorf("%s missing from the usage, or out of the table's order", full)
				}
				last = max(last, i)
			}
			walk(full, c.subs)
		}
	}
	walk("", commands)
	out.Reset()
	if code := run([]string{"help", "tickets", "list"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "Usage:\n  maildesk tickets list --config FILE") {
		t.Errorf("help tickets list: exit %d, %q", code, out.String())
	}
	for _, args := range [][]string{{}, {"nonsense"}, {"tickets"}, {"tickets", "nonsense"}} {
		errOut.Reset()
		if code := run(args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "Usage:") {
			t.Errorf("%q: exit %d, %q; want exit 2 with a usage", args, code, errOut.String())
		}
	}
}

// A group without its subcommand, or with one it does not have, is a usage
// mistake answered by the table (dispatch): exit 2, the mistake naming the
// subcommands, and the group's usage with each of them on stderr. The
// commands behind the table never see it.
func TestGroupWithoutSubcommand(t *testing.T) {
	for full, c := range everyCommand() {
		if c.run != nil || len(c.subs) == 0 {
			continue
		}
		for _, extra := range [][]string{nil, {"nonsense"}, {"--config", "nowhere.yaml"}} {
			args := append(strings.Fields(full), extra...)
			var out, errOut bytes.Buffer
			code := run(args, &out, &errOut)
			got := errOut.String()
			if code != 2 || out.Len() != 0 || !strings.Contains(got, "Usage:\n  maildesk "+full+" ") {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and the usage of %s", args, code, out.String(), got, full)
				continue
			}
			for _, s := range c.subs {
				if !strings.Contains(got, "maildesk "+full+" "+s.name) {
					t.Errorf("%q: usage lacks the subcommand %s:\n%s", args, s.name, got)
				}
			}
		}
	}
}
