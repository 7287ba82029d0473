package ingest

import (
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
)

// waitingMail are the mails found in the mailbox and not yet handled, with
// when each was first found: how long intake is behind, even while the
// connection looks fine. Safe for concurrent use.
type waitingMail struct {
	mu    sync.Mutex
	since map[imap.UID]time.Time
	// order holds the UIDs in the order they were found, so the oldest is
	// at the front; UIDs no longer in since are dropped lazily.
	order []imap.UID
}

// seen adds the UIDs not known yet, found at now.
func (wm *waitingMail) seen(uids []imap.UID, now time.Time) {
	wm.mu.Lock()
	defer wm.mu.Unlock()
	if wm.since == nil {
		wm.since = map[imap.UID]time.Time{}
	}
	for _, u := range uids {
		if _, ok := wm.since[u]; !ok {
			wm.since[u] = now
			wm.order = append(wm.order, u)
		}
	}
}

// done forgets handled mail.
func (wm *waitingMail) done(uids ...imap.UID) {
	wm.mu.Lock()
	defer wm.mu.Unlock()
	for _, u := range uids {
		delete(wm.since, u)
	}
	wm.compact()
}

// only forgets the mails at or above from that a search from there did not
// find (uids): they left the mailbox some other way.
func (wm *waitingMail) only(uids []imap.UID, from imap.UID) {
	wm.mu.Lock()
	defer wm.mu.Unlock()
	found := make(map[imap.UID]bool, len(uids))
	for _, u := range uids {
		found[u] = true
	}
	for u := range wm.since {
		if u >= from && !found[u] {
			delete(wm.since, u)
		}
	}
	wm.compact()
}

// reset forgets everything (the mailbox's UIDVALIDITY changed).
func (wm *waitingMail) reset() {
	wm.mu.Lock()
	defer wm.mu.Unlock()
	wm.since, wm.order = nil, nil
}

// oldest returns when the oldest waiting mail was found (zero: none) and
// how many are waiting.
func (wm *waitingMail) oldest() (time.Time, int) {
	wm.mu.Lock()
	defer wm.mu.Unlock()
	wm.compact()
	if len(wm.order) == 0 {
		return time.Time{}, 0
	}
	return wm.since[wm.order[0]], len(wm.since)
}

// compact drops forgotten UIDs from the front of order, and rebuilds it
// when most of it is forgotten, so that it stays proportional to since.
func (wm *waitingMail) compact() {
	for len(wm.order) > 0 {
		if _, ok := wm.since[wm.order[0]]; ok {
			break
		}
		wm.order = wm.order[1:]
	}
	if len(wm.order) > 64 && len(wm.order) > 2*len(wm.since) {
		kept := make([]imap.UID, 0, len(wm.since))
		for _, u := range wm.order {
			if _, ok := wm.since[u]; ok {
				kept = append(kept, u)
			}
		}
		wm.order = kept
	}
}
