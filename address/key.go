package address

// Key is the form an address takes in a key or record that is looked up by
// address (a notice or rate limit, a suppression, a person's sessions):
// the canonical form of its bare address (Bare, then Normalise), so that
// every spelling of one mailbox, and the erasure and export that look it
// up canonically, find the same key. What is no address stays as Bare
// writes it.
func Key(addr string) string {
	b := Bare(addr)
	if a, err := Normalise(b); err == nil {
		return a
	}
	return b
}
