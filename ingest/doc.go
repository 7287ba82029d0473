// Package ingest drains the desk mailbox: it fetches each mail, judges it,
// commits its outcome to Redis in mail order, and files the mail in the
// folder of its outcome only once that is committed. A crash anywhere
// re-runs the same steps and changes nothing twice.
//
// One mail's way through the package:
//
//  1. Fetch. A [Watcher] (watcher.go) is the drain's scheduler. It keeps a
//     session open on the mailbox through the small mailbox and session
//     interfaces it declares; [Mailbox] (mailbox.go, mailbox_session.go) is
//     the IMAP client behind them: sign-in (password, or OAuth2 through
//     [Tokens]), a watchdog on every command, folders, IDLE or polling,
//     SEARCH, streamed UID FETCH, outcome keywords and MOVE. The drainer
//     (watcher.go) searches for the UIDs above its checkpoint and fetches
//     them in batches, new mail ahead of a backlog.
//  2. Read. As a body arrives, the watcher reads it (literal.go), into
//     memory when small, and [Pipeline.Read] (pipeline.go) parses it into
//     a [ReadMail]; a mail over the size limit only has its head read
//     ([Pipeline.ReadHead]). Parsing is the MIME parser's (package
//     mailparse).
//  3. Decide. On the mail's own goroutine, [Pipeline.Decide] bounds the
//     stored header fields, classifies the mail (classify.go,
//     classify_bounce.go), asks authz about the sender and reads the
//     desk's Authentication-Results, then takes it down the decision
//     ladder (steps.go) in its declared order: machine mail (bounce.go
//     records bounces and complaints about the desk's own mail), agent
//     (agent.go), authentication, thread (thread.go), auto-reply, create
//     (pipeline.go: a ticket, with its priority from priority.go, or a
//     refusal while the customer is inactive), notice. A step reads Redis
//     only through the mail's ordered views (exclusive.go), which wait for
//     the mail's turn first.
//  4. Commit. The committer (committer.go) is each mail's [Order]: commits
//     are queued in mail order and sent together (ticket.Store.CommitBatch);
//     a mail that must read Redis first waits until the mails before it are
//     committed. The [Journal] (journalguard.go) is the pipeline's Store:
//     every commit carries the lowest sequence Redis may have.
//  5. File. Once a batch's outcomes are committed, the watcher files the
//     mails: the keywords recording each outcome (journal.go), then a MOVE
//     to Processed, Rejected or Quarantine per folder, then the checkpoint.
//
// When things go wrong: Redis refusing writes keeps the session and waits
// (storewait.go); a body cut off is fetched again (literal.go); Redis found
// behind the journal holds the intake ([Gate]) while repair.go replays the
// missing mails through [Pipeline.Decide] (restore.go).
//
// Other ways in and out: [Pipeline.Process] and [Pipeline.TooLarge] judge a
// single mail, [Pipeline.SubmitWeb] (web.go) a reply written on a ticket's
// status page; [Mailbox.Raw] (raw.go) copies an original for `maildesk
// tickets raw` and the ticket page, [ExtractPart] (extract.go) one of its
// attachments, and the Purge methods (purge.go) delete filed mail for
// retention and erasure.
package ingest
