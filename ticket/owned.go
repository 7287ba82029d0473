package ticket

// A ticket's status links (package access mints and resolves them) hold the
// address of the contact they show the ticket to: they are the ticket's,
// and retention and erasure remove them with it. Their keys, under the
// desk's prefix, are defined here once for both packages.
const (
	// StatusLinkPrefix + the link's SHA-256 (hex) is one link: a hash of
	// ticket, contact and created.
	StatusLinkPrefix = "link:"
	// ContactLinksPrefix + a contact's address (address.Normalise) is the
	// sorted set of that contact's links (by creation, ms): how erasure
	// finds them on tickets the person is not on (progress_to_all).
	ContactLinksPrefix = "links:c:"
)

// StatusLinksKey is the set of ticket number's links (their hashes).
func StatusLinksKey(number string) string { return "t:" + number + ":links" }

// The idempotency keys of agents' requests on a ticket (hashes of key ->
// ticket) are the ticket's too: each ticket lists its fields of them, so
// that deleting it (retention.keep) removes them.

// timeKeysKey is the set of ticket number's fields of timekeys (its time
// requests).
func timeKeysKey(number string) string { return "t:" + number + ":timekeys" }

// requestKeysKey is the set of ticket number's fields of requests (its
// changes asked for with an idempotency key).
func requestKeysKey(number string) string { return "t:" + number + ":requests" }
