package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/maildesk/maildesk/workflow"
)

// A person's rights over their data: erasure and export (workflow.People),
// as maildesk contacts erase and export do them. The address goes in the
// body or the query, not the path: the request log records paths, and an
// erasure must not leave the address behind in the log.

// People erases and exports a person's data (workflow.People).
type People interface {
	Erase(ctx context.Context, addr string, by workflow.Agent, reference string) (workflow.Erasure, error)
	Export(ctx context.Context, addr string) (workflow.PersonExport, error)
}

type eraseRequest struct {
	Email string `json:"email"`
	// Reference is the request's case number, recorded with the erasure
	// (which records no address).
	Reference string `json:"reference"`
}

func (a *API) people() error {
	if a.c.People == nil {
		return &apiError{http.StatusNotImplemented, "erasure and export are not available on this server"}
	}
	return nil
}

func (a *API) erasePerson(w http.ResponseWriter, r *http.Request) error {
	if err := a.people(); err != nil {
		return err
	}
	var req eraseRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Email) == "" {
		return badRequest("email is required")
	}
	if len(req.Reference) > 200 {
		return badRequest("reference is longer than 200 characters")
	}
	res, err := a.c.People.Erase(r.Context(), req.Email, agent(r), req.Reference)
	if err != nil {
		return err
	}
	// Who was erased is not logged: that would keep the address.
	a.log.Info("person erased", "agent", agent(r).Name, "reference", req.Reference, "tickets", res.Tickets+res.Others,
		"mails", res.Mails, "mail_error", res.MailError)
	return writeJSON(w, http.StatusOK, res)
}

func (a *API) exportPerson(w http.ResponseWriter, r *http.Request) error {
	if err := a.people(); err != nil {
		return err
	}
	q := r.URL.Query()
	if err := onlyParams(q, "email"); err != nil {
		return err
	}
	if strings.TrimSpace(q.Get("email")) == "" {
		return badRequest("email is required")
	}
	x, err := a.c.People.Export(r.Context(), q.Get("email"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}
