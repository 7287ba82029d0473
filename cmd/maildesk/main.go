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

const usage = `maildesk turns e-mail to a servicedesk address into tickets.

Usage:
  maildesk run --config FILE [--config FILE ...]
                                         run the daemon, one desk per config (SIGINT/SIGTERM: finish the mail in hand, stop)
  maildesk check-config --config FILE    validate the configuration and the contacts file
  maildesk tickets list --config FILE [--json] [--all | --status S] [--customer ID] [--contact EMAIL]
                        [--since DATE|7d] [--search TEXT] [--limit 100] [--cursor C]
                                         the open tickets (--all: every one), newest first, a page at a time
  maildesk tickets check --config FILE [--repair] [--json]
                                         compare the ticket indexes with the tickets; --repair mends them
  maildesk tickets show --config FILE [--json] NUMBER
  maildesk tickets raw --config FILE NUMBER      print the original mail from IMAP
  maildesk tickets reply --config FILE NUMBER --message TEXT [--as NAME]
                                         answer the customer (mailed to the contact and participants)
  maildesk tickets note --config FILE NUMBER --message TEXT [--as NAME]   internal note, not mailed
  maildesk tickets set --config FILE NUMBER [status=S] [priority=P] [type=T] [reason=TEXT] [assignee=NAME]
                                         change a ticket; the customer's side is told
  maildesk tickets open --config FILE --customer ID --contact ADDRESS --subject TEXT --message TEXT
                       [--priority P] [--type incident|feature_request] [--channel phone|in_person]
                       [--at TIME] [--as NAME] [--idempotency-key KEY] [--json]
                                         a ticket for a request taken by phone or in person: the contact is
                                         acknowledged, the SLA clock starts at --at (default now)
  maildesk tickets time --config FILE NUMBER [DURATION] [--at TIME] [--activity A] [--note TEXT]
                       [--no-bill | --bill] [--as NAME] [--idempotency-key KEY] [--json]
                                         record work on a ticket (DURATION: 45m, 1h30m; it ended now unless
                                         --at says when it started); without DURATION show its time and budget
  maildesk tickets time --config FILE NUMBER --void ID [--reason TEXT] [--as NAME]
                                         void a wrong time record (it stays, marked, and counts nowhere)
  maildesk tickets time --config FILE NUMBER --budget DURATION [--reason TEXT] [--as NAME]
                                         the ticket's own budget, agreed with the customer (0: the plan's)
  maildesk rejections list --config FILE [--json]   refused mail: time, sender, reason
  maildesk retention run --config FILE [--dry-run] [--json]
                                         one retention run now (the daemon runs it every retention.interval);
                                         --dry-run lists what would go
  maildesk outbox list --config FILE [--json] [--dead | --skipped]
                                         outgoing mail waiting (state, attempts, last error), dead or skipped
  maildesk outbox retry --config FILE [--unsuppress] (ID... | --all-dead)
                                         send again now (ID: stream id or notification id, e.g. SD-4/ack),
                                         also mail whose delivery is uncertain
  maildesk outbox drop --config FILE --reason TEXT ID...
                                         give up on mail (kept as a dead letter) or delete a dead/skipped one
  maildesk contacts list --config FILE [--json]     the customers and contacts in use (kept in Redis)
  maildesk contacts add --config FILE --customer ID --email ADDR [--name NAME] [--main]
                        [--language nl|en] [--max-priority P1..P4] [--no-progress]
  maildesk contacts remove --config FILE EMAIL
  maildesk contacts import --config FILE PATH    replace all contacts by a YAML or CSV file
                                         (validated whole: on any problem nothing changes)
  maildesk contacts erase --config FILE EMAIL [--reference TEXT] [--as NAME] [--json]
                                         remove a person's data from tickets, history, rejections, outbox
                                         and their mails from the IMAP folders (GDPR erasure)
  maildesk contacts export --config FILE EMAIL [--output FILE]
                                         everything held about a person, as JSON (GDPR access request)
  maildesk auth login --config FILE      OAuth2 device_code: sign in (prints a URL and a code) and store the grant;
                                         refresh_token: store oauth2.refresh_token_file's token anew
  maildesk auth status --config FILE [--json]
                                         sign-in method, account, grant, token and credential expiry, last sign-ins
  maildesk repair --config FILE [--since TIME] [--dry-run]
                                         compare Redis with the mailbox journal (filed mail's outcomes, copies of
                                         sent mail) and restore what Redis lost; then compare again
  maildesk sla due --config FILE --plan NAME --priority P [--type T] [--language nl|en] --at TIME
                                         first-response deadline of a ticket arriving at TIME (RFC 3339)
  maildesk billing quote --config FILE --plan P --at TIME --duration 45m [--type T] [--priority P]
                         [--activity A] [--channel mail|phone|in_person]
                                         what the work costs under the plan's billing rules, split by rate class
  maildesk billing statement --config FILE --customer ID --month 2026-11 [--format csv|json|pdf] [--output FILE]
                                         a customer's monthly statement from the time recorded on its tickets
  maildesk demo [--imap-port 1143] [--smtp-port 2525] [--redis URL] [--http 127.0.0.1:8080]
                                         run maildesk on embedded IMAP, SMTP and Redis (Ctrl-C stops)
  maildesk demo send --from ADDR --subject TEXT [--body TEXT] [--to ADDR] [--smtp HOST:PORT]
                                         send one mail to a running demo
  maildesk healthcheck [--url URL | --config FILE] [--ready] [--timeout 3s]
                                         exit 0 when the daemon's /healthz (--ready: /readyz) answers 200
  maildesk version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks command-line mistakes: they exit 2 after the usage text.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stderr)
	case "check-config":
		err = cmdCheckConfig(args[1:], stdout)
	case "tickets":
		err = cmdTickets(ctx, args[1:], stdout, stderr)
	case "rejections":
		err = cmdRejections(ctx, args[1:], stdout)
	case "retention":
		err = cmdRetention(ctx, args[1:], stdout)
	case "outbox":
		err = cmdOutbox(ctx, args[1:], stdout, stderr)
	case "auth":
		err = cmdAuth(ctx, args[1:], stdout, stderr)
	case "contacts":
		err = cmdContacts(ctx, args[1:], stdout, stderr)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr)
	case "sla":
		err = cmdSLA(args[1:], stdout, stderr)
	case "billing":
		err = cmdBilling(ctx, args[1:], stdout, stderr)
	case "healthcheck":
		err = cmdHealthcheck(ctx, args[1:], stdout, stderr)
	case "repair":
		err = cmdRepair(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "maildesk", versionString())
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "maildesk:", err)
		}
		fmt.Fprint(stderr, usage)
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

// configFlag parses "--config FILE" plus extra flags for a subcommand.
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
			return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
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
		return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	}
	if *cfg == "" {
		return fmt.Errorf("%w: %s needs --config FILE", errUsage, fs.Name())
	}
	return nil
}
