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
// (the desk's key namespace) are used for the per-tick claims of Once jobs;
// log nil: slog.Default().
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
	if spec, ok := sched.(*cron.SpecSchedule); ok && spec.Hour&allHours != allHours && spec.Hour&(1<<2) != 0 {
		// Daylight saving skips 02:00-03:00 once a year and runs it twice
		// once a year (Europe/Amsterdam); a daily job there misbehaves.
		return fmt.Errorf("schedule job %s: spec %q runs between 02:00 and 03:00, which daylight saving skips or doubles; pick another hour", j.Name, j.Spec)
	}
	var id cron.EntryID
	id = s.cron.Schedule(sched, cron.FuncJob(func() { s.run(j, s.cron.Entry(id).Prev) }))
	return nil
}

// allHours is a cron hour field that matches every hour.
const allHours = 1<<24 - 1

// run runs j for the tick scheduled at tick (zero if unknown).
func (s *Scheduler) run(j Job, tick time.Time) {
	log := s.log.With("job", j.Name)
	if j.Once {
		ok, err := s.claim(j, tick)
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
// scheduled time (not the time the job happened to start, which differs
// between replicas and across a second boundary), so that replicas agree
// on it; it expires after a day.
func (s *Scheduler) claim(j Job, tick time.Time) (bool, error) {
	if tick.IsZero() {
		tick = time.Now()
	}
	key := fmt.Sprintf("%stick:%s:%d", s.kp, j.Name, tick.Truncate(time.Second).Unix())
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
