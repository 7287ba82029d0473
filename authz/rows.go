package authz

import "github.com/maildesk/maildesk/config"

// CustomerRow is a customer as the agent API (GET /api/v1/contacts,
// docs/openapi.yaml's Customer), `maildesk contacts list --json` and a
// person's export show it. It is a type of its own, apart from the contacts
// file's schema and the stored record, so that neither a config key nor the
// Redis document can change what API clients read.
type CustomerRow struct {
	ID                    string       `json:"id,omitempty"`
	Name                  string       `json:"name,omitempty"`
	Plan                  string       `json:"plan,omitempty"`
	Domains               []string     `json:"domains,omitempty"`
	AuthoriseDomains      bool         `json:"authorise_domains,omitempty"`
	RequireAuthentication *bool        `json:"require_authentication,omitempty"`
	Managers              []PersonRow  `json:"managers,omitempty"`
	ProgressToAll         bool         `json:"progress_to_all,omitempty"`
	Contacts              []ContactRow `json:"contacts,omitempty"`
	ActiveFrom            string       `json:"active_from,omitempty"`
	ActiveUntil           string       `json:"active_until,omitempty"`
	Suspended             string       `json:"suspended,omitempty"`
}

// PersonRow is a customer's manager in a CustomerRow (openapi: Person).
type PersonRow struct {
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

// ContactRow is a contact in a CustomerRow, in the answer to adding one and
// in a person's export (openapi: Contact).
type ContactRow struct {
	Email            string `json:"email,omitempty"`
	Name             string `json:"name,omitempty"`
	Main             bool   `json:"main,omitempty"`
	Language         string `json:"language,omitempty"`
	MaxPriority      string `json:"max_priority,omitempty"`
	ReceivesProgress *bool  `json:"receives_progress,omitempty"`
}

// CustomerRows converts customers, in their order; never nil, so that no
// customers is the empty list [], not null.
func CustomerRows(cs []config.Customer) []CustomerRow {
	out := make([]CustomerRow, len(cs))
	for i, c := range cs {
		out[i] = CustomerRow{
			ID: c.ID, Name: c.Name, Plan: c.Plan, Domains: c.Domains, AuthoriseDomains: c.AuthoriseDomains,
			RequireAuthentication: c.RequireAuthentication, ProgressToAll: c.ProgressToAll,
			ActiveFrom: c.ActiveFrom, ActiveUntil: c.ActiveUntil, Suspended: c.Suspended,
		}
		if c.Managers != nil {
			out[i].Managers = make([]PersonRow, len(c.Managers))
			for j, p := range c.Managers {
				out[i].Managers[j] = PersonRow{Email: p.Email, Name: p.Name}
			}
		}
		if c.Contacts != nil {
			out[i].Contacts = make([]ContactRow, len(c.Contacts))
			for j, ct := range c.Contacts {
				out[i].Contacts[j] = NewContactRow(ct)
			}
		}
	}
	return out
}

// NewContactRow converts one contact.
func NewContactRow(c config.Contact) ContactRow {
	return ContactRow{Email: c.Email, Name: c.Name, Main: c.Main, Language: c.Language,
		MaxPriority: c.MaxPriority, ReceivesProgress: c.ReceivesProgress}
}
