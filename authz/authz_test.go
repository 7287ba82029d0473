package authz

import (
	"reflect"
	"testing"

	"github.com/maildesk/maildesk/config"
)

func testCustomers() []config.Customer {
	return []config.Customer{
		{ID: "acme", Name: "Acme BV", Domains: []string{"acme.example"}, Contacts: []config.Contact{
			{Email: "jan@acme.example", Name: "Jan", Main: true},
			{Email: "piet@acme.example"},
			{Email: "desk+acme@acme.example"},
		}},
		{ID: "globex", Contacts: []config.Contact{{Email: "Ann@Globex.example"}}},
		{ID: "bucher", Domains: []string{"bücher.example"}, AuthoriseDomains: true, Contacts: []config.Contact{
			{Email: "jan@xn--bcher-kva.example", Main: true},
		}},
		{ID: "initech", Domains: []string{"Initech.example"}},
	}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name     string
		plus     bool
		sender   string
		ok       bool
		reason   Reason
		customer string
		contact  string // Decision.Contact.Email
	}{
		{name: "main contact", sender: "jan@acme.example", ok: true, customer: "acme", contact: "jan@acme.example"},
		{name: "contact", sender: "piet@acme.example", ok: true, customer: "acme", contact: "piet@acme.example"},
		{name: "case", sender: "JAN@ACME.EXAMPLE", ok: true, customer: "acme", contact: "jan@acme.example"},
		{name: "registered mixed case", sender: "ann@globex.example", ok: true, customer: "globex", contact: "Ann@Globex.example"},
		{name: "spaces", sender: " piet@acme.example ", ok: true, customer: "acme", contact: "piet@acme.example"},
		{name: "IDNA unicode sender, ASCII contact", sender: "jan@bücher.example", ok: true, customer: "bucher", contact: "jan@xn--bcher-kva.example"},
		{name: "IDNA upper-case unicode", sender: "Jan@BÜCHER.Example", ok: true, customer: "bucher", contact: "jan@xn--bcher-kva.example"},
		{name: "plus off: tagged address is not the contact", sender: "ann+x@globex.example", reason: UnknownSender},
		{name: "plus on: tag stripped", plus: true, sender: "Ann+Ticket@globex.example", ok: true, customer: "globex", contact: "Ann@Globex.example"},
		{name: "plus on: registered tagged address", plus: true, sender: "desk+acme@acme.example", ok: true, customer: "acme", contact: "desk+acme@acme.example"},
		{name: "plus off: registered tagged address", sender: "desk+acme@acme.example", ok: true, customer: "acme", contact: "desk+acme@acme.example"},
		{name: "plus on: empty base", plus: true, sender: "+x@globex.example", reason: UnknownSender},
		{name: "plus off at known domain", sender: "jan+x@acme.example", reason: DomainNotAuthorised, customer: "acme"},
		{name: "domain known, not authorised", sender: "kees@acme.example", reason: DomainNotAuthorised, customer: "acme"},
		{name: "domain known, upper case", sender: "KEES@ACME.example", reason: DomainNotAuthorised, customer: "acme"},
		{name: "domain known, no contacts", sender: "bill@initech.example", reason: DomainNotAuthorised, customer: "initech"},
		{name: "domain authorised", sender: "Kees@Bücher.example", ok: true, customer: "bucher", contact: "kees@xn--bcher-kva.example"},
		{name: "subdomain is not the domain", sender: "kees@mail.acme.example", reason: UnknownSender},
		{name: "look-alike domain", sender: "jan@acme.example.evil", reason: UnknownSender},
		{name: "unknown", sender: "someone@else.example", reason: UnknownSender},
		{name: "not an address", sender: "jan", reason: UnknownSender},
		{name: "empty", sender: "", reason: NoAddress},
		{name: "blank", sender: "  ", reason: NoAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDirectory(testCustomers(), PlusAddressing(tt.plus))
			got := d.Decide(tt.sender)
			if got.Authorised != tt.ok || got.Reason != tt.reason {
				t.Fatalf("Decide(%q) = %+v, want authorised=%v reason=%q", tt.sender, got, tt.ok, tt.reason)
			}
			switch {
			case tt.customer == "" && got.Customer != nil:
				t.Errorf("Customer = %s, want none", got.Customer.ID)
			case tt.customer != "" && (got.Customer == nil || got.Customer.ID != tt.customer):
				t.Errorf("Customer = %+v, want %s", got.Customer, tt.customer)
			}
			switch {
			case tt.contact == "" && got.Contact != nil:
				t.Errorf("Contact = %+v, want none", got.Contact)
			case tt.contact != "" && (got.Contact == nil || got.Contact.Email != tt.contact):
				t.Errorf("Contact = %+v, want %s", got.Contact, tt.contact)
			}
		})
	}
}

func TestDomainAuthorisedContact(t *testing.T) {
	got := NewDirectory(testCustomers()).Decide("kees@bücher.example")
	c := got.Contact
	if c == nil || c.Name != "" || c.Language != "" || c.Main || c.ReceivesProgress == nil || !*c.ReceivesProgress {
		t.Errorf("synthesised contact = %+v", c)
	}
}

func TestDirectoryLookups(t *testing.T) {
	in := testCustomers()
	d := NewDirectory(in)
	if m := d.MainContact("acme"); m == nil || m.Email != "jan@acme.example" {
		t.Errorf("MainContact(acme) = %+v", m)
	}
	if m := d.MainContact("globex"); m != nil {
		t.Errorf("MainContact(globex) = %+v, want nil", m)
	}
	if m := d.MainContact("nobody"); m != nil {
		t.Errorf("MainContact(nobody) = %+v", m)
	}
	if c := d.Customer("initech"); c == nil || c.ID != "initech" {
		t.Errorf("Customer(initech) = %+v", c)
	}
	if c := d.Customer("nobody"); c != nil {
		t.Errorf("Customer(nobody) = %+v", c)
	}
	var ids []string
	for _, c := range d.Customers() {
		ids = append(ids, c.ID)
	}
	if !reflect.DeepEqual(ids, []string{"acme", "bucher", "globex", "initech"}) {
		t.Errorf("Customers() ids = %v", ids)
	}
	if d.Size() != 5 {
		t.Errorf("Size = %d", d.Size())
	}
	// The directory is immutable: neither its input nor its output reach it.
	in[0].Contacts[0].Email = "changed@acme.example"
	out := d.Customers()
	out[0].Contacts[1].Email = "changed@acme.example"
	if !d.Decide("jan@acme.example").Authorised || !d.Decide("piet@acme.example").Authorised {
		t.Error("changing the input or output of the directory changed it")
	}
}
