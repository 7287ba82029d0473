package notify

import "context"

// send hands the notification to the Sender, after recording the one
// automatic resend of an uncertain delivery and minting its status link;
// settle deals with the answer.
func (d *Delivery) send(ctx context.Context, o *outgoing) (bool, error) {
	if o.uncertain && !o.unc.Retry {
		// The one automatic resend: recorded before it, so that a crash
		// during it cannot make a second.
		o.unc.Retry, o.unc.Resent = true, true
		if err := d.Outbox.setUncertainty(ctx, o.m.ID, o.unc); err != nil {
			return true, err
		}
		o.log.Warn("notification's delivery was uncertain; sending it once more", "uncertain_since", o.unc.At)
	}
	if d.StatusLink != nil && o.n.Kind.StatusLink() {
		// Minted now, for this send only: the link is a capability, and
		// the outbox entry (in Redis) must not hold it.
		var err error
		if o.n.StatusURL, err = d.StatusLink(ctx, o.n); err != nil {
			o.st.Failed++
			o.log.Warn("notification held back: its status link could not be made", "err", err)
			return true, d.noteFailure(ctx, o.m, o.attempt, "making the status link: "+err.Error())
		}
	}
	o.sendErr = d.Sender.Send(o.sendCtx, o.n)
	return false, nil
}
