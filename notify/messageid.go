package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Checking that a Message-ID is one the desk sent. The id's shape
// (".maildesk." and the desk's domain) is public: anyone can write one, so
// a bounce naming such an id proves nothing. Only its last atom, an HMAC
// under the desk's secret, cannot be made up; it is checked here against
// the delivery record of the mail, which says whom the mail went to.

// messageIDTagLen is the length of the HMAC atom in hex digits.
const messageIDTagLen = 16

// messageIDTag is the HMAC atom of the Message-ID that the notification
// with this id is sent with (messageID, headers.go); the delivery records
// mail under it without knowing the desk's domain. The ticket's key, when
// there is one, is under the MAC too; without one the atom is what it was
// before keys existed, so the ids of mail sent then still verify.
func messageIDTag(secret []byte, notificationID, ticketKey string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(notificationID))
	if ticketKey != "" {
		// A NUL cannot occur in a notification id: no two (id, key) pairs
		// give the same input.
		mac.Write([]byte{0})
		mac.Write([]byte(ticketKey))
	}
	return hex.EncodeToString(mac.Sum(nil)[:messageIDTagLen/2])
}

// splitMessageID returns the HMAC atom and the domain of a Message-ID of
// the desk's shape ("kind.ref.desk.maildesk.TAG@domain", no brackets); ok
// is false for any other shape.
func splitMessageID(id string) (tag, domain string, ok bool) {
	local, domain, found := strings.Cut(strings.ToLower(strings.TrimSpace(id)), "@")
	if !found || domain == "" {
		return "", "", false
	}
	atoms := strings.Split(local, ".")
	if len(atoms) != 5 || atoms[3] != "maildesk" {
		return "", "", false
	}
	tag = atoms[4]
	if len(tag) != messageIDTagLen || strings.Trim(tag, "0123456789abcdef") != "" {
		return "", "", false
	}
	return tag, domain, true
}

// VerifyMessageID reports whether id is the Message-ID the desk sent n
// with: it makes that id again under desk.Secret (the HMAC and every other
// atom) and compares in constant time. Without a secret nothing verifies:
// ids made without one are computable by anyone.
func VerifyMessageID(desk Desk, id string, n Notification) bool {
	if len(desk.Secret) == 0 {
		return false
	}
	want, err := MessageID(desk, n)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(strings.ToLower(want)), []byte(strings.ToLower(strings.TrimSpace(id))))
}

// DeskShapedMessageID reports whether id (no angle brackets) looks like a
// Message-ID the desk gives its own mail: ".maildesk." in it and, after
// the "@", domain, the desk's Message-ID domain; case does not count, and
// an empty domain matches nothing. The test is looser than splitMessageID
// on purpose, so that ids of every form the desk has sent count. The shape
// is public: it marks mail that looks like the desk's (its own mail coming
// back, a thread among its own mail, a report worth looking up), never
// mail the desk sent. VerifyMessageID decides that.
func DeskShapedMessageID(id, domain string) bool {
	if id == "" || domain == "" {
		return false
	}
	id = strings.ToLower(id)
	return strings.Contains(id, ".maildesk.") && strings.HasSuffix(id, "@"+strings.ToLower(domain))
}
