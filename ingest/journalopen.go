package ingest

import (
	"context"
	"fmt"

	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// Opener is how tickets agents open for a call (workflow.Service.Creator)
// are made in the daemon: as the mail's, above the highest number the
// journal knows was given, and not at all while Redis is not known to be
// in step with the mailbox. Mail waits in the inbox meanwhile; an agent is
// told to try again, since a number given twice cannot be taken back.
func (j *Journal) Opener() workflow.Creator { return journalOpener{j} }

type journalOpener struct{ j *Journal }

func (o journalOpener) Create(ctx context.Context, dedupe string, t ticket.New, note []string) (ticket.Result, error) {
	if o.j.Holding() {
		return ticket.Result{}, fmt.Errorf("%w: Redis is not yet compared with the mailbox journal (%s); try again in a minute", workflow.ErrUnavailable, o.j.Status().State)
	}
	return o.j.Create(ctx, dedupe, t, note)
}

// markBehind records in Redis whether it is behind the journal, for the
// processes without a journal (ticket.Store.Behind). A failure is logged:
// the daemon itself holds by its own status.
func (j *Journal) markBehind(ctx context.Context, why string) {
	if err := j.store.MarkBehind(ctx, why); err != nil {
		j.log.Warn("could not record in Redis whether it is behind the mailbox journal", "err", err)
	}
}
