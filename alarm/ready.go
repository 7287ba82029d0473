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
