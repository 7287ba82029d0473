package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/maildesk/maildesk/address"
	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
)

// The contacts resource of the agent API: the directory as authz.Store
// keeps it, and edits to it as `maildesk contacts add|remove` make them.

// Contacts is the directory of customers and contacts (authz.Store).
type Contacts interface {
	Load(ctx context.Context) ([]config.Customer, int64, error)
	Info(ctx context.Context) (authz.Info, error)
	Version(ctx context.Context) (int64, error)
	Add(ctx context.Context, customerID string, c config.Contact, plans map[string]config.Plan) error
	Remove(ctx context.Context, email string) error
}

type contactsView struct {
	Version   int64               `json:"version"`
	Source    string              `json:"source,omitempty"`
	UpdatedAt *time.Time          `json:"updated_at,omitempty"`
	Customers []authz.CustomerRow `json:"customers"`
}

func (a *API) listContacts(w http.ResponseWriter, r *http.Request) error {
	cs, v, err := a.c.Contacts.Load(r.Context())
	if err != nil {
		return err
	}
	slices.SortFunc(cs, func(x, y config.Customer) int { return strings.Compare(x.ID, y.ID) })
	out := contactsView{Version: v, Customers: authz.CustomerRows(cs)}
	if v > 0 {
		info, err := a.c.Contacts.Info(r.Context())
		if err != nil {
			return err
		}
		out.Source = strings.TrimSpace(info.Source)
		if !info.UpdatedAt.IsZero() {
			out.UpdatedAt = &info.UpdatedAt
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

type addContactRequest struct {
	Customer         string `json:"customer"`
	Email            string `json:"email"`
	Name             string `json:"name"`
	Main             bool   `json:"main"`
	Language         string `json:"language"`
	MaxPriority      string `json:"max_priority"`
	ReceivesProgress *bool  `json:"receives_progress"`
}

type contactView struct {
	Customer string           `json:"customer"`
	Contact  authz.ContactRow `json:"contact"`
	Version  int64            `json:"version"`
}

func (a *API) addContact(w http.ResponseWriter, r *http.Request) error {
	var req addContactRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	req.Customer, req.Email = strings.TrimSpace(req.Customer), strings.TrimSpace(req.Email)
	switch {
	case req.Customer == "":
		return badRequest("customer is required")
	case req.Email == "":
		return badRequest("email is required")
	}
	progress := req.ReceivesProgress == nil || *req.ReceivesProgress
	c := config.Contact{Email: req.Email, Name: strings.TrimSpace(req.Name), Main: req.Main, Language: req.Language,
		MaxPriority: req.MaxPriority, ReceivesProgress: &progress}
	if err := a.refresh(r.Context()); err != nil {
		return err
	}
	if err := a.c.Contacts.Add(r.Context(), req.Customer, c, a.c.Plans); err != nil {
		return err
	}
	a.refreshAfter(r.Context())
	out := contactView{Customer: req.Customer, Contact: authz.NewContactRow(c)}
	cs, v, err := a.c.Contacts.Load(r.Context())
	if err != nil {
		return err
	}
	out.Version = v
	// The stored contact has the address in canonical form.
	want, _ := address.Normalise(req.Email)
	for _, cu := range cs {
		if cu.ID != req.Customer {
			continue
		}
		for _, ct := range cu.Contacts {
			if ct.Email == want {
				out.Contact = authz.NewContactRow(ct)
			}
		}
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (a *API) removeContact(w http.ResponseWriter, r *http.Request) error {
	email := r.PathValue("email")
	if err := a.refresh(r.Context()); err != nil {
		return err
	}
	if err := a.c.Contacts.Remove(r.Context(), email); err != nil {
		return err
	}
	a.refreshAfter(r.Context())
	v, err := a.c.Contacts.Version(r.Context())
	if err != nil {
		return err
	}
	removed, err := address.Normalise(email)
	if err != nil {
		removed = email
	}
	return writeJSON(w, http.StatusOK, map[string]any{"removed": removed, "version": v})
}

func (a *API) refresh(ctx context.Context) error {
	if a.c.Refresh == nil {
		return nil
	}
	if err := a.c.Refresh(ctx); err != nil {
		return fmt.Errorf("refreshing the directory before the edit: %w", err)
	}
	return nil
}

// refreshAfter makes this daemon use an edit at once; failing that, the
// periodic refresh picks it up, so it is only logged.
func (a *API) refreshAfter(ctx context.Context) {
	if a.c.Refresh == nil {
		return
	}
	if err := a.c.Refresh(ctx); err != nil {
		a.log.Warn("contact edit saved, but the directory in use was not refreshed; it is within 30s", "err", err)
	}
}
