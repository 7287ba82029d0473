package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	netmail "net/mail"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/access"
	"github.com/maildesk/maildesk/alarm"
	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/configload"
	"github.com/maildesk/maildesk/escalation"
	"github.com/maildesk/maildesk/httpapi"
	"github.com/maildesk/maildesk/ingest"
	"github.com/maildesk/maildesk/lease"
	"github.com/maildesk/maildesk/mailparse"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/scheduler"
	"github.com/maildesk/maildesk/signin"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// openDesk loads the config at path and opens its Redis: what every
// command that reads or changes a desk's state starts with.
func openDesk(ctx context.Context, path string) (*config.Config, redis.UniversalClient, error) {
	return openDeskWith(ctx, path, config.SecretsRedis)
}

// openDeskWith is openDesk reading the secrets in need besides Redis's:
// a command reads the secrets it uses and no others.
func openDeskWith(ctx context.Context, path string, need config.Secrets) (*config.Config, redis.UniversalClient, error) {
	cfg, err := configload.LoadSecrets(path, need|config.SecretsRedis)
	if err != nil {
		return nil, nil, err
	}
	rdb, err := openRedis(ctx, cfg.Redis)
	if err != nil {
		return nil, nil, err
	}
	return cfg, rdb, nil
}

// daemon is maildesk's running parts, wired from one desk's config.
type daemon struct {
	cfg      *config.Config
	log      *slog.Logger
	rdb      redis.UniversalClient
	store    *ticket.Store
	outbox   *notify.Outbox
	watcher  *ingest.Watcher
	delivery *notify.Delivery
	esc      *escalation.Escalator
	work     *workflow.Service
	// statements are customers' monthly statements (billing).
	statements *workflow.Statements
	sched      *scheduler.Scheduler
	metrics    *httpapi.Metrics
	mailer     *notify.Mailer
	// dir is the directory senders are judged by, refreshed from Redis.
	dir *authz.Live
	// pipe judges incoming mail, and replies written on status pages.
	pipe *ingest.Pipeline
	// links are the customers' status and sign-in links.
	links *access.Store
	// send drains the outbox (notify.SendLoop).
	send *notify.SendLoop
	// leases decide which replica fetches; nil: this one always does.
	leases    *lease.Manager
	leaseHeld atomic.Bool
	// now is the business clock (newDaemonAt).
	now func() time.Time
	// imapPart and smtpPart are how this replica finds its mail servers;
	// alarms tells the operators when they stay unreachable.
	imapPart, smtpPart *alarm.Part
	alarms             *alarm.Monitor
	// journal keeps Redis in step with the mailbox (issue 16);
	// journalPart is its alarm.
	journal     *ingest.Journal
	journalPart *alarm.Part
}

func newDaemon(cfg *config.Config, log *slog.Logger) (*daemon, error) {
	return newDaemonAt(cfg, log, time.Now)
}

// newDaemonAt is newDaemon on a clock of the caller's: the demo's runs
// faster so that SLA warnings and breaches show within minutes. Every
// business time (ticket arrival, deadlines, sweeps, history) comes from
// it; timeouts and retries stay in real time.
func newDaemonAt(cfg *config.Config, log *slog.Logger, now func() time.Time) (_ *daemon, err error) {
	// Every new connection tells the journal which Redis server it reached:
	// one not compared with the mailbox yet holds intake and mail.
	var journal atomic.Pointer[ingest.Journal]
	rdb, err := openRedisObserved(context.Background(), cfg.Redis, func(runID string) {
		if j := journal.Load(); j != nil {
			j.ObserveServer(runID)
		}
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			rdb.Close()
		}
	}()
	log = log.With("desk", cfg.Desk.ID)
	d := &daemon{cfg: cfg, log: log, rdb: rdb, now: now}
	p, err := newParts(cfg, rdb, log, now)
	if err != nil {
		return nil, err
	}
	d.store, d.outbox, d.dir, d.esc, d.work = p.store, p.outbox, p.dir, p.esc, p.work
	d.statements = p.statements
	d.dir.QueueFile(cfg.Customers, fileOrigin(cfg, cfg.ContactsSHA256))
	_, domain, _ := strings.Cut(cfg.Desk.Address, "@")
	pipe := &ingest.Pipeline{
		Store:             d.store,
		Threads:           d.store,
		TicketPrefix:      cfg.Desk.TicketPrefix,
		Authz:             d.dir,
		Limits:            d.limits(),
		Own:               ingest.Own{Address: cfg.Desk.Address, MessageIDDomain: domain, LoopHeader: notify.LoopHeader, DeskID: cfg.Desk.ID},
		Plans:             cfg.Plans,
		Rules:             ingest.PriorityRules{Words: cfg.Priority.Words, FeatureWords: cfg.Priority.FeatureWords},
		Suppress:          d.outbox,
		BounceSuppression: cfg.Desk.BounceSuppression.D(),
		RequireAuth:       cfg.Authz.RequireAuthentication,
		TrustedAuthserv:   cfg.Authz.TrustedAuthservIDs,
		Language:          cfg.Desk.Language,
		Priority:          cfg.Desk.DefaultPriority,
		Now:               now,
		Clock:             d.esc,
		Agents:            d.work,
		AgentAddresses:    cfg.Desk.Agents,
		AgentDomains:      cfg.Desk.AgentDomains,
		AgentMail:         cfg.Desk.AgentMail == config.AgentMailAuthenticated,
		Location:          cfg.Desk.Location,
		ReopenDays:        cfg.Desk.ReopenDays,
		Log:               log,
	}
	d.pipe = pipe
	d.links = access.NewStore(rdb, cfg.Desk.ID, now)
	for _, w := range pipe.Warnings() {
		log.Warn(w)
	}
	d.metrics = httpapi.NewMetrics(cfg.Desk.ID)
	d.work.TimeRecorded = d.metrics.TimeMetrics()
	var tokens *signin.Source
	if cfg.OAuth2Enabled() {
		if tokens, err = signin.New(cfg.OAuth2, signin.Options{Redis: rdb, KeyPrefix: config.KeyPrefix(cfg.Desk.ID), Log: log}); err != nil {
			return nil, err
		}
	}
	d.imapPart = alarm.NewPart(alarm.IMAP, fmt.Sprintf("IMAP %s as %s", cfg.IMAP.Address, cfg.IMAP.Username),
		func(reason string) { d.metrics.SignInFailed(alarm.IMAP, reason) })
	smtpServer := "SMTP " + cfg.SMTP.Address
	if cfg.SMTP.Username != "" {
		smtpServer += " as " + cfg.SMTP.Username
	}
	d.smtpPart = alarm.NewPart(alarm.SMTP, smtpServer, func(reason string) { d.metrics.SignInFailed(alarm.SMTP, reason) })
	d.metrics.Reachable(func() bool { return !d.failing(d.imapPart) }, func() bool { return !d.failing(d.smtpPart) })
	d.metrics.Intake(func() httpapi.Intake {
		if d.leases != nil && !d.leaseHeld.Load() {
			return httpapi.Intake{} // a standby fetches nothing
		}
		st, now := d.watcher.Status(), time.Now()
		in := httpapi.Intake{Silent: now.Sub(st.Answered), Waiting: st.Waiting}
		if !st.OldestWaiting.IsZero() {
			in.OldestWaiting = now.Sub(st.OldestWaiting)
		}
		return in
	})
	wc := watcherConfig(cfg.IMAP)
	if cfg.IMAP.Auth == config.AuthOAuth2 {
		wc.OAuth2, wc.Mechanism = tokens, cfg.OAuth2.Mechanism
	}
	// The journal signs in on its own connection (also on a standby): its
	// attempts are not the watcher's, whose record is the mailbox's health.
	jc := wc
	wc.Connected = func(err error) { d.imapPart.Record(err, time.Now()) }
	d.journalPart = alarm.NewPart(alarm.Journal, "Redis (it lost writes; being repaired from the mailbox)", nil)
	d.journal = ingest.NewJournal(ingest.JournalConfig{
		Mailbox: jc, Sent: cfg.IMAP.SentMailbox, Interval: cfg.Redis.JournalCheckInterval.D(),
		RejectionRetention: cfg.Authz.RejectionRetention.D(), Log: log, Changed: d.journalChanged,
	}, d.store, d.outbox, pipe)
	journal.Store(d.journal)
	d.watcher = ingest.NewWatcher(wc, pipe, log, ingest.WithCheckpoints(d.store), ingest.WithGate(d.journal),
		ingest.WithObserver(observer{m: d.metrics, kick: d.kickOutbox}))
	// Tickets agents open are numbered as mail's: above the journal's floor,
	// never while Redis is not known to be in step.
	d.work.Creator = d.journal.Opener()
	d.metrics.Journal(func() httpapi.JournalStatus {
		st := d.journal.Status()
		return httpapi.JournalStatus{InStep: st.State == "ok", Missing: st.Missing, Repairs: st.Repairs}
	})
	d.metrics.OutboxDepth(func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := d.outbox.Depth(ctx)
		if err != nil {
			return -1 // Redis down: /readyz says so; -1 keeps the series from looking empty
		}
		return float64(n)
	})
	tpl, err := notify.LoadTemplates(cfg.Desk.TemplatesDir)
	if err != nil {
		return nil, fmt.Errorf("loading templates from desk.templates_dir: %w", err)
	}
	desk := notify.Desk{
		ID: cfg.Desk.ID, Name: cfg.Desk.Name, Address: cfg.Desk.Address, DefaultLanguage: cfg.Desk.Language,
		Location: cfg.Desk.Location, Templates: tpl,
	}
	if pub := cfg.HTTP.PublicURL; pub != "" {
		// SLA alerts and digests link to the tickets' pages.
		desk.TicketURL = func(number string) string { return httpapi.TicketURL(pub, number) }
	}
	sm := cfg.SMTP
	smc := notify.SMTPConfig{
		Address: sm.Address, Security: sm.Security, TLSSkipVerify: sm.TLSSkipVerify,
		Username: sm.Username, Password: sm.Password, Timeout: sm.Timeout.D(), DataTimeout: sm.DataTimeout.D(), HELO: sm.HELO,
		ReturnPath: sm.ReturnPath, NoticeReturnPath: sm.NoticeReturnPath,
		Connected: func(err error) { d.smtpPart.Record(err, time.Now()) },
	}
	if sm.Auth == config.AuthOAuth2 {
		smc.OAuth2, smc.Mechanism = tokens, cfg.OAuth2.Mechanism
	}
	mailer := notify.NewMailer(smc, desk)
	d.mailer = mailer
	host, _ := os.Hostname()
	trace := ingest.SentTrace{Journal: d.journal, Copies: mailer, Log: log}
	sent := notify.SentBook{Tickets: d.store, IDs: mailer, Now: now, Log: log}
	var statusLink func(ctx context.Context, n notify.Notification) (string, error)
	if cfg.HTTP.PublicURL != "" {
		// The customers' mails carry their status links, made at the send.
		m := &access.Mailer{Store: d.links, PublicURL: cfg.HTTP.PublicURL, Plans: cfg.Plans, Tickets: d.store, Authz: d.dir}
		statusLink = m.Link
	}
	d.delivery = &notify.Delivery{
		Outbox: d.outbox, Sender: notify.Held{Sender: mailer, Hold: d.journal.Hold}, Consumer: fmt.Sprintf("%s-%d", host, os.Getpid()), Log: log,
		SendTimeout: sm.Timeout.D(), Workers: cfg.Outbox.Workers, ResendUncertain: cfg.Outbox.ResendUncertainAfter.D(),
		Retry: cfg.Outbox.Retry.D(), MaxBackoff: cfg.Outbox.MaxBackoff.D(), MaxAge: cfg.Outbox.MaxAge.D(),
		Limits: notify.Limits{
			PerRecipient: rates(cfg.Outbox.RecipientLimits), Desk: rates(cfg.Outbox.DeskLimits),
		},
		RefusedSuppression: cfg.Desk.BounceSuppression.D(),
		StatusLink:         statusLink,
		// The trace of a sent mail is kept at once, before Redis records
		// the delivery, and again (if that failed) when it is finished.
		Accepted: trace.Accepted,
		// An uncertain delivery leaves its trace too, marked: a repair
		// then does not send it again blindly.
		Uncertain: trace.Uncertain,
		Delivered: func(ctx context.Context, n notify.Notification) error {
			if err := sent.Record(ctx, n); err != nil {
				return err
			}
			return trace.Keep(ctx, n)
		},
	}
	d.send = notify.NewSendLoop(notify.SendLoopConfig{
		Delivery: d.delivery, Outbox: d.outbox, Secret: mailer, Hold: d.journal.HoldsOutbox, Log: log,
		Drained: func(st notify.Stats) { d.metrics.Notifications(st.Sent, st.Skipped, st.Failed, st.Dead, st.Uncertain) },
	})
	ac := alarm.Config{
		Parts: []*alarm.Part{d.imapPart, d.smtpPart, d.journalPart}, After: cfg.Alerts.After.D(), To: cfg.Alerts.To,
		Language: cfg.Desk.Language, Redis: rdb, KeyPrefix: config.KeyPrefix(cfg.Desk.ID), Queue: d.outbox, Log: log,
	}
	if cfg.OAuth2Enabled() {
		ac.Expiry, ac.Credential = signin.CredentialExpiry(cfg.OAuth2)
		if !ac.Expiry.IsZero() {
			d.metrics.CredentialExpiry(ac.Expiry, ac.Credential)
		}
	}
	d.alarms = alarm.New(ac)
	d.sched = scheduler.New(cfg.Desk.Location, rdb, config.KeyPrefix(cfg.Desk.ID), log)
	// Every replica checks; the alarm keys in Redis make each mail go once.
	if err := d.sched.Add(scheduler.Job{Name: "alarms", Spec: "@every 5s", Run: func(ctx context.Context) error {
		return d.alarms.Check(ctx, time.Now())
	}}); err != nil {
		return nil, err
	}
	// A relay is only used when there is mail: sign in now and then
	// anyway, so that broken credentials are found before a customer
	// waits for an acknowledgement.
	if err := d.sched.Add(scheduler.Job{Name: "smtp-probe", Spec: "@every 1m", Run: d.probeSMTP}); err != nil {
		return nil, err
	}
	// Every replica refreshes its own copy: CLI edits and other replicas'
	// imports take effect without a restart.
	if err := d.sched.Add(scheduler.Job{Name: "directory", Spec: "@every 30s", Run: d.refreshDirectory}); err != nil {
		return nil, err
	}
	// SLA alerts: each tick once across replicas; the work is whatever the
	// due-time sets hold, so a missed tick is caught up by the next.
	esc := cfg.Escalation
	if err := d.sched.Add(scheduler.Job{Name: "escalation", Spec: "@every " + esc.Interval.D().String(), Once: true, Run: d.sweep}); err != nil {
		return nil, err
	}
	if err := d.addRetention(); err != nil {
		return nil, err
	}
	if esc.DigestTime != "" {
		spec, err := escalation.DigestSpec(esc.DigestTime)
		if err != nil {
			return nil, err
		}
		if err := d.sched.Add(scheduler.Job{Name: "digest", Spec: spec, Once: true, Run: d.digest}); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// probeSMTP signs in to the relay when alarm's rule says it is due.
func (d *daemon) probeSMTP(ctx context.Context) error {
	if !d.smtpPart.State().ProbeDue(time.Now()) {
		return nil
	}
	if err := d.mailer.Probe(ctx); err != nil {
		d.log.Warn("smtp relay probe failed", "err", err)
	}
	return nil
}

// failing reports whether p has been failing for longer than a reconnect
// takes: a brief outage is normal.
func (d *daemon) failing(p *alarm.Part) bool {
	return p.State().FailingFor(time.Now(), alarm.NotReadyAfter(d.cfg.Alerts.After.D()))
}

// sweep is the cron job that sends due SLA warnings and breach alerts.
func (d *daemon) sweep(ctx context.Context) error {
	st, err := d.esc.Sweep(ctx, d.now())
	d.metrics.SLAAlerts(st.Warnings, st.Breaches, st.Late)
	return err
}

// digest is the cron job that sends the managers' morning digest.
func (d *daemon) digest(ctx context.Context) error {
	n, err := d.esc.Digest(ctx, d.now())
	if n > 0 {
		d.log.Info("SLA digest queued", "tickets", n, "managers", len(d.cfg.Desk.Managers))
	}
	return err
}

func rates(ls []config.RateLimit) []notify.Rate {
	out := make([]notify.Rate, len(ls))
	for i, l := range ls {
		out[i] = notify.Rate{Window: l.Per.D(), Max: l.Max}
	}
	return out
}

// mailboxConfig is the watcher config of a desk's mailbox, signing in with
// OAuth2 when imap.auth says so (tickets raw, which reads the mailbox
// outside the daemon).
func mailboxConfig(cfg *config.Config, rdb redis.UniversalClient) (ingest.WatcherConfig, error) {
	wc := watcherConfig(cfg.IMAP)
	if cfg.IMAP.Auth == config.AuthOAuth2 {
		src, err := signin.New(cfg.OAuth2, signin.Options{Redis: rdb, KeyPrefix: config.KeyPrefix(cfg.Desk.ID)})
		if err != nil {
			return wc, err
		}
		wc.OAuth2, wc.Mechanism = src, cfg.OAuth2.Mechanism
	}
	return wc, nil
}

func watcherConfig(im config.IMAP) ingest.WatcherConfig {
	return ingest.WatcherConfig{
		Address: im.Address, Security: im.Security, TLSSkipVerify: im.TLSSkipVerify,
		Username: im.Username, Password: im.Password, Mailbox: im.Mailbox,
		Processed: im.ProcessedMailbox, Rejected: im.RejectedMailbox, Quarantine: im.QuarantineMailbox, Sent: im.SentMailbox,
		PollInterval: im.PollInterval.D(), CommandTimeout: im.CommandTimeout.D(), IdleRestart: im.IdleRestart.D(),
		CheckInterval: im.CheckInterval.D(), BatchSize: im.BatchSize, MaxMessageSize: int64(im.MaxMessageSize),
	}
}

// kickOutbox asks the sender to drain now: a mail was just queued.
func (d *daemon) kickOutbox() { d.send.Kick() }

// httpHandler serves the probes and metrics (open), the agent API and the
// dashboard (behind the tokens).
func (d *daemon) httpHandler() http.Handler {
	tokens := httpapi.TokensFromConfig(d.cfg.HTTP.Tokens)
	api := httpapi.NewAPI(httpapi.APIConfig{
		Tickets:  d.store,
		Workflow: d.work,
		// Time records and statements (issue 21).
		Time: d.work, Statements: d.statements,
		Contacts: authz.NewStore(d.rdb, d.cfg.Desk.ID),
		Outbox:   d.outbox,
		People:   d.people(),
		Plans:    d.cfg.Plans,
		// Before an edit: import a changed contacts file; after: use the edit at once.
		Refresh: d.refreshDirectory,
		Tokens:  tokens,
		Now:     d.now,
		Log:     d.log,
	})
	dash := httpapi.NewDashboard(d.store, func(id string) *config.Customer { return d.dir.Directory().Customer(id) },
		d.cfg.Desk.Name, d.now, d.cfg.Desk.Location, httpapi.WithPriorityLabels(d.cfg.Plans, d.cfg.Desk.Language),
		httpapi.WithOpenForm(d.work, func() []config.Customer { return d.dir.Directory().Customers() }),
		httpapi.WithTicketPages(httpapi.TicketPages{
			Tickets: d.store, Workflow: d.work, Originals: d.watcher.Mailbox(), Extract: d.extractor(),
			Agents: agentNames(d.cfg), Links: d.links, Log: d.log,
		}))
	page := httpapi.LogRequests(d.log, httpapi.RequireToken(tokens, dash))
	mounts := []httpapi.Mount{
		{Pattern: httpapi.APIPrefix, Handler: api},
		{Pattern: "GET /{$}", Handler: page},
		{Pattern: httpapi.OpenPath, Handler: page},
		{Pattern: httpapi.TicketPath, Handler: page},
	}
	if pub := d.cfg.HTTP.PublicURL; pub != "" {
		// The customers' pages: no token, their links are their keys.
		customers := httpapi.NewCustomerPages(httpapi.CustomerPages{
			Desk: d.cfg.Desk.Name, Language: d.cfg.Desk.Language, Location: d.cfg.Desk.Location, Now: d.now,
			Links: d.links, Tickets: d.store, Authz: d.dir, Plans: d.cfg.Plans, Reply: d.webReply, Outbox: d.outbox,
			Expiry: d.cfg.HTTP.StatusLinkExpiry.D(), SecureCookie: strings.HasPrefix(pub, "https://"), Log: d.log,
		})
		mounts = append(mounts, httpapi.Mount{Pattern: access.StatusPath, Handler: httpapi.LogRequests(d.log, customers)})
	}
	return httpapi.Handler(d.checks(), d.metrics, mounts...)
}

// webReply enters a reply written on a ticket's status page as the
// contact's mail would enter.
func (d *daemon) webReply(ctx context.Context, from netmail.Address, t *ticket.Ticket, text, key string) (httpapi.WebReplyResult, error) {
	res, err := d.pipe.SubmitWeb(ctx, ingest.WebReply{From: from, Ticket: t.Number, Subject: t.Subject, InReplyTo: t.MessageID, Text: text, Key: key})
	if err != nil {
		return httpapi.WebReplyResult{}, err
	}
	if res.Notified {
		d.kickOutbox() // a new ticket's acknowledgement
	}
	return httpapi.WebReplyResult{Ticket: res.Ticket, NewTicket: res.Outcome == ingest.Processed && !res.FollowUp,
		Refused: res.Outcome != ingest.Processed}, nil
}

// extractor streams an attachment out of an original mail, parsing it with
// the limits ingest parsed it with: the same parts are found.
func (d *daemon) extractor() httpapi.Extractor {
	lim := d.limits()
	return func(r io.Reader, part int, out io.Writer) (string, error) {
		a, err := mailparse.ExtractPart(r, lim, part, out)
		return a.SHA256, err
	}
}

// limits are what one incoming mail may cost (mailparse.Limits).
func (d *daemon) limits() mailparse.Limits {
	return mailparse.Limits{MaxSize: int64(d.cfg.IMAP.MaxMessageSize)}
}

// agentNames are the names the ticket page offers as assignees: the
// desk's agents and the API tokens' names, each once.
func agentNames(cfg *config.Config) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range append(personNames(cfg.Desk.Agents), tokenNames(cfg.HTTP.Tokens)...) {
		if n != "" && !seen[strings.ToLower(n)] {
			seen[strings.ToLower(n)] = true
			out = append(out, n)
		}
	}
	return out
}

func personNames(ps []config.Person) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func tokenNames(ts []config.HTTPToken) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

// watch fetches from the mailbox while this replica holds its lease (all
// the time without a lease manager).
func (d *daemon) watch(ctx context.Context) {
	if d.leases == nil {
		_ = d.watcher.Run(ctx)
		return
	}
	d.leases.Hold(ctx, lease.Key(config.KeyPrefix(d.cfg.Desk.ID), d.cfg.IMAP.Mailbox), func(ctx context.Context) error {
		d.leaseHeld.Store(true)
		defer d.leaseHeld.Store(false)
		// A standby knows nothing of the mailbox: its old failures must
		// not raise the alarm again once another replica reaches it.
		defer d.imapPart.Reset()
		return d.watcher.Run(ctx)
	})
}

// redisProbeTimeout bounds the readiness probe of Redis: a stopped or
// stalled Redis makes /readyz answer 503 within it.
const redisProbeTimeout = time.Second

func (d *daemon) checks() []httpapi.Check {
	return []httpapi.Check{
		{Name: "redis", Check: func(ctx context.Context) (any, error) {
			// A write: a full Redis (maxmemory, noeviction) or a read-only
			// replica still answers PING, but takes no ticket.
			ctx, cancel := context.WithTimeout(ctx, redisProbeTimeout)
			defer cancel()
			return nil, d.store.ProbeWrite(ctx)
		}},
		{Name: "imap", Check: func(ctx context.Context) (any, error) {
			if d.leases != nil && !d.leaseHeld.Load() {
				// Another replica fetches; this one takes over if it dies.
				return map[string]any{"state": "standby", "mailbox": d.cfg.IMAP.Mailbox}, nil
			}
			st := d.watcher.Status()
			return st, st.Ready(time.Now(), alarm.NotReadyAfter(d.cfg.Alerts.After.D()), d.cfg.IMAP.CheckInterval.D())
		}},
		{Name: "journal", Check: func(ctx context.Context) (any, error) {
			st := d.journal.Status()
			return st, st.Ready()
		}},
		{Name: "smtp", Check: func(ctx context.Context) (any, error) {
			st := d.smtpPart.State()
			if !d.failing(d.smtpPart) {
				return st, nil
			}
			return st, fmt.Errorf("smtp relay %s failing since %s (%s): %s", d.cfg.SMTP.Address, st.FailingSince.Format(time.RFC3339), st.Reason, st.Error)
		}},
	}
}

// runDaemonAt runs one desk on the business clock now until ctx ends, then
// shuts down cleanly: the watcher finishes the mail in hand, the scheduler the job in hand.
func runDaemonAt(ctx context.Context, cfg *config.Config, log *slog.Logger, now func() time.Time) error {
	return runDesks(ctx, []*config.Config{cfg}, log, now)
}

// runDesks runs one daemon per desk in this process until ctx ends. Desks
// on one Redis share a lease manager, so that replicas running the same
// desks spread the mailboxes between them.
func runDesks(ctx context.Context, cfgs []*config.Config, log *slog.Logger, now func() time.Time) error {
	listens := map[string]string{}
	for _, c := range cfgs {
		if other, dup := listens[c.HTTP.Listen]; dup && c.HTTP.Listen != "" {
			return fmt.Errorf("desks %s and %s both have http.listen %s: give each its own address, or \"\" to one", other, c.Desk.ID, c.HTTP.Listen)
		}
		listens[c.HTTP.Listen] = c.Desk.ID
	}
	host, _ := os.Hostname()
	// Unique per start, so that a restarted replica is a new one.
	replica := fmt.Sprintf("%s-%d-%s", host, os.Getpid(), strings.ToLower(rand.Text()[:6]))
	managers := map[string]*lease.Manager{}
	var ds []*daemon
	defer func() {
		for _, d := range ds {
			d.rdb.Close()
		}
	}()
	for _, c := range cfgs {
		d, err := newDaemonAt(c, log, now)
		if err != nil {
			return fmt.Errorf("desk %s: %w", c.Desk.ID, err)
		}
		ds = append(ds, d)
		m, ok := managers[redisTarget(c.Redis)]
		if !ok {
			m = lease.NewManager(d.rdb, replica, c.IMAP.Lease.D(), log)
			managers[redisTarget(c.Redis)] = m
		}
		d.leases = m
	}
	// A desk that cannot run (its HTTP address is taken) stops them all:
	// half a daemon is harder to notice than none.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, m := range managers {
		wg.Go(func() { m.Heartbeat(ctx) })
	}
	errs := make([]error, len(ds))
	for i, d := range ds {
		wg.Go(func() {
			if errs[i] = d.run(ctx); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (d *daemon) run(ctx context.Context) error {
	d.log.Info("maildesk starting", "version", versionString(), "mailbox", d.cfg.IMAP.Mailbox,
		"imap", d.cfg.IMAP.Address, "smtp", d.cfg.SMTP.Address, "customers", len(d.cfg.Customers))
	var srv *http.Server
	if d.cfg.HTTP.Listen != "" {
		ln, err := net.Listen("tcp", d.cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http listen on %s: %w", d.cfg.HTTP.Listen, err)
		}
		srv = &http.Server{
			Handler:           d.httpHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second, // request bodies are at most 1 MiB
			IdleTimeout:       2 * time.Minute,
		}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("http server stopped", "err", err)
			}
		}()
		d.log.Info("http listening", "address", ln.Addr().String())
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := d.refreshDirectory(sctx); err != nil {
		d.log.Warn("directory not loaded from Redis; using the contacts file's customers and retrying every 30s", "err", err)
	}
	cancel()
	var wg sync.WaitGroup
	wg.Go(func() { d.reloadOnSignal(ctx, hup) })
	wg.Go(func() { d.buildIndexes(ctx) })
	wg.Go(func() { d.watch(ctx) })
	wg.Go(func() { d.sched.Run(ctx) })
	wg.Go(func() { d.send.Run(ctx) })
	wg.Go(func() { d.journal.Run(ctx) })
	<-ctx.Done()
	d.log.Info("shutting down")
	wg.Wait()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	d.log.Info("stopped")
	return nil
}

// observer feeds ingest's per-mail outcomes into the metrics.
type observer struct {
	m    *httpapi.Metrics
	kick func()
}

func (o observer) Observe(r ingest.Result, took time.Duration) {
	if r.Notified {
		o.kick()
	}
	kind := "new"
	switch {
	case r.FollowUp:
		kind = "follow_up"
	case r.Replay:
		kind = "replay"
	}
	o.m.Mail(r.Outcome.String(), kind, r.Class.String(), r.AuthFailed, took)
}

func (o observer) Reconnected() { o.m.Reconnected() }
