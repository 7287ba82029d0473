// Package authz decides whether a sender may open tickets: the directory of
// customers and their contacts, kept in Redis and loaded from the contacts
// file. It never sends mail.
package authz

import (
	"sort"
	"strings"

	"github.com/maildesk/maildesk/address"
	"github.com/maildesk/maildesk/config"
)

// Reason says why a sender was refused.
type Reason string

const (
	// UnknownSender: the address is no contact of any customer.
	UnknownSender Reason = "unknown sender"
	// NoAddress: the mail carried no usable sender address.
	NoAddress Reason = "no sender address"
	// DomainNotAuthorised: the address is at one of a customer's domains
	// but is no contact of it, and the customer does not authorise its
	// whole domain. Decision.Customer is set, so that the notice can name
	// the customer's main contact.
	DomainNotAuthorised Reason = "known domain, not a registered contact"
)

// Decision is the verdict on one sender. Customer and Contact are set when
// Authorised; Customer alone for DomainNotAuthorised. For a sender
// authorised by the customer's domain Contact is made up for the occasion
// (see Directory.Decide).
type Decision struct {
	Authorised bool
	Reason     Reason
	Customer   *config.Customer
	Contact    *config.Contact
}

// Option sets how a Directory matches addresses.
type Option func(*options)

type options struct {
	plusAddressing bool
}

// PlusAddressing makes jan+anything@acme.example count as jan@acme.example
// (authz.plus_addressing). Off, the tag is part of the address.
func PlusAddressing(on bool) Option {
	return func(o *options) { o.plusAddressing = on }
}

// Directory is the set of known customers and contacts. It is immutable;
// reloading builds a new one.
type Directory struct {
	opts      options
	customers []config.Customer // sorted by ID
	byID      map[string]*config.Customer
	byEmail   map[string]entry
	byDomain  map[string]*config.Customer
}

type entry struct {
	customer *config.Customer
	contact  *config.Contact
}

// NewDirectory indexes customers by id, contact address and domain. It
// copies customers, so the caller may go on using them. The config package
// has already rejected duplicate addresses and domains and normalised them;
// they are normalised again here for directories built by hand.
func NewDirectory(customers []config.Customer, opts ...Option) *Directory {
	d := &Directory{
		customers: cloneCustomers(customers),
		byID:      make(map[string]*config.Customer),
		byEmail:   make(map[string]entry),
		byDomain:  make(map[string]*config.Customer),
	}
	for _, o := range opts {
		o(&d.opts)
	}
	sort.SliceStable(d.customers, func(i, j int) bool { return d.customers[i].ID < d.customers[j].ID })
	for i := range d.customers {
		c := &d.customers[i]
		d.byID[c.ID] = c
		for j := range c.Contacts {
			d.byEmail[normalise(c.Contacts[j].Email)] = entry{customer: c, contact: &c.Contacts[j]}
		}
		for _, dom := range c.Domains {
			if n, err := address.NormaliseDomain(dom); err == nil {
				d.byDomain[n] = c
			}
		}
	}
	return d
}

// Decide judges the sender address of one mail. A registered contact, the
// main contact included, is authorised. Failing that, an address at one of
// a customer's domains is known as that customer's: authorised when the
// customer has authorise_domains, with a Contact made from the address
// itself (no name, the desk's language, progress mails on); otherwise
// refused as DomainNotAuthorised. Anyone else is an UnknownSender.
// Domains match exactly: sub.acme.example is not acme.example.
func (d *Directory) Decide(sender string) Decision {
	addr := normalise(sender)
	if addr == "" {
		return Decision{Reason: NoAddress}
	}
	if e, ok := d.byEmail[addr]; ok {
		return Decision{Authorised: true, Customer: e.customer, Contact: e.contact}
	}
	local, domain, _ := cutAddress(addr)
	if d.opts.plusAddressing {
		if base, _, tagged := strings.Cut(local, "+"); tagged && base != "" {
			if e, ok := d.byEmail[base+"@"+domain]; ok {
				return Decision{Authorised: true, Customer: e.customer, Contact: e.contact}
			}
		}
	}
	c, ok := d.byDomain[domain]
	switch {
	case !ok:
		return Decision{Reason: UnknownSender}
	case c.AuthoriseDomains:
		yes := true
		return Decision{Authorised: true, Customer: c, Contact: &config.Contact{Email: addr, ReceivesProgress: &yes}}
	}
	return Decision{Reason: DomainNotAuthorised, Customer: c}
}

// MainContact returns the main contact of a customer, or nil when the
// customer is unknown or has none.
func (d *Directory) MainContact(customerID string) *config.Contact {
	c := d.byID[customerID]
	if c == nil {
		return nil
	}
	return c.MainContact()
}

// Customer returns the customer with this id, or nil.
func (d *Directory) Customer(id string) *config.Customer { return d.byID[id] }

// Customers returns a copy of all customers, sorted by id.
func (d *Directory) Customers() []config.Customer { return cloneCustomers(d.customers) }

// Size returns the number of contacts known, for logs.
func (d *Directory) Size() (contacts int) { return len(d.byEmail) }

// normalise makes addresses comparable: lower case throughout (RFC 5321
// allows case-sensitive local parts, but no real mailbox provider uses
// them) and the domain in its ASCII form. An address that does not parse is
// only lower-cased: it cannot match a contact, whose addresses all parse.
func normalise(addr string) string {
	if n, err := address.Normalise(addr); err == nil {
		return n
	}
	return strings.ToLower(strings.TrimSpace(addr))
}

func cutAddress(addr string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return addr, "", false
	}
	return addr[:i], addr[i+1:], true
}

func cloneCustomers(cs []config.Customer) []config.Customer {
	if cs == nil {
		return nil
	}
	out := make([]config.Customer, len(cs))
	for i, c := range cs {
		c.Domains = append([]string(nil), c.Domains...)
		c.Managers = append([]config.Person(nil), c.Managers...)
		c.Contacts = append([]config.Contact(nil), c.Contacts...)
		for j := range c.Contacts {
			if p := c.Contacts[j].ReceivesProgress; p != nil {
				v := *p
				c.Contacts[j].ReceivesProgress = &v
			}
		}
		if p := c.RequireAuthentication; p != nil {
			v := *p
			c.RequireAuthentication = &v
		}
		out[i] = c
	}
	return out
}
