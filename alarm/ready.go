package alarm

import "time"

// notReadyAtMost caps NotReadyAfter: an outage this long makes a replica
// not ready whatever alerts.after says.
const notReadyAtMost = 2 * time.Minute

// NotReadyAfter is how long a mail server may stay unreachable before the
// replica reports itself not ready: reconnecting briefly is normal; only
// an outage of 2 minutes, or of alerts.after (alertsAfter) when that is
// shorter, is not.
func NotReadyAfter(alertsAfter time.Duration) time.Duration {
	return min(notReadyAtMost, alertsAfter)
}

// FailingFor reports whether the part has been failing for at least
// after at now: a brief outage is normal, and a part never tried (a
// standby's mailbox) is not failing.
func (s State) FailingFor(now time.Time, after time.Duration) bool {
	return s.Known && !s.Up && now.Sub(s.FailingSince) >= after
}

// probeIdle is how long a relay may go unused before a probe signs in to
// it: a relay is only used when there is mail, and broken credentials
// should be found before a customer waits for an acknowledgement.
const probeIdle = 10 * time.Minute

// ProbeDue reports whether the part should be probed at now: it was never
// tried, it is failing (the outbox's retries and the probe both try), or
// its last successful sign-in is probeIdle ago or longer.
func (s State) ProbeDue(now time.Time) bool {
	return !s.Known || !s.Up || now.Sub(s.LastOK) >= probeIdle
}
