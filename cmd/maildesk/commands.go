package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// A command is one entry of the CLI's table: `maildesk NAME FLAGS`, what
// it does, and run. The usage text is made from the table, the whole of it
// for `maildesk --help` and one entry's for `maildesk NAME --help`.
type command struct {
	// name is the word typed for it after its parent's ("tickets", "list").
	name string
	// flags is the synopsis of its flags and arguments; a "\n" continues
	// it on the next line.
	flags string
	// summary says what it does; a "\n" starts a new line.
	summary string
	// more are further forms of the same command (tickets time).
	more []form
	// run runs it with the arguments after its name. A command with subs
	// runs when the first argument names none of them (demo).
	run runFunc
	// subs are its subcommands (tickets list, tickets show, ...).
	subs []*command
}

type runFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// form is one line of a command's usage.
type form struct{ flags, summary string }

// commands is the CLI, in the order of its usage text.
var commands = []*command{
	runCommand, checkConfigCommand, ticketsCommand, rejectionsCommand, retentionCommand, outboxCommand,
	contactsCommand, authCommand, repairCommand, slaCommand, billingCommand, demoCommand, healthcheckCommand,
	versionCommand,
}

var versionCommand = &command{
	name: "version", summary: "print maildesk's version",
	run: func(_ context.Context, args []string, stdout, _ io.Writer) error {
		fs := flag.NewFlagSet("version", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if err := fs.Parse(args); err != nil {
			return flagError(fs, err)
		}
		fmt.Fprintln(stdout, "maildesk", versionString())
		return nil
	},
}

const usageHead = "maildesk turns e-mail to a servicedesk address into tickets.\n\nUsage:\n"

// usage is the whole usage text: every command of the table.
func usage() string {
	var b strings.Builder
	b.WriteString(usageHead)
	for _, c := range commands {
		writeForms(&b, c.name, c)
	}
	return b.String()
}

// summaryColumn is where a command's summary starts in the usage text.
const summaryColumn = 41

// writeForms writes the usage lines of c, called full ("tickets list"),
// and of its subcommands.
func writeForms(w io.Writer, full string, c *command) {
	if c.run != nil || len(c.subs) == 0 {
		writeForm(w, full, form{c.flags, c.summary})
		for _, f := range c.more {
			writeForm(w, full, f)
		}
	}
	for _, s := range c.subs {
		writeForms(w, full+" "+s.name, s)
	}
}

func writeForm(w io.Writer, full string, f form) {
	head := "  maildesk " + full
	indent := strings.Repeat(" ", len(head)+1)
	lines := strings.Split(f.flags, "\n")
	if lines[0] != "" {
		head += " " + lines[0]
	}
	var b strings.Builder
	b.WriteString(head)
	for _, l := range lines[1:] {
		b.WriteString("\n" + indent + l)
	}
	summary := strings.Split(f.summary, "\n")
	if f.summary == "" {
		summary = nil
	}
	if len(summary) > 0 && len(lines) == 1 && len(head) < summaryColumn-1 {
		// A short synopsis has its summary on the same line.
		b.WriteString(strings.Repeat(" ", summaryColumn-len(head)) + summary[0])
		summary = summary[1:]
	}
	for _, s := range summary {
		b.WriteString("\n" + strings.Repeat(" ", summaryColumn) + s)
	}
	fmt.Fprintln(w, b.String())
}

// commandUsage is the usage of one command (with its subcommands'), and
// the flags of fs, when given, that its synopsis names.
func commandUsage(full string, c *command, fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString("Usage:\n")
	writeForms(&b, full, c)
	if len(c.subs) > 0 {
		fmt.Fprintf(&b, "\n`maildesk %s COMMAND --help` shows a command's flags.\n", full)
	}
	if fs != nil {
		synopsis := c.flags
		for _, f := range c.more {
			synopsis += " " + f.flags
		}
		var flags strings.Builder
		fs.VisitAll(func(f *flag.Flag) {
			if !namesFlag(synopsis, f.Name) {
				return
			}
			kind, text := flag.UnquoteUsage(f)
			fmt.Fprintf(&flags, "  --%s", f.Name)
			if kind != "" {
				fmt.Fprintf(&flags, " %s", kind)
			}
			fmt.Fprintf(&flags, "\n        %s", text)
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
				fmt.Fprintf(&flags, " (default %s)", f.DefValue)
			}
			flags.WriteString("\n")
		})
		if flags.Len() > 0 {
			b.WriteString("\nFlags:\n" + flags.String())
		}
	}
	return b.String()
}

// namesFlag reports whether synopsis names --name (a flag set may hold the
// flags of several subcommands: only the command's own are shown).
func namesFlag(synopsis, name string) bool {
	for rest := synopsis; ; {
		i := strings.Index(rest, "--"+name)
		if i < 0 {
			return false
		}
		rest = rest[i+2+len(name):]
		if rest == "" || !strings.ContainsAny(rest[:1], "abcdefghijklmnopqrstuvwxyz-") {
			return true
		}
	}
}

// lookup finds the command args name: the deepest entry, its full name
// and the arguments after it. A command with subcommands and no run of its
// own stops there with the rest (missing or unknown subcommand).
func lookup(args []string) (c *command, full string, rest []string) {
	i := slices.IndexFunc(commands, func(c *command) bool { return c.name == args[0] })
	if i < 0 {
		return nil, "", args
	}
	c, full, rest = commands[i], args[0], args[1:]
	for len(rest) > 0 {
		j := slices.IndexFunc(c.subs, func(s *command) bool { return s.name == rest[0] })
		if j < 0 {
			break
		}
		c, full, rest = c.subs[j], full+" "+rest[0], rest[1:]
	}
	return c, full, rest
}

// isHelp: the argument asks for usage rather than naming a subcommand.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// subNames lists c's subcommands as "a, b or c".
func subNames(c *command) string {
	names := make([]string, len(c.subs))
	for i, s := range c.subs {
		names[i] = s.name
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// dispatch runs the command named by args; on a usage mistake or a
// request for help the usage shown is that command's.
func dispatch(ctx context.Context, c *command, full string, args []string, stdout, stderr io.Writer) error {
	if c.run == nil {
		switch {
		case len(args) == 0:
			return fmt.Errorf("%w: %s needs %s", errUsage, full, subNames(c))
		case isHelp(args[0]):
			return &flagProblem{err: flag.ErrHelp}
		default:
			return fmt.Errorf("%w: unknown %s command %q (%s needs %s)", errUsage, full, args[0], full, subNames(c))
		}
	}
	return c.run(ctx, args, stdout, stderr)
}

// flagProblem is a parse error of a command's flags, or a request for its
// usage (-h, --help): it carries the flag set, whose flags the usage
// lists.
type flagProblem struct {
	fs  *flag.FlagSet
	err error
}

func (p *flagProblem) Error() string {
	msg := p.err.Error()
	if p.fs != nil {
		msg = p.fs.Name() + ": " + msg
	}
	if errors.Is(p.err, flag.ErrHelp) {
		return msg
	}
	return errUsage.Error() + ": " + msg
}

// Unwrap: a request for help is flag.ErrHelp, anything else a usage
// mistake.
func (p *flagProblem) Unwrap() []error {
	if errors.Is(p.err, flag.ErrHelp) {
		return []error{p.err}
	}
	return []error{errUsage, p.err}
}

// flagError is what parsing fs gave err means: a request for help or a
// usage mistake.
func flagError(fs *flag.FlagSet, err error) error {
	return &flagProblem{fs: fs, err: err}
}

// withSub runs f for the subcommand sub: subcommands that share one run
// (their flags, their Redis). The table has matched sub, so f is never
// without one nor given one it does not know.
func withSub(sub string, f func(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error) runFunc {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return f(ctx, sub, args, stdout, stderr)
	}
}
