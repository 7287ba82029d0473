package httpapi

// The dashboard's filters: ?customer=ID&status=STATUS&assignee=NAME (one of
// each; "-" as assignee is nobody). A GET form, so that a filtered page is
// a link and its refresh keeps the filter.

import (
	"cmp"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// nobody is the assignee filter for unassigned tickets.
const nobody = "-"

// dashFilter is what the dashboard is narrowed to; "" is any.
type dashFilter struct {
	Customer, Status, Assignee string
}

func filterFrom(q url.Values) dashFilter {
	return dashFilter{Customer: q.Get("customer"), Status: q.Get("status"), Assignee: q.Get("assignee")}
}

func (f dashFilter) any() bool { return f != dashFilter{} }

// keep reports whether t passes the filter.
func (f dashFilter) keep(t *ticket.Ticket) bool {
	switch {
	case f.Customer != "" && t.Customer != f.Customer:
		return false
	case f.Status != "" && t.Status != f.Status:
		return false
	case f.Assignee == nobody && t.Assignee != "":
		return false
	case f.Assignee != "" && f.Assignee != nobody && !strings.EqualFold(notify.SafeLine(t.Assignee), f.Assignee):
		return false
	}
	return true
}

// dashFilters are the filter form's choices, made from the tickets there
// are, with what is chosen.
type dashFilters struct {
	On                             bool
	Customers, Statuses, Assignees []openChoice
}

// filter narrows list to f and returns the form's choices, which come from
// the whole list (a filter never hides its own way back).
func (d *dashboard) filter(list []ticket.Ticket, f dashFilter) ([]ticket.Ticket, dashFilters) {
	customers, assignees := map[string]string{}, map[string]string{}
	for i := range list {
		t := &list[i]
		if !ticket.Open(t.Status) && t.NeedsAgentSince == nil {
			continue
		}
		customers[t.Customer] = d.customerName(t.Customer)
		// As shown, which is also what the filter compares: the page
		// carries no control or format characters.
		if a := notify.SafeLine(t.Assignee); a != "" {
			assignees[strings.ToLower(a)] = a
		}
	}
	fs := dashFilters{On: f.any()}
	fs.Customers = []openChoice{{Value: "", Label: "all customers", Selected: f.Customer == ""}}
	ids := slices.SortedFunc(maps.Keys(customers), func(a, b string) int {
		return cmp.Or(strings.Compare(strings.ToLower(customers[a]), strings.ToLower(customers[b])), strings.Compare(a, b))
	})
	for _, id := range ids {
		fs.Customers = append(fs.Customers, openChoice{Value: notify.SafeLine(id), Label: customers[id], Selected: id == f.Customer})
	}
	fs.Statuses = []openChoice{{Value: "", Label: "all open", Selected: f.Status == ""}}
	for _, s := range ticket.Statuses {
		if ticket.Open(s) {
			fs.Statuses = append(fs.Statuses, openChoice{Value: s, Label: statusText(s), Selected: s == f.Status})
		}
	}
	fs.Assignees = []openChoice{{Value: "", Label: "anyone", Selected: f.Assignee == ""}, {Value: nobody, Label: "nobody", Selected: f.Assignee == nobody}}
	for _, k := range slices.Sorted(maps.Keys(assignees)) {
		a := assignees[k]
		fs.Assignees = append(fs.Assignees, openChoice{Value: a, Label: a, Selected: strings.EqualFold(a, f.Assignee)})
	}
	if !f.any() {
		return list, fs
	}
	out := make([]ticket.Ticket, 0, len(list))
	for i := range list {
		if f.keep(&list[i]) {
			out = append(out, list[i])
		}
	}
	return out, fs
}
