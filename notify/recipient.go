package notify

import (
	"fmt"
	"net/mail"
)

// CheckRecipient reports why mail cannot be sent to addr, nil when it can:
// an address the renderer refuses (not an RFC 5322 address, or longer than
// SMTP allows) would only end as a dead letter. Whoever decides to queue a
// notification asks first.
func CheckRecipient(addr string) error {
	to, err := mail.ParseAddress(addr)
	if err != nil {
		return fmt.Errorf("recipient %q: %v", addr, err)
	}
	if len(to.Address) > maxAddressLen {
		return fmt.Errorf("recipient address of %d bytes, over SMTP's %d", len(to.Address), maxAddressLen)
	}
	return nil
}
