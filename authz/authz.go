// Package authz decides whether a sender may open tickets: the customers,
// their contacts and (later) their rights. It never sends mail.
package authz

import (
	"strings"

	"github.com/maildesk/maildesk/config"
)

// Reason says why a sender was refused.
type Reason string

const (
	// UnknownSender: the address is no contact of any customer.
	UnknownSender Reason = "unknown sender"
	// NoAddress: the mail carried no usable sender address.
	NoAddress Reason = "no sender address"
)

// Decision is the verdict on one sender. Customer and Contact are set when
// Authorised.
type Decision struct {
	Authorised bool
	Reason     Reason
	Customer   *config.Customer
	Contact    *config.Contact
}

// Directory is the set of known customers and contacts. It is immutable;
// reloading builds a new one.
type Directory struct {
	byEmail map[string]entry
}

type entry struct {
	customer *config.Customer
	contact  *config.Contact
}

// NewDirectory indexes customers by contact address. The config package has
// already rejected duplicate addresses.
func NewDirectory(customers []config.Customer) *Directory {
	d := &Directory{byEmail: make(map[string]entry)}
	for i := range customers {
		c := &customers[i]
		for j := range c.Contacts {
			d.byEmail[normalise(c.Contacts[j].Email)] = entry{customer: c, contact: &c.Contacts[j]}
		}
	}
	return d
}

// Decide judges the sender address of one mail.
func (d *Directory) Decide(sender string) Decision {
	addr := normalise(sender)
	if addr == "" {
		return Decision{Reason: NoAddress}
	}
	e, ok := d.byEmail[addr]
	if !ok {
		return Decision{Reason: UnknownSender}
	}
	return Decision{Authorised: true, Customer: e.customer, Contact: e.contact}
}

// Size returns the number of contacts known, for logs.
func (d *Directory) Size() (contacts int) { return len(d.byEmail) }

// normalise makes addresses comparable: the whole address is compared
// case-insensitively, as the issue asks (RFC 5321 allows case-sensitive
// local parts, but no real mailbox provider uses them).
func normalise(addr string) string {
	return strings.ToLower(strings.TrimSpace(addr))
}
