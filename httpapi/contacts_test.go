package httpapi

import (
	"strings"
	"testing"
)

func TestAPIContacts(t *testing.T) {
	f := newFixture(t, testTokens)
	run(t, f, []step{
		{name: "list", method: "GET", path: "/api/v1/contacts", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				v := decode[contactsView](t, b)
				if v.Version != 1 || v.Source != "test" || len(v.Customers) != 2 || v.Customers[0].ID != "acme" || len(v.Customers[0].Contacts) != 2 {
					t.Errorf("directory %s", b)
				}
			}},
		{name: "add", method: "POST", path: "/api/v1/contacts", code: 201,
			body: `{"customer": "acme", "email": "Kees@ACME.example", "name": "Kees", "language": "nl", "max_priority": "P2", "receives_progress": false}`,
			check: func(t *testing.T, f *fixture, b []byte) {
				v := decode[contactView](t, b)
				c := v.Contact
				if v.Customer != "acme" || v.Version != 2 || c.Email != "kees@acme.example" || c.Language != "nl" || c.MaxPriority != "P2" ||
					c.ReceivesProgress == nil || *c.ReceivesProgress || c.Main {
					t.Errorf("added %s", b)
				}
				if n := f.refreshed.Load(); n != 2 {
					t.Errorf("refreshed %d times, want before and after", n)
				}
			}},
		{name: "add again", method: "POST", path: "/api/v1/contacts", code: 400,
			body: `{"customer": "acme", "email": "kees@acme.example"}`, want: []string{"kees@acme.example is already a contact of customer acme"}},
		{name: "second main contact", method: "POST", path: "/api/v1/contacts", code: 400,
			body: `{"customer": "acme", "email": "boss@acme.example", "main": true}`, want: []string{"already has a main contact"}},
		{name: "over the plan's max contacts", method: "POST", path: "/api/v1/contacts", code: 400,
			body: `{"customer": "globex", "email": "bob@globex.example"}`, want: []string{"plan small allows at most 1"},
			check: func(t *testing.T, f *fixture, b []byte) {
				if ps, _ := decode[map[string]any](t, b)["problems"].([]any); len(ps) != 1 {
					t.Errorf("problems %s", b)
				}
			}},
		{name: "bad language", method: "POST", path: "/api/v1/contacts", code: 400,
			body: `{"customer": "acme", "email": "x@acme.example", "language": "de"}`, want: []string{"nl, en"}},
		{name: "bad address", method: "POST", path: "/api/v1/contacts", code: 400,
			body: `{"customer": "acme", "email": "not an address"}`, want: []string{"not a valid e-mail address"}},
		{name: "unknown customer", method: "POST", path: "/api/v1/contacts", code: 404,
			body: `{"customer": "nobody", "email": "x@nobody.example"}`, want: []string{"nobody"}},
		{name: "customer missing", method: "POST", path: "/api/v1/contacts", code: 400,
			body: `{"email": "x@nobody.example"}`, want: []string{"customer is required"}},
		{name: "unknown field", method: "POST", path: "/api/v1/contacts", code: 400,
			body: `{"customer": "acme", "email": "x@acme.example", "phone": "1"}`, want: []string{`unknown field "phone"`}},
		{name: "remove", method: "DELETE", path: "/api/v1/contacts/Piet@Acme.example", code: 200, want: []string{`"removed":"piet@acme.example"`, `"version":3`}},
		{name: "remove again", method: "DELETE", path: "/api/v1/contacts/piet@acme.example", code: 404, want: []string{"piet@acme.example"}},
		{name: "list after", method: "GET", path: "/api/v1/contacts", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				v := decode[contactsView](t, b)
				var got []string
				for _, c := range v.Customers[0].Contacts {
					got = append(got, c.Email)
				}
				if v.Version != 3 || strings.Join(got, ",") != "jan@acme.example,kees@acme.example" {
					t.Errorf("directory %s", b)
				}
			}},
	})
}
