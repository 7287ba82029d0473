package notify

import "context"

// admit applies the rate limits (Delivery.Limits) to automatic mail: over
// the desk's limit, or a recipient's for mail to the desk's own people, it
// is held back for a retry; over a stranger's or customer's it is skipped.
// An agent's reply is a person's answer and is neither held back nor
// skipped by them.
func (d *Delivery) admit(ctx context.Context, o *outgoing) (bool, error) {
	// Before the send (and before anything is counted), so that a Redis
	// failure here leaves nothing sent that the record then misses.
	tag, err := d.Outbox.sentTag(ctx, o.n)
	if err != nil {
		return true, err
	}
	o.tag = tag
	var verdict verdict
	if o.n.Kind.Automatic() {
		if verdict, err = d.Limits.admit(ctx, d.Outbox, o.n, d.Now()); err != nil {
			return true, err
		}
	}
	switch {
	case verdict.global:
		// A flood of legitimate mail (an outage, many tickets at once) is
		// slowed down, not dropped: the entry stays pending and comes back
		// with the retries.
		o.st.Failed++
		o.log.Warn("notification held back: desk-wide limit reached", "limit", verdict.reason)
		return true, d.noteFailure(ctx, o.m, o.attempt, "held back: "+verdict.reason)
	case verdict.reason != "" && o.n.Kind.ToDesk():
		// The recipient limits stop loops with strangers' auto-responders.
		// Mail to the desk's own people (SLA alerts after an outage, many
		// breaches at once) is legitimate however much there is: it waits
		// for room, it is never dropped.
		o.st.Failed++
		o.log.Warn("notification held back: recipient limit reached", "limit", verdict.reason)
		return true, d.noteFailure(ctx, o.m, o.attempt, "held back: "+verdict.reason)
	case verdict.reason != "":
		o.st.Skipped++
		o.log.Warn("notification skipped: recipient rate limit", "limit", verdict.reason)
		return true, d.finishTo(ctx, d.Outbox.skipped, o.m, o.n, "rate limited: "+verdict.reason)
	}
	return false, nil
}
