package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/maildesk/maildesk/ticket"
)

var rejectionsCommand = &command{name: "rejections", subs: []*command{
	{name: "list", flags: "--config FILE [--json]", summary: "refused mail: time, sender, reason", run: cmdRejectionsList},
}}

// cmdRejectionsList lists the audit records of refused mail.
func cmdRejectionsList(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs, path := newFlags("rejections list")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	cfg, rdb, err := openDesk(ctx, *path)
	if err != nil {
		return err
	}
	defer rdb.Close()
	rs, err := ticket.NewStore(rdb, ticket.Options{DeskID: cfg.Desk.ID}).Rejections(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			At        string `json:"at"`
			Sender    string `json:"sender"`
			Reason    string `json:"reason"`
			MessageID string `json:"message_id"`
			Subject   string `json:"subject"`
		}
		out := make([]row, 0, len(rs))
		for _, r := range rs {
			out = append(out, row{r.At.Format("2006-01-02T15:04:05Z07:00"), r.Sender, r.Reason, r.MessageID, r.Subject})
		}
		return writeJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSENDER\tREASON\tMESSAGE-ID")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t<%s>\n", r.At.In(cfg.Desk.Location).Format("2006-01-02 15:04"), shownLine(r.Sender), shownLine(r.Reason), shownLine(r.MessageID))
	}
	return tw.Flush()
}
