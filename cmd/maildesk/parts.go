package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/billing"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/escalation"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/sla"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// parts are a desk's stores and services over one Redis client: what the
// daemon and the CLI commands both act through, so that a reply from the
// CLI is the same as one from the API or by mail.
type parts struct {
	store  *ticket.Store
	outbox *notify.Outbox
	// dir starts as the contacts file; Refresh loads the one in Redis.
	dir  *authz.Live
	esc  *escalation.Escalator
	work *workflow.Service
	// statements are customers' monthly statements (billing).
	statements *workflow.Statements
}

func newParts(cfg *config.Config, rdb redis.UniversalClient, log *slog.Logger, now func() time.Time) (*parts, error) {
	p := &parts{outbox: notify.NewOutbox(rdb, cfg.Desk.ID)}
	p.store = ticket.NewStore(rdb, ticket.Options{
		DeskID: cfg.Desk.ID, TicketPrefix: cfg.Desk.TicketPrefix,
		OutboxKey: p.outbox.Key(), NoticeInterval: cfg.Desk.NoticeInterval.D(),
		DomainNoticeInterval: cfg.Authz.DomainNoticeInterval.D(), DomainNoticeLimit: cfg.Authz.DomainNoticeLimit,
		RejectionRetention: cfg.Authz.RejectionRetention.D(), Now: now,
	})
	// Until Redis answers, senders are judged by the contacts file.
	dirOpts := []authz.Option{authz.PlusAddressing(cfg.Authz.PlusAddressing)}
	p.dir = authz.NewLive(authz.NewStore(rdb, cfg.Desk.ID), authz.NewDirectory(cfg.Customers, dirOpts...), dirOpts...)
	plans, err := sla.FromConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("SLA plans: %w", err)
	}
	customer := func(id string) *config.Customer { return p.dir.Directory().Customer(id) }
	p.esc = &escalation.Escalator{
		Store: p.store, Plans: plans, PlanLabels: cfg.Plans, Outbox: p.outbox, Customer: customer,
		WarnShare: float64(cfg.Escalation.WarnAt) / 100, LateAfter: cfg.Escalation.LateAfter.D(),
		Agents: cfg.Desk.Agents, Managers: cfg.Desk.Managers, Language: cfg.Desk.Language, Log: log,
	}
	p.work = &workflow.Service{Store: p.store, Clock: p.esc, Customer: customer, Language: cfg.Desk.Language, Log: log, Now: now,
		Authz: p.dir, Plans: cfg.Plans, Priority: cfg.Desk.DefaultPriority, Location: cfg.Desk.Location, Agents: cfg.Desk.Agents}
	rules, err := billing.FromConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("billing rules: %w", err)
	}
	p.statements = &workflow.Statements{Store: p.store, Rules: rules, Customer: customer, Desk: cfg.Desk.Name,
		Language: cfg.Desk.Language, Now: now}
	return p, nil
}

// openWork is what a CLI command that acts like an agent needs: the
// desk's configuration and Redis, its parts on the wall clock, and the
// directory as the daemon has it in Redis. The caller closes rdb.
func openWork(ctx context.Context, path string) (*config.Config, redis.UniversalClient, *parts, error) {
	cfg, rdb, err := openDesk(ctx, path)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := newParts(cfg, rdb, slog.New(slog.DiscardHandler), time.Now)
	if err == nil {
		_, err = p.dir.Refresh(ctx)
		if err != nil {
			err = fmt.Errorf("loading the contacts from Redis: %w", err)
		}
	}
	if err != nil {
		rdb.Close()
		return nil, nil, nil, err
	}
	return cfg, rdb, p, nil
}
