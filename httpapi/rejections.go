package httpapi

import (
	"net/http"
	"slices"
	"time"
)

// The rejections resource of the agent API: mail that was refused, newest
// first, as `maildesk rejections list` shows it.

type rejectionView struct {
	At        time.Time `json:"at"`
	Sender    string    `json:"sender"`
	Reason    string    `json:"reason"`
	MessageID string    `json:"message_id"`
	Subject   string    `json:"subject"`
}

func (a *API) listRejections(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	rs, err := a.c.Tickets.Rejections(r.Context())
	if err != nil {
		return err
	}
	out := make([]rejectionView, 0, len(rs))
	for _, x := range slices.Backward(rs) {
		out = append(out, rejectionView{At: x.At.UTC(), Sender: x.Sender, Reason: x.Reason, MessageID: x.MessageID, Subject: x.Subject})
	}
	return writeJSON(w, http.StatusOK, out)
}
