// Package alarm watches whether the desk reaches its mail servers and tells
// the operators when it has not for a while: one mail when an outage has
// lasted alerts.after, one when it is over, and warnings before a sign-in
// credential expires. Across replicas each alarm is sent once, by a Redis
// key taken with SET NX.
package alarm

import (
	"sync"
	"time"

	"github.com/maildesk/maildesk/signin"
)

// The parts of a desk that must be reached.
const (
	IMAP = "imap"
	SMTP = "smtp"
	// Journal is Redis in step with the mailbox journal (issue 16): it
	// fails while Redis lacks what the mailbox shows, and raises its alarm
	// at once, not after alerts.after: lost writes are worth knowing of
	// even when the repair is quick.
	Journal = "journal"
)

// Part is one server the desk must reach, as this replica's connection
// attempts find it. The watcher and the sender record every attempt.
type Part struct {
	Name   string // IMAP or SMTP
	Server string // for people: "IMAP imap.example.com:993 as desk@example.com"

	// failed, when set, is told the reason of every failed attempt
	// (metrics); it runs under the part's lock, so it must not block.
	failed func(reason string)

	mu           sync.Mutex
	lastOK       time.Time
	failingSince time.Time
	lastErr      string
	reason       string
}

// NewPart returns a part that no attempt has been recorded for; failed may
// be nil.
func NewPart(name, server string, failed func(reason string)) *Part {
	return &Part{Name: name, Server: server, failed: failed}
}

// State is a part's state as this replica knows it.
type State struct {
	// Known: at least one attempt was made (a standby replica makes none
	// to the mailbox).
	Known bool `json:"known"`
	Up    bool `json:"up"`
	// LastOK is the last successful sign-in; FailingSince the first
	// failure after it (zero while up).
	LastOK       time.Time `json:"last_ok,omitzero"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	Error        string    `json:"error,omitempty"`
	Reason       string    `json:"reason,omitempty"`
}

// Record notes the outcome of one attempt to connect and sign in.
func (p *Part) Record(err error, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.lastOK, p.failingSince, p.lastErr, p.reason = now, time.Time{}, "", ""
		return
	}
	if p.failingSince.IsZero() {
		p.failingSince = now
	}
	p.lastErr, p.reason = err.Error(), signin.Reason(err)
	if p.failed != nil {
		p.failed(p.reason)
	}
}

// State returns the part's state.
func (p *Part) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	known := !p.lastOK.IsZero() || !p.failingSince.IsZero()
	return State{
		Known: known, Up: known && p.failingSince.IsZero(),
		LastOK: p.lastOK, FailingSince: p.failingSince, Error: p.lastErr, Reason: p.reason,
	}
}

// Reset forgets what attempts found: the replica stopped trying (it gave up
// the mailbox's lease), and what it knew must neither raise nor clear an
// alarm about a mailbox another replica now reaches.
func (p *Part) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastOK, p.failingSince, p.lastErr, p.reason = time.Time{}, time.Time{}, "", ""
}
