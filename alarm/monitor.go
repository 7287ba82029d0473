package alarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/notify"
)

// expiryWarnings are how long before a credential expires its warnings go
// out, the latest first.
var expiryWarnings = []int{1, 7, 30} // days

// Queue takes the alarm mails (notify.Outbox).
type Queue interface {
	Enqueue(ctx context.Context, n notify.Notification) error
}

// Config is what a Monitor watches and whom it tells.
type Config struct {
	Parts []*Part
	// After is how long a part must fail before the alarm.
	After time.Duration
	// To are the operators' addresses; none: log, readiness and metrics only.
	To       []string
	Language string
	// Expiry is when the sign-in credential expires and Credential which one
	// it is (notify.CredentialSecret, CredentialCertificate); zero: unknown.
	Expiry     time.Time
	Credential string
	Redis      redis.UniversalClient
	KeyPrefix  string
	Queue      Queue
	// Log is where alarms are logged; nil: slog.Default().
	Log *slog.Logger
}

// Monitor decides when to raise and clear alarms. Check runs in every
// replica; the Redis keys make each alarm go out once.
type Monitor struct {
	cfg Config
}

// New returns a Monitor of cfg.
func New(cfg Config) *Monitor {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Monitor{cfg: cfg}
}

// alarmKey holds, while an alarm is raised, when the outage began.
func (m *Monitor) alarmKey(part string) string { return m.cfg.KeyPrefix + "alarm:" + part }

// LastOKKey holds the last successful sign-in to part (RFC 3339), as any
// replica saw it, for auth status.
func LastOKKey(prefix, part string) string { return prefix + "signin:ok:" + part }

// Check raises the alarm for parts that have failed for After, clears it
// for parts that work again, records the last successful sign-ins and
// warns of an expiring credential.
func (m *Monitor) Check(ctx context.Context, now time.Time) error {
	var errs []error
	for _, p := range m.cfg.Parts {
		if err := m.checkPart(ctx, p, now); err != nil {
			errs = append(errs, fmt.Errorf("alarm for %s: %w", p.Name, err))
		}
	}
	if err := m.checkExpiry(ctx, now); err != nil {
		errs = append(errs, fmt.Errorf("credential expiry warning: %w", err))
	}
	return errors.Join(errs...)
}

func (m *Monitor) checkPart(ctx context.Context, p *Part, now time.Time) error {
	st := p.State()
	rdb, key := m.cfg.Redis, m.alarmKey(p.Name)
	if !st.Known {
		return nil
	}
	// Replicas see a shared server each by its own attempts: what one saw
	// last may be older than what another saw since. Raise and clear by
	// comparing with the others' record, so that the alarm does not flap.
	lastOK, err := m.recordOK(ctx, p.Name, st.LastOK)
	if err != nil {
		return err
	}
	raised, err := Raised(ctx, rdb, m.cfg.KeyPrefix, p.Name)
	if err != nil {
		return err
	}
	switch {
	case st.Up:
		if raised.IsZero() || !st.LastOK.After(raised) {
			return nil
		}
		m.cfg.Log.Info("mail server reachable again; alarm cleared", "part", p.Name, "server", p.Server, "down_since", raised)
		// The mails first: their ids make a second queueing harmless,
		// while a cleared key without them would lose the all-clear.
		if p.Name != SMTP { // no alarm mail went out either
			if err := m.mail(ctx, p, notify.AlarmUp, "", st.LastOK, "up/"+strconv.FormatInt(raised.Unix(), 10)); err != nil {
				return err
			}
		}
		return rdb.Del(ctx, key).Err()
	case now.Sub(st.FailingSince) < m.after(p) || !raised.IsZero():
		return nil
	case !lastOK.Before(st.FailingSince):
		return nil // another replica reached it since this one's failures began
	}
	m.cfg.Log.Error("cannot reach the mail server; alarm raised", "part", p.Name, "server", p.Server,
		"since", st.FailingSince, "reason", st.Reason, "err", st.Error)
	// The relay's own outage would wait in the outbox behind that relay:
	// the log, /readyz and /metrics carry it.
	if p.Name != SMTP {
		if err := m.mail(ctx, p, notify.AlarmDown, st.Error, st.FailingSince, "down/"+strconv.FormatInt(st.FailingSince.Unix(), 10)); err != nil {
			return err
		}
	}
	return rdb.SetNX(ctx, key, st.FailingSince.UTC().Format(stamp), 0).Err()
}

// recordOK keeps the latest successful sign-in any replica saw and returns
// it.
func (m *Monitor) recordOK(ctx context.Context, part string, ok time.Time) (time.Time, error) {
	v := ""
	if !ok.IsZero() {
		v = ok.UTC().Format(stamp)
	}
	s, err := keepLatest.Run(ctx, m.cfg.Redis, []string{LastOKKey(m.cfg.KeyPrefix, part)}, v).Text()
	if err != nil && !errors.Is(err, redis.Nil) {
		return time.Time{}, err
	}
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// stamp is RFC 3339 in UTC with a fixed width, so that times compare as
// text (in keepLatest).
const stamp = "2006-01-02T15:04:05.000000000Z"

// keepLatest sets KEYS[1] to ARGV[1] when that is later and returns the
// value kept.
var keepLatest = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if ARGV[1] ~= '' and (not cur or ARGV[1] > cur) then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
return cur or ''
`)

func (m *Monitor) mail(ctx context.Context, p *Part, kind notify.Kind, reason string, at time.Time, id string) error {
	for _, to := range m.cfg.To {
		n := notify.Notification{
			ID: notify.AlarmID(p.Name, id, to), Kind: kind, To: to,
			Language: m.cfg.Language, Subject: p.Server, Server: p.Server, Part: p.Name, Reason: reason, AsOf: at,
		}
		if err := m.cfg.Queue.Enqueue(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func (m *Monitor) checkExpiry(ctx context.Context, now time.Time) error {
	if m.cfg.Expiry.IsZero() {
		return nil
	}
	left := m.cfg.Expiry.Sub(now)
	for _, days := range expiryWarnings {
		if left > time.Duration(days)*24*time.Hour {
			continue
		}
		day := m.cfg.Expiry.UTC().Format(time.DateOnly)
		key := fmt.Sprintf("%salarm:expiry:%s:%dd", m.cfg.KeyPrefix, day, days)
		if n, err := m.cfg.Redis.Exists(ctx, key).Result(); err != nil || n > 0 {
			return err
		}
		m.cfg.Log.Warn("the OAuth2 sign-in credential expires soon", "credential", m.cfg.Credential,
			"expires", m.cfg.Expiry, "days_left", int(left.Hours()/24))
		// The mails before the mark, as for outages: their ids make a
		// second queueing by another replica harmless.
		for _, to := range m.cfg.To {
			n := notify.Notification{
				ID:   notify.CredentialExpiryID(day, days, to),
				Kind: notify.CredentialExpiry, To: to, Language: m.cfg.Language,
				Reason: m.cfg.Credential, Deadline: m.cfg.Expiry,
			}
			if err := m.cfg.Queue.Enqueue(ctx, n); err != nil {
				return err
			}
		}
		if err := m.cfg.Redis.SetNX(ctx, key, now.UTC().Format(time.RFC3339), time.Duration(days+31)*24*time.Hour).Err(); err != nil {
			return err
		}
		return nil // one warning per check: the nearest threshold
	}
	return nil
}

// LastOK reads the last successful sign-in to part recorded by any replica.
func LastOK(ctx context.Context, rdb redis.UniversalClient, prefix, part string) (time.Time, error) {
	s, err := rdb.Get(ctx, LastOKKey(prefix, part)).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339Nano, s)
}

// Raised reads since when an alarm about part is raised; zero when none is.
func Raised(ctx context.Context, rdb redis.UniversalClient, prefix, part string) (time.Time, error) {
	s, err := rdb.Get(ctx, prefix+"alarm:"+part).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339Nano, s)
}

// after is how long p must fail before its alarm is raised.
func (m *Monitor) after(p *Part) time.Duration {
	if p.Name == Journal {
		return 0
	}
	return m.cfg.After
}
