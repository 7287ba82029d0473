package ingest

import (
	"fmt"
	"time"
)

// Ready judges the intake from the watcher's status at now (the
// readiness probe, /readyz): not ready when the mailbox has been down for
// after, when a session that looks fine has not heard from its server for
// that long (or for two checkInterval, between which a healthy session may
// be quiet), or when a mail has waited in the mailbox for that long:
// intake that stalls with the connection up.
func (st Status) Ready(now time.Time, after, checkInterval time.Duration) error {
	switch st.State {
	case "connected", "idle", "polling", "waiting_for_redis":
		if silent := now.Sub(st.Answered); silent >= max(after, 2*checkInterval) {
			return fmt.Errorf("mailbox %s %s, but the server has not answered since %s", st.Mailbox, st.State, st.Answered.Format(time.RFC3339))
		}
	default:
		// Reconnecting briefly is normal; only a lasting outage is not
		// ready. It counts from the last time the mailbox was up, not
		// from the last state change: every reconnect attempt changes
		// the state, which would make a lasting outage look new.
		if now.Sub(st.Up) >= after {
			return fmt.Errorf("mailbox %s %s, down since %s: %s", st.Mailbox, st.State, st.Up.Format(time.RFC3339), st.LastError)
		}
	}
	if !st.OldestWaiting.IsZero() && now.Sub(st.OldestWaiting) >= after {
		return fmt.Errorf("intake stalled: %d mails waiting in mailbox %s, the oldest found %s ago (%s): %s",
			st.Waiting, st.Mailbox, now.Sub(st.OldestWaiting).Round(time.Second), st.State, st.LastError)
	}
	return nil
}

// Ready says why intake and mail to customers are held while Redis is not
// known to be in step with the mailbox journal; nil once it is.
func (st JournalStatus) Ready() error {
	switch st.State {
	case "ok":
		return nil
	case "behind":
		return fmt.Errorf("redis is behind the mailbox journal (it lost writes): intake and mail to customers held while it is repaired: %s", st.LastError)
	}
	last := ""
	if st.LastError != "" {
		last = ": " + st.LastError
	}
	return fmt.Errorf("redis not yet compared with the mailbox journal (intake and mail to customers held)%s", last)
}
