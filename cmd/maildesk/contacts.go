package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/escalation"
)

// The directory of customers and contacts lives in Redis (authz.Store). The
// daemon imports contacts_file at start and on SIGHUP when the file changed
// since its last import, and refreshes from Redis every 30 s; the contacts
// commands edit Redis directly. See authz.Store for the file-vs-Redis rule.

// fileOrigin is the origin of an import of the desk's contacts_file.
func fileOrigin(cfg *config.Config, sum string) authz.Origin {
	return authz.Origin{Source: cfg.ContactsFile + " " + sum, FileSum: sum}
}

// refreshDirectory imports a queued contacts file if it changed and loads a
// newer directory from Redis; it is also the 30 s scheduler job.
func (d *daemon) refreshDirectory(ctx context.Context) error {
	before := escalation.PlansOf(d.dir.Directory().Customers())
	r, err := d.dir.Refresh(ctx)
	if err != nil {
		return fmt.Errorf("refreshing the directory from Redis: %w", err)
	}
	if r.Loaded {
		d.esc.ReplanChanged(ctx, before, escalation.PlansOf(d.dir.Directory().Customers()), d.now())
	}
	if r.Imported {
		d.log.Info("contacts file imported into Redis: it changed since the last import", "file", d.cfg.ContactsFile, "version", r.Version)
	}
	if r.Loaded {
		d.log.Info("directory loaded from Redis", "version", r.Version, "customers", len(d.dir.Directory().Customers()), "contacts", d.dir.Directory().Size())
	}
	return nil
}

// reloadOnSignal re-reads the contacts file on every SIGHUP until ctx ends.
// A file with problems is reported and ignored: the directory in use stays.
func (d *daemon) reloadOnSignal(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			d.reloadContacts(ctx)
		}
	}
}

func (d *daemon) reloadContacts(ctx context.Context) {
	d.log.Info("reloading contacts file", "file", d.cfg.ContactsFile)
	cs, sum, err := authz.ReadContacts(d.cfg)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				d.log.Error("contacts file problem", "problem", p.String())
			}
		}
		d.log.Error("contacts file not reloaded; the directory in use stays", "err", err)
		return
	}
	d.dir.QueueFile(cs, fileOrigin(d.cfg, sum))
	if err := d.refreshDirectory(ctx); err != nil {
		d.log.Warn("contacts file read but not yet imported; retrying every 30s", "err", err)
	}
}

var contactsCommand = &command{name: "contacts", subs: []*command{
	{name: "list", flags: "--config FILE [--json]", summary: "the customers and contacts in use (kept in Redis)", run: withSub("list", cmdContacts)},
	{name: "add", flags: "--config FILE --customer ID --email ADDR [--name NAME] [--main]\n[--language nl|en] [--max-priority P1..P4] [--no-progress]",
		summary: "add a contact, or change one", run: withSub("add", cmdContacts)},
	{name: "remove", flags: "--config FILE EMAIL", summary: "remove a contact", run: withSub("remove", cmdContacts)},
	{name: "import", flags: "--config FILE PATH", summary: "replace all contacts by a YAML or CSV file\n(validated whole: on any problem nothing changes)",
		run: withSub("import", cmdContacts)},
	{name: "erase", flags: "--config FILE EMAIL [--reference TEXT] [--as NAME] [--json]",
		summary: "remove a person's data from tickets, history, rejections, outbox\nand their mails from the IMAP folders (GDPR erasure)", run: withSub("erase", cmdContactsPerson)},
	{name: "export", flags: "--config FILE EMAIL [--output FILE]",
		summary: "everything held about a person, as JSON (GDPR access request)", run: withSub("export", cmdContactsPerson)},
}}

// cmdContacts is contacts list, add, remove and import.
func cmdContacts(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("contacts " + sub)
	var (
		asJSON      = fs.Bool("json", false, "print JSON")
		customer    = fs.String("customer", "", "customer id")
		email       = fs.String("email", "", "contact address")
		name        = fs.String("name", "", "contact name")
		isMain      = fs.Bool("main", false, "the customer's main contact")
		language    = fs.String("language", "", "nl or en; empty: the desk's")
		maxPriority = fs.String("max-priority", "", "highest priority the contact may ask for, P1..P4")
		noProgress  = fs.Bool("no-progress", false, "send this contact no progress mails")
	)
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	// Flags of other subcommands are accepted by the shared set; refuse
	// them rather than ignore what the user asked for.
	allowed := map[string][]string{
		"list":   {"config", "json"},
		"add":    {"config", "customer", "email", "name", "main", "language", "max-priority", "no-progress"},
		"remove": {"config"},
		"import": {"config"},
	}[sub]
	var stray error
	fs.Visit(func(f *flag.Flag) {
		if stray == nil && !slices.Contains(allowed, f.Name) {
			stray = fmt.Errorf("%w: contacts %s does not take --%s", errUsage, sub, f.Name)
		}
	})
	if stray != nil {
		return stray
	}
	wantArgs := map[string]int{"list": 0, "add": 0, "remove": 1, "import": 1}[sub]
	if fs.NArg() != wantArgs {
		switch sub {
		case "remove":
			return fmt.Errorf("%w: contacts remove needs one EMAIL", errUsage)
		case "import":
			return fmt.Errorf("%w: contacts import needs one PATH (YAML or CSV)", errUsage)
		}
		return fmt.Errorf("%w: contacts %s takes no arguments", errUsage, sub)
	}

	cfg, rdb, err := openDesk(ctx, *path)
	if err != nil {
		return err
	}
	defer rdb.Close()
	store := authz.NewStore(rdb, cfg.Desk.ID)

	switch sub {
	case "list":
		return contactsList(ctx, cfg, store, *asJSON, stdout, stderr)
	case "import":
		return contactsImport(ctx, cfg, store, fs.Arg(0), stdout, stderr)
	}

	// An edit goes on top of the contacts file as it is now: were the file
	// changed but not yet imported, the daemon's next import would undo
	// the edit.
	imported, _, err := store.ImportIfChanged(ctx, cfg.Customers, fileOrigin(cfg, cfg.ContactsSHA256))
	if err != nil {
		return err
	}
	if imported {
		fmt.Fprintf(stdout, "imported %s first: it changed since the last import\n", cfg.ContactsFile)
	}
	switch sub {
	case "add":
		if *customer == "" || *email == "" {
			return fmt.Errorf("%w: contacts add needs --customer ID and --email ADDR", errUsage)
		}
		progress := !*noProgress
		c := config.Contact{Email: *email, Name: *name, Main: *isMain, Language: *language, MaxPriority: *maxPriority, ReceivesProgress: &progress}
		if err := store.Add(ctx, *customer, c, cfg.Plans); err != nil {
			var ps config.Problems
			if errors.As(err, &ps) {
				fmt.Fprintf(stderr, "maildesk: %s not added to customer %s, nothing changed:\n", *email, *customer)
				for _, p := range ps {
					fmt.Fprintln(stderr, "  "+p.String())
				}
				return errReported
			}
			return err
		}
		fmt.Fprintf(stdout, "added %s to customer %s%s\n", *email, *customer, versionNote(ctx, store))
	case "remove":
		if err := store.Remove(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s%s\n", fs.Arg(0), versionNote(ctx, store))
	}
	return nil
}

func versionNote(ctx context.Context, store *authz.Store) string {
	if v, err := store.Version(ctx); err == nil {
		return fmt.Sprintf(" (directory version %d; running daemons pick it up within 30s)", v)
	}
	return ""
}

// contactsImport replaces the directory with a file, always, or changes
// nothing when the file has any problem.
func contactsImport(ctx context.Context, cfg *config.Config, store *authz.Store, path string, stdout, stderr io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading contacts to import: %w", err)
	}
	cs, err := authz.CheckContacts(cfg, data, path)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(stderr, p.String())
			}
			fmt.Fprintf(stderr, "maildesk: %s has %d problem(s); nothing imported\n", path, len(ps))
			return errReported
		}
		return err
	}
	sum := authz.SHA256(data)
	// Recording the hash of contacts_file as it is now keeps the daemon
	// from overwriting this import with the unchanged file at its next
	// start; importing contacts_file itself records its own hash.
	fileSum := cfg.ContactsSHA256
	if abs, err := filepath.Abs(path); err == nil && abs == cfg.ContactsFile {
		fileSum = sum
	}
	v, err := store.Replace(ctx, cs, authz.Origin{Source: path + " " + sum, FileSum: fileSum})
	if err != nil {
		return err
	}
	n := 0
	for _, c := range cs {
		n += len(c.Contacts)
	}
	fmt.Fprintf(stdout, "imported %d customers, %d contacts from %s (directory version %d; running daemons pick it up within 30s)\n", len(cs), n, path, v)
	return nil
}

type listing struct {
	Version   int64               `json:"version"`
	Source    string              `json:"source"`
	UpdatedAt time.Time           `json:"updated_at"`
	Customers []authz.CustomerRow `json:"customers"`
}

func contactsList(ctx context.Context, cfg *config.Config, store *authz.Store, asJSON bool, stdout, stderr io.Writer) error {
	cs, v, err := store.Load(ctx)
	if err != nil {
		return err
	}
	if v == 0 {
		return fmt.Errorf("%w: run maildesk contacts import %s, or start the daemon", authz.ErrNoDirectory, cfg.ContactsFile)
	}
	info, err := store.Info(ctx)
	if err != nil {
		return err
	}
	if info.FileSum != cfg.ContactsSHA256 {
		fmt.Fprintf(stderr, "note: %s changed since the last import; the daemon imports it at its next start or SIGHUP\n", cfg.ContactsFile)
	}
	cs = authz.NewDirectory(cs).Customers() // sorted by id
	if asJSON {
		return writeJSON(stdout, listing{Version: v, Source: info.Source, UpdatedAt: info.UpdatedAt, Customers: authz.CustomerRows(cs)})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CUSTOMER\tEMAIL\tNAME\tMAIN\tLANGUAGE\tMAX_PRIORITY\tPROGRESS")
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	for _, c := range cs {
		for _, ct := range c.Contacts {
			mainFlag := ""
			if ct.Main {
				mainFlag = "main"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, ct.Email, ct.Name, mainFlag, ct.Language, ct.MaxPriority,
				yes(ct.GetsProgress()))
		}
		for _, dom := range c.Domains {
			what := "(anyone: notice naming the main contact)"
			if c.AuthoriseDomains {
				what = "(anyone: authorised)"
			}
			fmt.Fprintf(tw, "%s\t*@%s\t%s\t\t\t\t\n", c.ID, dom, what)
		}
		if len(c.Contacts) == 0 && len(c.Domains) == 0 {
			fmt.Fprintf(tw, "%s\t-\t(no contacts)\t\t\t\t\n", c.ID)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\ndirectory version %d from %s, changed %s\n", v, strings.TrimSpace(info.Source),
		info.UpdatedAt.In(cfg.Desk.Location).Format("2006-01-02 15:04"))
	return nil
}
