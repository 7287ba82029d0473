// Package notify is the desk's outgoing mail: what it says (templates in
// Dutch and English), the queue it waits in (the outbox, a Redis stream),
// and its delivery over SMTP, with the guards that keep it from looping or
// flooding.
//
// # The path of one notification
//
// Enqueue. A producer queues a Notification under a stable id (ids.go:
// AckID, SLAAlertID, DigestID, ...): the same id queued twice is sent
// once. Acknowledgements and rejection notices are not queued here but by
// the ticket commit script, in the same Redis transaction as the ticket or
// the refusal (ticket.Store); agents' replies and updates, and SLA alerts,
// are queued by the ticket script that records the change or the
// escalation that causes them (workflow, escalation); digests, alarms and
// sign-in mails go through Outbox.Enqueue. Notification.Fields is the
// stream encoding, FromFields reads it back.
//
// Outbox. Entries wait in the stream md:{desk}:outbox, read through one
// consumer group by every replica (Outbox). An entry read but not finished
// is pending: a failed one waits there for its backoff, one whose replica
// died is claimed by another (Delivery.Drain, retryDue).
//
// Stages. Delivery.Drain hands each due entry to a worker, which runs it
// through the stages in delivery.go, in this order: decode (an unreadable
// entry is dead-lettered), already sent (a delivery recorded before a
// crash is finished, not sent again), claim (one sender per notification,
// renewed while the send lasts; an uncertain delivery waits here for an
// operator or its one automatic resend), suppressed (automatic mail to an
// address that bounced is skipped), admit (the rate limits, Limits: over
// the desk's limit mail waits, over a stranger's it is skipped), send, and
// settle (record, Delivered, acknowledge).
//
// Sender. The Sender renders the mail (Render: subject with the ticket tag
// once, Message-ID keyed by the desk's secret, threading headers, the
// LoopHeader and RFC 3834 headers that keep auto-responders quiet) and
// sends it; *Mailer is the SMTP one (password or OAuth2 through signin).
// Held wraps a Sender to keep mail back as a temporary failure (the
// daemon holds customers' mail while Redis is behind).
//
// Dead and skipped. A permanent refusal, or a temporary failure older
// than MaxAge, moves the entry to md:{desk}:outbox:dead; one not sent on
// purpose (suppressed, rate limited) to md:{desk}:outbox:skipped, each
// with its reason. A send the relay never answered after the whole
// message went out is neither: it stays, marked uncertain, so that it is
// not sent twice blindly. Operators list, retry and drop entries
// (Outbox.List, Retry, Drop; `maildesk outbox`).
//
// # Files
//
// render.go (Render, Desk), kinds.go (what each Kind is), render_data.go
// (what templates see), subject.go, headers.go (Message-ID, References),
// safetext.go (SafeLine, SafeText), templates*.go; outbox.go (the queue,
// Drain and its workers), delivery*.go (the stages), limits.go, admin.go,
// journal.go (trace copies, restore after Redis loss), mailer.go and
// session.go (SMTP); the Lua scripts are *.lua beside them.
package notify
