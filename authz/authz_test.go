package authz

import (
	"testing"

	"github.com/maildesk/maildesk/config"
)

func TestDecide(t *testing.T) {
	d := NewDirectory([]config.Customer{
		{ID: "acme", Contacts: []config.Contact{{Email: "jan@acme.example", Main: true}, {Email: "piet@acme.example"}}},
		{ID: "globex", Contacts: []config.Contact{{Email: "Ann@Globex.example"}}},
	})
	tests := []struct {
		sender   string
		ok       bool
		customer string
		reason   Reason
	}{
		{"jan@acme.example", true, "acme", ""},
		{"JAN@ACME.EXAMPLE", true, "acme", ""},
		{" piet@acme.example ", true, "acme", ""},
		{"ann@globex.example", true, "globex", ""},
		{"kees@acme.example", false, "", UnknownSender},
		{"jan@acme.example.evil", false, "", UnknownSender},
		{"", false, "", NoAddress},
	}
	for _, tt := range tests {
		got := d.Decide(tt.sender)
		if got.Authorised != tt.ok || got.Reason != tt.reason {
			t.Errorf("Decide(%q) = %+v, want authorised=%v reason=%q", tt.sender, got, tt.ok, tt.reason)
			continue
		}
		if tt.ok && got.Customer.ID != tt.customer {
			t.Errorf("Decide(%q) customer = %s, want %s", tt.sender, got.Customer.ID, tt.customer)
		}
	}
}
