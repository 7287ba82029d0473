// Package scheduler runs maildesk's periodic jobs (sending the outbox, and
// later SLA sweeps and housekeeping) on robfig/cron. Jobs run in every
// replica; a job marked Once claims each tick in Redis so that it runs once
// across replicas. Jobs are driven from state in Redis, so a tick that was
// missed (downtime, a skipped DST hour) is caught up by the next one.
package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"
)

// Job is one periodic task.
type Job struct {
	Name string
	// Spec is a cron spec with seconds ("*/5 * * * * *") or a descriptor
	// ("@every 1s").
	Spec string
	// Once: run each tick in one replica only.
	Once bool
	Run  func(ctx context.Context) error
}

// Scheduler runs jobs until its context ends.
type Scheduler struct {
	cron *cron.Cron
	rdb  redis.UniversalClient
	kp   string
	log  *slog.Logger
	ctx  context.Context
	stop context.CancelFunc
}

// New returns a scheduler whose specs are read in loc. rdb and keyPrefix
// (the desk's key namespace) are used for the per-tick claims of Once jobs.
func New(loc *time.Location, rdb redis.UniversalClient, keyPrefix string, log *slog.Logger) *Scheduler {
	if log == nil {
		log = slog.Default()
	}
	ctx, stop := context.WithCancel(context.Background())
	cl := cronLogger{log}
	c := cron.New(
		cron.WithLocation(loc),
		cron.WithSeconds(),
		// A slow run (SMTP server hanging) must not pile up runs behind it.
		cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)),
	)
	return &Scheduler{cron: c, rdb: rdb, kp: keyPrefix, log: log, ctx: ctx, stop: stop}
}

// Add registers a job; a bad spec is an error naming the job.
func (s *Scheduler) Add(j Job) error {
	sched, err := cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor).Parse(j.Spec)
	if err != nil {
		return fmt.Errorf("schedule job %s: bad spec %q: %w", j.Name, j.Spec, err)
	}
	s.cron.Schedule(sched, cron.FuncJob(func() { s.run(j) }))
	return nil
}

func (s *Scheduler) run(j Job) {
	log := s.log.With("job", j.Name)
	if j.Once {
		ok, err := s.claim(j)
		if err != nil {
			log.Warn("cannot claim tick, skipping it", "err", err)
			return
		}
		if !ok {
			return
		}
	}
	if err := j.Run(s.ctx); err != nil && s.ctx.Err() == nil {
		log.Warn("job failed", "err", err)
	}
}

// claim takes this tick of j for this replica. The key names the tick's
// scheduled time, truncated to the second, so replicas whose clocks differ
// slightly still agree on it; it expires after a day.
func (s *Scheduler) claim(j Job) (bool, error) {
	now := time.Now().Truncate(time.Second)
	key := fmt.Sprintf("%stick:%s:%d", s.kp, j.Name, now.Unix())
	ok, err := s.rdb.SetNX(s.ctx, key, "1", 24*time.Hour).Result()
	if err != nil {
		return false, fmt.Errorf("claim tick %s: %w", key, err)
	}
	return ok, nil
}

// Run starts the jobs and blocks until ctx ends, then waits for running
// jobs to finish.
func (s *Scheduler) Run(ctx context.Context) {
	s.cron.Start()
	<-ctx.Done()
	// Ending the jobs' context makes them stop taking new work; the item in
	// hand is finished (a mail half-sent would be sent twice).
	s.stop()
	<-s.cron.Stop().Done()
}

type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}
