package httpapi

// The customers' pages under /s/ (access.StatusPath): a ticket's status page
// reached by the link in its mails, a reply form on it, and "My tickets"
// for a contact who signs in with a one-time link mailed to their address.
// No account, no token: a page is reached by a secret that was mailed to
// the person, and shows what their mails told them and nothing else (never
// internal notes, agents' addresses or other customers' tickets). Every
// link that does not (or no longer) lead to a ticket gets the same "not
// found", whatever the reason, so that the pages tell a guesser nothing.

import (
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/maildesk/maildesk/access"
	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// CustomerTickets reads what the customers' pages show (ticket.Store).
type CustomerTickets interface {
	Get(ctx context.Context, number string) (*ticket.Ticket, error)
	Events(ctx context.Context, number string) ([]ticket.Event, error)
	List(ctx context.Context) ([]ticket.Ticket, error)
}

// WebReplier enters a reply written on a status page as from's mail on t
// would enter (ingest.Pipeline.SubmitWeb); key makes it idempotent.
type WebReplier func(ctx context.Context, from mail.Address, t *ticket.Ticket, text, key string) (WebReplyResult, error)

// WebReplyResult is what became of a reply from a status page.
type WebReplyResult struct {
	// Ticket is the ticket it went to: t, or a new one when t was closed.
	Ticket    string
	NewTicket bool
	// Refused: the directory no longer lets the writer report.
	Refused bool
}

// Queuer queues a mail (notify.Outbox).
type Queuer interface {
	Enqueue(ctx context.Context, n notify.Notification) error
}

// CustomerPages is what the customers' pages work with.
type CustomerPages struct {
	Desk string
	// Language is desk.language: the pages' language for a visitor whose
	// address is not known yet.
	Language string
	// Location is where times are shown; nil: time.Local.
	Location *time.Location
	// Now is the clock; nil: time.Now.
	Now     func() time.Time
	Links   *access.Store
	Tickets CustomerTickets
	// Authz judges the contact at every request (authz.Live): a contact
	// removed from the directory has no page any more.
	Authz interface {
		Decide(addr string) authz.Decision
	}
	Plans map[string]config.Plan
	Reply WebReplier
	// Outbox queues the sign-in mails.
	Outbox Queuer
	// Expiry is http.status_link_expiry: how long after closing a ticket
	// still shows.
	Expiry time.Duration
	// SecureCookie: the session cookie is sent over HTTPS only
	// (http.public_url is https).
	SecureCookie bool
	// Log is where the pages log; nil: slog.Default().
	Log *slog.Logger
}

// withDefaults is c with its unset optional fields at their defaults.
func (c CustomerPages) withDefaults() CustomerPages {
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Location = cmp.Or(c.Location, time.Local)
	c.Log = cmp.Or(c.Log, slog.Default())
	return c
}

// Limits on what the customers' pages let anyone ask for; beyond them the
// answer is the same, and nothing happens.
const (
	signInPerAddress = 3  // sign-in mails to one address per hour
	signInPerClient  = 20 // sign-in requests from one client address per hour
	repliesPerLink   = 30 // replies through one link or session per hour
)

// sessionCookie holds the secret of a "My tickets" session.
const sessionCookie = "maildesk_session"

// customerCSP: no scripts, no images, nothing from elsewhere; forms post
// to this site only.
const customerCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed templates/customer.html
var customerFS embed.FS

var customerTmpl = template.Must(template.New("customer.html").ParseFS(customerFS, "templates/customer.html"))

// NewCustomerPages serves the customers' pages under access.StatusPath.
// Mount it without RequireToken: its secrets are its authentication.
func NewCustomerPages(c CustomerPages) http.Handler {
	p := &customerPages{c: c.withDefaults()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+access.StatusPath+"{$}", p.serveAsk)
	mux.HandleFunc("POST "+access.StatusPath+"{$}", p.postAsk)
	mux.HandleFunc("GET "+access.SignInPath+"{secret}", p.serveSignIn)
	mux.HandleFunc("POST "+access.SignInPath+"{secret}", p.postSignIn)
	mux.HandleFunc("POST "+access.StatusPath+"out", p.postSignOut)
	mux.HandleFunc("GET "+access.MinePath+"{$}", p.serveMine)
	mux.HandleFunc("GET "+access.MinePath+"{number}", p.serveMineTicket)
	mux.HandleFunc("POST "+access.MinePath+"{number}", p.postMineTicket)
	mux.HandleFunc("GET "+access.StatusPath+"{secret}", p.serveStatus)
	mux.HandleFunc("POST "+access.StatusPath+"{secret}", p.postStatus)
	mux.HandleFunc(access.StatusPath, p.notFound)
	// A page of another site posting to these (a reply in the contact's
	// name) is refused; the session cookie is SameSite=Strict besides.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.render(w, r, http.StatusForbidden, customerPage{Page: "error", Lang: p.visitorLang(r), Message: "crossOrigin"})
	}))
	return cop.Handler(mux)
}

type customerPages struct {
	c CustomerPages
}

// customerPage is what templates/customer.html renders; Page says which
// of its pages.
type customerPage struct {
	Page string // ask | asked | signin | mine | ticket | notfound | error
	Lang string
	T    map[string]string
	Desk string
	// Message names a text of T to show as a notice (notice) or error.
	Message string
	Notice  string
	// The ticket shown.
	Ticket *customerTicket
	// Action is where the reply form posts; Key its idempotency key.
	Action, Key string
	Reply       string // what was typed, shown again after an error
	// Mine: the signed-in contact, and their tickets.
	Contact   string
	Customer  string
	AllOfOrg  bool
	Tickets   []customerRow
	SignedIn  bool
	SignInURL string
}

type customerTicket struct {
	Number, Subject, Status, Priority, Type string
	Open                                    bool
	// Deadline says the promised first response, or when it was given.
	Deadline, DeadlineISO string
	Responded             bool
	Entries               []customerEntry
}

type customerEntry struct {
	Class       string // customer | desk | change
	Who         string
	AtText      string
	AtISO       string
	Text        string
	Quoted      string
	Changes     []string
	Attachments []string
}

type customerRow struct {
	Number, Subject, Status, Contact, Updated, UpdatedISO, URL string
	Open                                                       bool
}

// --- status links ---

func (p *customerPages) serveStatus(w http.ResponseWriter, r *http.Request) {
	p.showLinked(w, r, http.StatusOK, "", "")
}

// linked resolves the status link of r to its ticket and the contact it
// was given to; ok false means "not found", whatever the reason.
func (p *customerPages) linked(ctx context.Context, secret string) (access.Link, *ticket.Ticket, authz.Decision, bool, error) {
	l, err := p.c.Links.Resolve(ctx, secret)
	if errors.Is(err, access.ErrNotFound) {
		return l, nil, authz.Decision{}, false, nil
	}
	if err != nil {
		return l, nil, authz.Decision{}, false, err
	}
	t, d, ok, err := p.visible(ctx, l.Ticket, l.Contact)
	if err == nil && !ok && t != nil && p.expired(t) {
		// Never shown again: gone from Redis too.
		if ferr := p.c.Links.Forget(ctx, l); ferr != nil {
			p.c.Log.Warn("forgetting an expired status link", "ticket", l.Ticket, "err", ferr)
		}
	}
	return l, t, d, ok, err
}

// visible reads ticket number and reports whether contact may see it now:
// an authorised contact of the ticket's customer, on a plan with status
// links, the ticket not closed longer than the expiry ago.
func (p *customerPages) visible(ctx context.Context, number, contact string) (*ticket.Ticket, authz.Decision, bool, error) {
	t, err := p.c.Tickets.Get(ctx, number)
	if errors.Is(err, ticket.ErrNotFound) {
		return nil, authz.Decision{}, false, nil
	}
	if err != nil {
		return nil, authz.Decision{}, false, err
	}
	d, ok := access.MayHaveLinks(p.c.Authz.Decide(contact), p.c.Plans, t.Customer)
	return t, d, ok && !p.expired(t), nil
}

// expired: closed longer than http.status_link_expiry ago. A closed
// ticket changes no more, so its last change is its closing.
func (p *customerPages) expired(t *ticket.Ticket) bool {
	if t.Status != ticket.StatusClosed {
		return false
	}
	closed := t.CreatedAt
	if t.UpdatedAt != nil {
		closed = *t.UpdatedAt
	}
	return p.c.Now().Sub(closed) > p.c.Expiry
}

// linkedTicket is linked for a handler of r's status link: when there is
// nothing to show it has answered r (unavailable or not found) and ok is
// false, as mineTicket does for a signed-in contact.
func (p *customerPages) linkedTicket(w http.ResponseWriter, r *http.Request, secret string) (access.Link, *ticket.Ticket, authz.Decision, bool) {
	l, t, d, ok, err := p.linked(r.Context(), secret)
	if err != nil {
		p.unavailable(w, r, err)
		return l, nil, d, false
	}
	if !ok {
		p.notFound(w, r)
		return l, nil, d, false
	}
	return l, t, d, true
}

func (p *customerPages) showLinked(w http.ResponseWriter, r *http.Request, code int, errMsg, typed string) {
	secret := r.PathValue("secret")
	_, t, d, ok := p.linkedTicket(w, r, secret)
	if !ok {
		return
	}
	p.showTicket(w, r, code, t, d, access.StatusPath+url.PathEscape(secret), false, errMsg, typed)
}

// showTicket renders t's page, its reply form posting to action, signedIn
// for a contact's session rather than a status link; errMsg and typed are
// a refused reply's message and text.
func (p *customerPages) showTicket(w http.ResponseWriter, r *http.Request, code int, t *ticket.Ticket, d authz.Decision, action string, signedIn bool, errMsg, typed string) {
	page, err := p.ticketPage(r.Context(), t, d)
	if err != nil {
		p.unavailable(w, r, err)
		return
	}
	page.Action, page.SignedIn = action, signedIn
	page.Message, page.Reply, page.Notice = errMsg, typed, noticeOf(r)
	p.render(w, r, code, page)
}

func (p *customerPages) postStatus(w http.ResponseWriter, r *http.Request) {
	secret := r.PathValue("secret")
	l, t, d, ok := p.linkedTicket(w, r, secret)
	if !ok {
		return
	}
	p.reply(w, r, t, d, l.Contact, "link "+l.Hash, access.StatusPath+url.PathEscape(secret), func(code int, msg, typed string) {
		p.showLinked(w, r, code, msg, typed)
	})
}

// reply enters the reply posted in r on t from contact; scope makes its key
// the link's or session's own. back is the page to return to.
func (p *customerPages) reply(w http.ResponseWriter, r *http.Request, t *ticket.Ticket, d authz.Decision, contact, scope, back string, again func(code int, msg, typed string)) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := r.ParseForm(); err != nil {
		again(http.StatusBadRequest, "formUnreadable", "")
		return
	}
	text, key := r.PostForm.Get("message"), r.PostForm.Get("key")
	switch {
	case key == "" || len(key) > 200:
		again(http.StatusBadRequest, "formUnreadable", text)
		return
	case strings.TrimSpace(text) == "":
		again(http.StatusBadRequest, "replyEmpty", text)
		return
	case len(text) > workflow.MaxText:
		again(http.StatusBadRequest, "replyTooLong", text)
		return
	}
	if ok, err := p.c.Links.Allow(r.Context(), "reply:"+scope, repliesPerLink, time.Hour); err != nil || !ok {
		if err != nil {
			p.c.Log.Error("reply rate limit", "err", err)
		}
		again(http.StatusTooManyRequests, "tooMany", text)
		return
	}
	from := mail.Address{Address: contact}
	if d.Contact != nil {
		from.Name = d.Contact.Name
	}
	// One reply per form: the key, scoped to the link or session, is the
	// reply's identity whoever sends it how often.
	sum := sha256.Sum256([]byte(scope + " " + key))
	res, err := p.c.Reply(r.Context(), from, t, text, hex.EncodeToString(sum[:]))
	if err != nil {
		p.c.Log.Error("reply from a status page not recorded", "ticket", t.Number, "err", err)
		again(http.StatusServiceUnavailable, "unavailable", text)
		return
	}
	if res.Refused {
		p.notFound(w, r)
		return
	}
	p.c.Log.Info("reply from a status page", "ticket", t.Number, "to", res.Ticket, "new_ticket", res.NewTicket)
	notice := "sent"
	if res.NewTicket {
		notice = "sentNew"
	}
	http.Redirect(w, r, back+"?done="+notice+"#reply", http.StatusSeeOther)
}

// noticeOf is the notice a redirect after a post asks for; only known
// ones, so that a link cannot make the page say something.
func noticeOf(r *http.Request) string {
	switch v := r.URL.Query().Get("done"); v {
	case "sent", "sentNew":
		return v
	}
	return ""
}

// ticketPage is the page of t for contact decision d: what their mails
// told them.
func (p *customerPages) ticketPage(ctx context.Context, t *ticket.Ticket, d authz.Decision) (customerPage, error) {
	events, err := p.c.Tickets.Events(ctx, t.Number)
	if err != nil {
		return customerPage{}, err
	}
	lang := p.langOf(d, t)
	T := customerWords[lang]
	plan := p.c.Plans[d.Customer.PlanName()]
	ct := &customerTicket{
		Number: notify.SafeLine(t.Number), Subject: cmp.Or(notify.SafeLine(t.Subject), T["noSubject"]),
		Status: notify.StatusText(lang, t.Status), Open: t.Status != ticket.StatusClosed,
		Priority: notify.SafeLine(cmp.Or(config.PriorityLabel(p.c.Plans, d.Customer, lang, t.Priority), t.Priority)),
	}
	if len(plan.Types) > 0 || t.Type == ticket.TypeFeatureRequest {
		ct.Type = notify.SafeLine(plan.TypeName(lang, t.Type))
		if t.Type == ticket.TypeFeatureRequest {
			ct.Type = T["featureRequest"]
		}
	}
	if c := t.SLA; c != nil && !c.FirstResponseDue.IsZero() && plan.StatesDeadline() {
		switch {
		case t.FirstResponseAt != nil:
			ct.Responded, ct.Deadline, ct.DeadlineISO = true, notify.FormatDate(*t.FirstResponseAt, lang, p.c.Location), t.FirstResponseAt.UTC().Format(time.RFC3339)
		case ticket.Open(t.Status):
			ct.Deadline, ct.DeadlineISO = notify.FormatDate(c.FirstResponseDue, lang, p.c.Location), c.FirstResponseDue.UTC().Format(time.RFC3339)
		}
	}
	names := contactNames(d.Customer)
	ct.Entries = append(ct.Entries, customerEntry{
		Class: "customer", Who: who(names, t.Contact, t.ContactName), Text: notify.SafeText(t.Text), Quoted: notify.SafeText(t.Quoted),
		AtText: notify.FormatDate(t.CreatedAt, lang, p.c.Location), AtISO: t.CreatedAt.UTC().Format(time.RFC3339),
		Attachments: attachmentNames(t.Attachments),
	})
	for _, e := range events {
		ent := customerEntry{AtText: notify.FormatDate(e.At, lang, p.c.Location), AtISO: e.At.UTC().Format(time.RFC3339)}
		switch e.Kind {
		case ticket.EventReply:
			ent.Class, ent.Who = "customer", who(names, e.From, "")
			ent.Text, ent.Quoted, ent.Attachments = notify.SafeText(e.Text), notify.SafeText(e.Quoted), attachmentNames(e.Attachments)
		case ticket.EventAgentReply:
			// The agent's name, never their address; and the status the
			// reply put the ticket in, as its mail said.
			ent.Class, ent.Who, ent.Text = "desk", cmp.Or(agentName(e.From), notify.SafeLine(p.c.Desk)), notify.SafeText(e.Text)
			for _, c := range e.Changes {
				if s := p.changeText(lang, T, d.Customer, plan, c); s != "" {
					ent.Changes = append(ent.Changes, s)
				}
			}
		case ticket.EventChange:
			ent.Class, ent.Who = "change", notify.SafeLine(p.c.Desk)
			for _, c := range e.Changes {
				if s := p.changeText(lang, T, d.Customer, plan, c); s != "" {
					ent.Changes = append(ent.Changes, s)
				}
			}
			if len(ent.Changes) == 0 {
				continue
			}
		default:
			// Notes, automatic replies, bounces and the desk's own marks
			// are the desk's business.
			continue
		}
		ct.Entries = append(ct.Entries, ent)
	}
	return customerPage{Page: "ticket", Lang: lang, Ticket: ct, Key: access.NewSecret()}, nil
}

// changeText is a change as the progress mail says it, "" for one the
// customer is not told.
func (p *customerPages) changeText(lang string, T map[string]string, c *config.Customer, plan config.Plan, fc ticket.FieldChange) string {
	label := func(v string) string {
		switch fc.Field {
		case notify.ChangeStatus:
			return notify.StatusText(lang, v)
		case notify.ChangePriority:
			return cmp.Or(config.PriorityLabel(p.c.Plans, c, lang, v), v)
		case notify.ChangeType:
			return cmp.Or(plan.TypeName(lang, v), strings.ReplaceAll(v, "_", " "))
		}
		return v
	}
	var s string
	switch fc.Field {
	case notify.ChangeStatus, notify.ChangePriority, notify.ChangeType:
		s = T["field_"+fc.Field] + ": " + label(fc.New)
		if fc.Old != "" {
			s = T["field_"+fc.Field] + ": " + label(fc.Old) + " → " + label(fc.New)
		}
	case notify.ChangeAssignee:
		if fc.New == "" {
			return ""
		}
		s = T["field_assignee"] + ": " + fc.New
	default:
		return ""
	}
	if fc.Reason != "" && fc.Field == notify.ChangePriority {
		s += " (" + fc.Reason + ")"
	}
	return notify.SafeLine(s)
}

// --- "My tickets" ---

func (p *customerPages) serveAsk(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := p.session(r); ok {
		http.Redirect(w, r, access.MinePath, http.StatusSeeOther)
		return
	}
	p.render(w, r, http.StatusOK, customerPage{Page: "ask", Lang: p.visitorLang(r)})
}

// postAsk mails a sign-in link to an address that may have one. The
// answer is the same whatever the address, known or not, and whether a
// limit held the mail back: the page tells nobody who is a contact.
func (p *customerPages) postAsk(w http.ResponseWriter, r *http.Request) {
	lang := p.visitorLang(r)
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		p.render(w, r, http.StatusBadRequest, customerPage{Page: "ask", Lang: lang, Message: "formUnreadable"})
		return
	}
	a, err := mail.ParseAddress(strings.TrimSpace(r.PostForm.Get("email")))
	if err != nil || len(a.Address) > 254 {
		p.render(w, r, http.StatusBadRequest, customerPage{Page: "ask", Lang: lang, Message: "badAddress"})
		return
	}
	addr := strings.ToLower(a.Address)
	if err := p.askSignIn(r, addr); err != nil {
		p.c.Log.Error("sign-in link not queued", "err", err)
	}
	p.render(w, r, http.StatusOK, customerPage{Page: "asked", Lang: lang})
}

// askSignIn queues the sign-in mail for addr if it may have one and the
// limits allow. What it decides is logged without the address (a typed
// address may be anybody's).
func (p *customerPages) askSignIn(r *http.Request, addr string) error {
	ctx := r.Context()
	client := r.RemoteAddr
	if h, _, err := net.SplitHostPort(client); err == nil {
		client = h
	}
	if ok, err := p.c.Links.Allow(ctx, "signin-client:"+client, signInPerClient, time.Hour); err != nil || !ok {
		if err == nil {
			p.c.Log.Warn("sign-in requests over the limit from one client", "limit", signInPerClient)
		}
		return err
	}
	// Counted for any address, known or not: the same work either way,
	// and guessing at one address is as limited as mailing it.
	if ok, err := p.c.Links.Allow(ctx, "signin:"+addr, signInPerAddress, time.Hour); err != nil || !ok {
		return err
	}
	d, ok := access.MayHaveLinks(p.c.Authz.Decide(addr), p.c.Plans, "")
	if !ok || d.Contact == nil {
		return nil
	}
	now := p.c.Now()
	return p.c.Outbox.Enqueue(ctx, notify.Notification{
		ID: notify.SignInID(now, addr), Kind: notify.SignIn, To: d.Contact.Email, ToName: d.Contact.Name,
		Language: p.langOf(d, nil), Customer: d.Customer.Name,
	})
}

// serveSignIn asks for a click: a mail scanner following the link must
// not spend it.
func (p *customerPages) serveSignIn(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, customerPage{Page: "signin", Lang: p.visitorLang(r),
		SignInURL: access.SignInPath + url.PathEscape(r.PathValue("secret"))})
}

func (p *customerPages) postSignIn(w http.ResponseWriter, r *http.Request) {
	contact, err := p.c.Links.UseSignIn(r.Context(), r.PathValue("secret"))
	if errors.Is(err, access.ErrNotFound) {
		p.render(w, r, http.StatusNotFound, customerPage{Page: "ask", Lang: p.visitorLang(r), Message: "signInExpired"})
		return
	}
	if err != nil {
		p.unavailable(w, r, err)
		return
	}
	if _, ok := access.MayHaveLinks(p.c.Authz.Decide(contact), p.c.Plans, ""); !ok {
		p.render(w, r, http.StatusNotFound, customerPage{Page: "ask", Lang: p.visitorLang(r), Message: "signInExpired"})
		return
	}
	secret, err := p.c.Links.NewSession(r.Context(), contact)
	if err != nil {
		p.unavailable(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: access.StatusPath, MaxAge: int(access.SessionTTL / time.Second),
		HttpOnly: true, Secure: p.c.SecureCookie, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, access.MinePath, http.StatusSeeOther)
}

func (p *customerPages) postSignOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := p.c.Links.EndSession(r.Context(), c.Value); err != nil {
			p.c.Log.Warn("signing out", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: access.StatusPath, MaxAge: -1,
		HttpOnly: true, Secure: p.c.SecureCookie, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, access.StatusPath, http.StatusSeeOther)
}

// session is the signed-in contact of r, judged by the directory now.
func (p *customerPages) session(r *http.Request) (string, authz.Decision, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", authz.Decision{}, false
	}
	contact, err := p.c.Links.Session(r.Context(), c.Value)
	if err != nil {
		return "", authz.Decision{}, false
	}
	d, ok := access.MayHaveLinks(p.c.Authz.Decide(contact), p.c.Plans, "")
	return contact, d, ok
}

// seesAll: the contact sees all of the organisation's tickets: its main
// contact, or every contact where all of them follow every ticket
// (progress_to_all).
func seesAll(d authz.Decision) bool {
	return d.Customer.ProgressToAll || d.Contact != nil && d.Contact.Main
}

// mayOpen reports whether signed-in contact (decision d) may see t.
func (p *customerPages) mayOpen(t *ticket.Ticket, contact string, d authz.Decision) bool {
	if t.Customer != d.Customer.ID || p.expired(t) {
		return false
	}
	return seesAll(d) || strings.EqualFold(t.Contact, contact) ||
		slices.ContainsFunc(t.Participants, func(a string) bool { return strings.EqualFold(a, contact) })
}

func (p *customerPages) serveMine(w http.ResponseWriter, r *http.Request) {
	contact, d, ok := p.session(r)
	if !ok {
		http.Redirect(w, r, access.StatusPath, http.StatusSeeOther)
		return
	}
	list, err := p.c.Tickets.List(r.Context())
	if err != nil {
		p.unavailable(w, r, err)
		return
	}
	lang := p.langOf(d, nil)
	page := customerPage{Page: "mine", Lang: lang, Contact: notify.SafeLine(contact), Customer: notify.SafeLine(d.Customer.Name),
		AllOfOrg: seesAll(d), SignedIn: true}
	names := contactNames(d.Customer)
	// Newest first, open ones before closed ones.
	var closed []customerRow
	for _, t := range slices.Backward(list) {
		if !p.mayOpen(&t, contact, d) {
			continue
		}
		updated := t.CreatedAt
		if t.UpdatedAt != nil {
			updated = *t.UpdatedAt
		}
		row := customerRow{
			Number: notify.SafeLine(t.Number), Subject: cmp.Or(notify.SafeLine(t.Subject), customerWords[lang]["noSubject"]),
			Status: notify.StatusText(lang, t.Status), Open: ticket.Open(t.Status), Contact: who(names, t.Contact, t.ContactName),
			Updated: notify.FormatDate(updated, lang, p.c.Location), UpdatedISO: updated.UTC().Format(time.RFC3339),
			URL: access.MinePath + url.PathEscape(t.Number),
		}
		if row.Open {
			page.Tickets = append(page.Tickets, row)
		} else {
			closed = append(closed, row)
		}
	}
	page.Tickets = append(page.Tickets, closed...)
	p.render(w, r, http.StatusOK, page)
}

// mineTicket is the ticket of r's path if the signed-in contact may see
// it; ok false is "not found" (or signed out: back to /s/).
func (p *customerPages) mineTicket(w http.ResponseWriter, r *http.Request) (*ticket.Ticket, string, authz.Decision, bool) {
	contact, d, ok := p.session(r)
	if !ok {
		http.Redirect(w, r, access.StatusPath, http.StatusSeeOther)
		return nil, "", d, false
	}
	t, err := p.c.Tickets.Get(r.Context(), r.PathValue("number"))
	if err != nil && !errors.Is(err, ticket.ErrNotFound) {
		p.unavailable(w, r, err)
		return nil, "", d, false
	}
	if t == nil || !p.mayOpen(t, contact, d) {
		p.notFound(w, r)
		return nil, "", d, false
	}
	return t, contact, d, true
}

func (p *customerPages) serveMineTicket(w http.ResponseWriter, r *http.Request) {
	p.showMine(w, r, http.StatusOK, "", "")
}

func (p *customerPages) showMine(w http.ResponseWriter, r *http.Request, code int, errMsg, typed string) {
	t, _, d, ok := p.mineTicket(w, r)
	if !ok {
		return
	}
	p.showTicket(w, r, code, t, d, access.MinePath+url.PathEscape(t.Number), true, errMsg, typed)
}

func (p *customerPages) postMineTicket(w http.ResponseWriter, r *http.Request) {
	t, contact, d, ok := p.mineTicket(w, r)
	if !ok {
		return
	}
	c, _ := r.Cookie(sessionCookie)
	sum := sha256.Sum256([]byte(c.Value))
	p.reply(w, r, t, d, contact, "session "+hex.EncodeToString(sum[:]), access.MinePath+url.PathEscape(t.Number), func(code int, msg, typed string) {
		p.showMine(w, r, code, msg, typed)
	})
}

// --- shared ---

// notFound is the one answer for every link that leads nowhere: forged,
// expired, revoked, another customer's. Its language is the visitor's
// browser's, never the link's.
func (p *customerPages) notFound(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusNotFound, customerPage{Page: "notfound", Lang: p.visitorLang(r)})
}

func (p *customerPages) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	p.c.Log.Error("customer page", "err", err)
	p.render(w, r, http.StatusServiceUnavailable, customerPage{Page: "error", Lang: p.visitorLang(r), Message: "unavailable"})
}

func (p *customerPages) render(w http.ResponseWriter, r *http.Request, code int, page customerPage) {
	if _, ok := customerWords[page.Lang]; !ok {
		page.Lang = "en"
	}
	page.T = customerWords[page.Lang]
	page.Desk = notify.SafeLine(p.c.Desk)
	var buf strings.Builder
	if err := customerTmpl.Execute(&buf, page); err != nil {
		p.c.Log.Error("rendering a customer page", "page", page.Page, "err", err)
		http.Error(w, "error", http.StatusInternalServerError)
		return
	}
	// Links are secrets: not to be kept by caches, sent on as a referrer
	// or listed by search engines.
	w.Header().Set("X-Robots-Tag", "noindex, nofollow")
	writePage(w, r, code, []byte(buf.String()), customerCSP)
}

// visitorLang is the language of a visitor not yet known: their browser's
// first choice of nl and en, else the desk's.
func (p *customerPages) visitorLang(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if _, ok := customerWords[base]; ok {
			return base
		}
	}
	if _, ok := customerWords[p.c.Language]; ok {
		return p.c.Language
	}
	return "en"
}

// langOf is a known contact's language: theirs, else the ticket's, else
// the desk's.
func (p *customerPages) langOf(d authz.Decision, t *ticket.Ticket) string {
	var ls []string
	if d.Contact != nil {
		ls = append(ls, d.Contact.Language)
	}
	if t != nil {
		ls = append(ls, t.Language)
	}
	for _, l := range append(ls, p.c.Language) {
		if _, ok := customerWords[l]; ok {
			return l
		}
	}
	return "en"
}

// contactNames are a customer's contacts' names by address (lower case).
func contactNames(c *config.Customer) map[string]string {
	out := map[string]string{}
	if c != nil {
		for _, ct := range c.Contacts {
			out[strings.ToLower(ct.Email)] = ct.Name
		}
	}
	return out
}

// who names a customer's contact as the directory knows them.
func who(names map[string]string, addr, fallback string) string {
	return notify.SafeLine(cmp.Or(names[strings.ToLower(addr)], fallback, addr))
}

// agentName is the name in an agent's "Name <addr>", "" when there is only
// an address.
func agentName(from string) string {
	if a, err := mail.ParseAddress(from); err == nil {
		return notify.SafeLine(a.Name)
	}
	if strings.Contains(from, "@") {
		return ""
	}
	return notify.SafeLine(from)
}

func attachmentNames(as []ticket.Attachment) []string {
	var out []string
	for _, a := range as {
		out = append(out, notify.SafeLine(a.Name)+" ("+humanSize(a.Size)+")")
	}
	return out
}

// loggedPath is a request's path as logged: the secrets in the customers'
// pages' paths left out (a log is no place for a key to a ticket).
func loggedPath(p string) string {
	if rest, ok := strings.CutPrefix(p, access.SignInPath); ok && rest != "" {
		return access.SignInPath + "…"
	}
	if rest, ok := strings.CutPrefix(p, access.StatusPath); ok && rest != "" && rest != "out" && !strings.HasPrefix(rest, "my/") {
		return access.StatusPath + "…"
	}
	return p
}
