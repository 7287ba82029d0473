package authz

import "github.com/maildesk/maildesk/config"

// The directory document in Redis has a shape of its own, apart from the
// contacts file's schema (config.Customer): renaming a config key must not
// make every replica misread the directory it stored before. The field
// names are those the document has always had; a change here needs a
// migration of stored directories.

type document struct {
	Customers []customerRecord `json:"customers"`
}

type customerRecord struct {
	ID                    string          `json:"id,omitempty"`
	Name                  string          `json:"name,omitempty"`
	Plan                  string          `json:"plan,omitempty"`
	Domains               []string        `json:"domains,omitempty"`
	AuthoriseDomains      bool            `json:"authorise_domains,omitempty"`
	RequireAuthentication *bool           `json:"require_authentication,omitempty"`
	Managers              []personRecord  `json:"managers,omitempty"`
	ProgressToAll         bool            `json:"progress_to_all,omitempty"`
	Contacts              []contactRecord `json:"contacts,omitempty"`
	ActiveFrom            string          `json:"active_from,omitempty"`
	ActiveUntil           string          `json:"active_until,omitempty"`
	Suspended             string          `json:"suspended,omitempty"`
}

type personRecord struct {
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

type contactRecord struct {
	Email            string `json:"email,omitempty"`
	Name             string `json:"name,omitempty"`
	Main             bool   `json:"main,omitempty"`
	Language         string `json:"language,omitempty"`
	MaxPriority      string `json:"max_priority,omitempty"`
	ReceivesProgress *bool  `json:"receives_progress,omitempty"`
}

// records converts customers to the stored form; never nil, so that an
// empty directory is stored as [] as it always was.
func records(cs []config.Customer) []customerRecord {
	out := make([]customerRecord, len(cs))
	for i, c := range cs {
		out[i] = customerRecord{
			ID: c.ID, Name: c.Name, Plan: c.Plan, Domains: c.Domains, AuthoriseDomains: c.AuthoriseDomains,
			RequireAuthentication: c.RequireAuthentication, ProgressToAll: c.ProgressToAll,
			ActiveFrom: c.ActiveFrom, ActiveUntil: c.ActiveUntil, Suspended: c.Suspended,
		}
		if c.Managers != nil {
			out[i].Managers = make([]personRecord, len(c.Managers))
			for j, p := range c.Managers {
				out[i].Managers[j] = personRecord{Email: p.Email, Name: p.Name}
			}
		}
		if c.Contacts != nil {
			out[i].Contacts = make([]contactRecord, len(c.Contacts))
			for j, ct := range c.Contacts {
				out[i].Contacts[j] = contactRecord{Email: ct.Email, Name: ct.Name, Main: ct.Main, Language: ct.Language,
					MaxPriority: ct.MaxPriority, ReceivesProgress: ct.ReceivesProgress}
			}
		}
	}
	return out
}

// customers converts stored records back; nil for none, as decoding
// config.Customer directly gave.
func customers(rs []customerRecord) []config.Customer {
	if rs == nil {
		return nil
	}
	out := make([]config.Customer, len(rs))
	for i, r := range rs {
		out[i] = config.Customer{
			ID: r.ID, Name: r.Name, Plan: r.Plan, Domains: r.Domains, AuthoriseDomains: r.AuthoriseDomains,
			RequireAuthentication: r.RequireAuthentication, ProgressToAll: r.ProgressToAll,
			ActiveFrom: r.ActiveFrom, ActiveUntil: r.ActiveUntil, Suspended: r.Suspended,
		}
		if r.Managers != nil {
			out[i].Managers = make([]config.Person, len(r.Managers))
			for j, p := range r.Managers {
				out[i].Managers[j] = config.Person{Email: p.Email, Name: p.Name}
			}
		}
		if r.Contacts != nil {
			out[i].Contacts = make([]config.Contact, len(r.Contacts))
			for j, ct := range r.Contacts {
				out[i].Contacts[j] = config.Contact{Email: ct.Email, Name: ct.Name, Main: ct.Main, Language: ct.Language,
					MaxPriority: ct.MaxPriority, ReceivesProgress: ct.ReceivesProgress}
			}
		}
	}
	return out
}
