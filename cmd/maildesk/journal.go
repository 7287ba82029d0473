package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/maildesk/maildesk/ingest"
	"github.com/maildesk/maildesk/notify"
)

// journalChanged raises and clears the journal's alarm.
func (d *daemon) journalChanged(st ingest.JournalStatus) {
	switch st.State {
	case "behind":
		d.journalPart.Record(errors.New(st.LastError), time.Now())
	case "ok":
		d.journalPart.Record(nil, time.Now())
	}
}

// holdMail keeps mail back while Redis is not known to be in step with the
// mailbox journal: it may have lost the records of what was sent. The
// operators' alarms go anyway.
func (d *daemon) holdMail(n notify.Notification) error {
	if d.journal.Holding() && !n.Kind.IsAlarm() {
		return errors.New("held: redis not yet compared with the mailbox journal")
	}
	return nil
}

// trace keeps a copy of a delivered mail in imap.sent_mailbox: what the
// journal knows was sent when Redis has forgotten it.
func (d *daemon) trace(ctx context.Context, n notify.Notification) error {
	at := time.Now()
	raw, err := d.mailer.TraceCopy(n, at)
	if err != nil {
		// It was rendered for sending: not something a retry changes.
		d.log.Warn("no trace of a sent mail: cannot render its copy", "notification", n.ID, "ticket", n.Ticket, "err", err)
		return nil
	}
	if err := d.journal.Trace(ctx, n, raw, at); err != nil {
		return fmt.Errorf("mail %s sent, its trace not kept yet: %w", n.ID, err)
	}
	return nil
}

func lastError(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}
