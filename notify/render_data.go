package notify

import (
	"cmp"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
)

// templateData is what templates see. Text from outside (subject, names)
// is flattened onto one line; the HTML templates escape it.
type templateData struct {
	DeskName    string
	DeskAddress string
	Language    string // "nl" | "en": the language of this mail
	MailSubject string // the subject of this mail
	Ticket      string
	Subject     string // the cleaned original subject; may be empty
	To          string // bare recipient address
	ToName      string
	Customer    string
	// Received is when the answered mail arrived, in the desk's time zone;
	// zero when unknown. Write it with {{date .Received}}.
	Received time.Time
	// Channel, for Ack: "phone" or "in_person" when an agent took the
	// request and opened the ticket (Received is then when), "" for mail.
	Channel string
	// Size and Limit of a mail too large, written for people ("31.5 MB").
	Size, Limit string
	// Ack: the ticket's priority and, when it differs from what was asked,
	// the asked one and why; Feature for a feature request; Type the
	// name of its support type, "" on a plan without types.
	Priority, RequestedPriority, PriorityReason string
	Feature                                     bool
	Type                                        string
	// Rejection: the main contact of the sender's organisation, if known.
	MainContact, MainContactName string
	// SLAWarning, SLABreach: the ticket's first-response deadline (in the
	// desk's time zone; zero when unknown), the target as configured ("4h",
	// "3 workdays"), whether the alert is sent later than planned because
	// maildesk was not running, and who reported the ticket.
	Deadline   time.Time
	Target     string
	Late       bool
	ReportedBy string
	// FeatureReply: who wrote the customer's reply (ReportedBy is the
	// ticket's contact); the reply itself is Text and Paragraphs.
	RepliedBy string
	// Digest and SLAAlerts: the moment it describes (zero when unknown);
	// the tickets per customer, groups by customer name (tickets without
	// one last), each group's tickets breached first, then by deadline;
	// and how many are breached and at risk in all.
	AsOf                       time.Time
	Groups                     []digestGroup
	BreachedCount, AtRiskCount int
	// AgentReply: the agent's name (may be empty); the reply as written,
	// line breaks kept (the text template writes {{.Text}}); and the same
	// as paragraphs of lines, split at blank lines, for HTML. FeatureReply:
	// the customer's reply, likewise.
	Agent      string
	Text       string
	Paragraphs [][]string
	// Progress: the changes, in order (each .Field, .Old, .New, .Reason;
	// {{status .New}} writes a status in words), and the ticket's status
	// after them, "" when its status did not change.
	Changes []Change
	Status  string
	// AlarmDown, AlarmUp: what fails or works again and why (Reason is the
	// server's or the authorization server's words); CredentialExpiry:
	// Reason is "certificate" or "client secret", Deadline the expiry.
	// Since (AsOf) is when the outage began or ended.
	Server, Reason string
	// Part is "imap", "smtp" or "journal" (Redis behind the mailbox
	// journal), for AlarmDown and AlarmUp.
	Part string
	// Inactive: why support is off (config.Term*: "suspended" with its
	// Reason, "not_started" or "ended" with the term's day in AsOf).
	Term string
	// TimeBudget: Reason is "warning" or "reached", Target the budget,
	// Used the time recorded, Agent who recorded the last of it.
	Used string
	// TicketURL links SLAWarning and SLABreach to the ticket's page for
	// agents (Desk.TicketURL); StatusURL links Ack, Progress and
	// AgentReply to the ticket's status page for the recipient
	// (Notification.StatusURL). "" when the desk has none.
	TicketURL, StatusURL string
}

// digestGroup is one customer's tickets in a digest.
type digestGroup struct {
	Customer string // "" for tickets without a customer
	Items    []DigestItem
}

// prepared is a notification checked and ready for its templates.
type prepared struct {
	domain string // of the desk address, for the Message-ID
	ticket string
	to     string // bare recipient address
	lang   string
	data   templateData
}

func prepare(desk Desk, n Notification) (prepared, error) {
	domain, deskAddr, err := deskDomain(desk)
	if err != nil {
		return prepared{}, fmt.Errorf("rendering notification %q: %w", n.ID, err)
	}
	if strings.TrimSpace(n.ID) == "" {
		return prepared{}, fmt.Errorf("rendering %s notification: %w: empty id", n.Kind, ErrInvalidNotification)
	}
	ticket := cleanHeaderText(n.Ticket)
	spec, ok := kindSpecs[n.Kind]
	if !ok {
		return prepared{}, fmt.Errorf("rendering notification %q: %w: unknown kind %q", n.ID, ErrInvalidNotification, n.Kind)
	}
	if spec.needsTicket && ticket == "" {
		return prepared{}, fmt.Errorf("rendering notification %q: %w: %s without ticket", n.ID, ErrInvalidNotification, n.Kind)
	}
	if err := CheckRecipient(n.To); err != nil {
		return prepared{}, fmt.Errorf("rendering notification %q: %w: %v", n.ID, ErrInvalidNotification, err)
	}
	to, _ := mail.ParseAddress(n.To)

	text := n.Text
	if spec.outsideText {
		text = SafeText(text)
	}
	text = cleanBody(text)
	if spec.needsText && text == "" {
		return prepared{}, fmt.Errorf("rendering notification %q: %w: %s without text", n.ID, ErrInvalidNotification, n.Kind)
	}
	if spec.needsLink && linkFor(true, n.StatusURL) == "" {
		return prepared{}, fmt.Errorf("rendering notification %q: %w: %s without its link", n.ID, ErrInvalidNotification, n.Kind)
	}
	changes, status := cleanChanges(n.Changes)
	if spec.needsChanges && len(changes) == 0 {
		return prepared{}, fmt.Errorf("rendering notification %q: %w: %s without changes", n.ID, ErrInvalidNotification, n.Kind)
	}

	lang := pickLanguage(n.Kind, n.Language, desk.DefaultLanguage)
	subject := truncateRunes(cleanHeaderText(n.Subject), maxSubjectRunes)
	if spec.dropReplyPrefixes {
		subject = dropReplyPrefixes(subject, ticket)
	}
	loc := desk.Location
	if loc == nil {
		loc = time.UTC
	}
	inLoc := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.In(loc)
	}
	words := spec.subject[lang]
	groups, breached, atRisk := groupDigest(n.Items, loc)
	var mailSubj string
	switch {
	case spec.datedSubject:
		subject = ""
		mailSubj = strings.TrimSpace(words.Alone + " " + formatDay(n.AsOf, lang, loc))
	case spec.countedSubject:
		subject = ""
		mailSubj = countedSubject(words, breached, atRisk)
	default:
		mailSubj = mailSubject(ticket, subject, words, spec.tagFirst)
	}
	for _, g := range groups {
		for i := range g.Items {
			g.Items[i].URL = desk.ticketURL(g.Items[i].Ticket)
		}
	}
	return prepared{
		domain: domain,
		ticket: ticket,
		to:     to.Address,
		lang:   lang,
		data: templateData{
			DeskName:    cleanHeaderText(desk.Name),
			DeskAddress: deskAddr,
			Language:    lang,
			MailSubject: mailSubj,
			Ticket:      ticket,
			Subject:     subject,
			To:          to.Address,
			ToName:      cleanHeaderText(n.ToName),
			Customer:    cleanHeaderText(n.Customer),
			Received:    inLoc(n.Received),
			Channel:     cleanHeaderText(n.Channel),
			Size:        humanBytes(n.Size),
			Limit:       humanBytes(n.Limit),

			// The plan's words where it has them: templates just say
			// {{.Priority}}.
			Priority:          cleanHeaderText(cmp.Or(n.PriorityLabel, n.Priority)),
			RequestedPriority: cleanHeaderText(cmp.Or(n.RequestedPriorityLabel, n.RequestedPriority)),
			PriorityReason:    n.PriorityReason,
			Feature:           n.Type == "feature_request",
			Type:              cleanHeaderText(n.TypeLabel),
			MainContact:       cleanHeaderText(n.MainContact),
			MainContactName:   cleanHeaderText(n.MainContactName),

			Deadline:   inLoc(n.Deadline),
			Target:     cleanHeaderText(n.Target),
			Late:       n.Late,
			ReportedBy: cleanHeaderText(n.ReportedBy),
			RepliedBy:  cleanHeaderText(n.RepliedBy),

			AsOf:          inLoc(n.AsOf),
			Groups:        groups,
			BreachedCount: breached,
			AtRiskCount:   atRisk,

			Agent:      cleanHeaderText(n.Agent),
			Text:       text,
			Paragraphs: paragraphs(text),
			Changes:    changes,
			Status:     status,

			Server: cleanHeaderText(n.Server),
			Reason: cleanHeaderText(n.Reason),
			Part:   n.Part,
			Term:   n.Term,
			Used:   cleanHeaderText(n.Used),

			TicketURL: linkFor(spec.ticketLink, desk.ticketURL(ticket)),
			StatusURL: linkFor(spec.statusLink, n.StatusURL),
		},
	}, nil
}

// cleanBody makes text someone wrote (an agent's reply) safe to put in a
// body as written: valid UTF-8, LF line ends (a lone CR too), no control
// characters but tab, and no blank lines before or after. Trailing spaces
// stay (an RFC 3676 signature separator is "-- "). Unlike SafeText it keeps
// format characters: a desk's own people write this text, and joiners
// matter to emoji and some scripts; what someone outside wrote goes
// through SafeText as well (kindSpec.outsideText).
func cleanBody(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\r', r == '\u2028', r == '\u2029':
			return '\n'
		case r == '\n', r == '\t':
			return r
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	lines := strings.Split(s, "\n")
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

// paragraphs splits cleaned text into paragraphs of lines at blank lines.
func paragraphs(text string) [][]string {
	var out [][]string
	var cur []string
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "" {
			if cur != nil {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, l)
	}
	if cur != nil {
		out = append(out, cur)
	}
	return out
}

// cleanChanges flattens the changes' text onto one line and drops those
// without a field. status is the last new status, "" if none changed.
func cleanChanges(in []Change) (out []Change, status string) {
	for _, ch := range in {
		c := Change{
			Field:  strings.ToLower(cleanHeaderText(ch.Field)),
			Old:    cleanHeaderText(ch.Old),
			New:    cleanHeaderText(ch.New),
			Reason: cleanHeaderText(ch.Reason),
			Why:    cleanHeaderText(ch.Why),
		}
		if strings.EqualFold(c.Field, ChangePriority) || strings.EqualFold(c.Field, ChangeType) {
			// The plan's words where it has them (Change.OldLabel).
			c.Old = cmp.Or(cleanHeaderText(ch.OldLabel), c.Old)
			c.New = cmp.Or(cleanHeaderText(ch.NewLabel), c.New)
		}
		if c.Field == "" {
			continue
		}
		if c.Field == ChangeStatus && c.New != "" {
			status = c.New
		}
		out = append(out, c)
	}
	return out, status
}

// statusWords are the ticket statuses (ticket.Statuses) as a customer
// reads them; {{status .New}} writes them in the mail's language.
var statusWords = map[string]map[string]string{
	"nl": {
		"new":              "nieuw",
		"acknowledged":     "ontvangen",
		"in_progress":      "in behandeling",
		"waiting_customer": "wacht op uw reactie",
		"resolved":         "opgelost",
		"closed":           "gesloten",
	},
	"en": {
		"new":              "new",
		"acknowledged":     "acknowledged",
		"in_progress":      "in progress",
		"waiting_customer": "waiting for your reply",
		"resolved":         "resolved",
		"closed":           "closed",
	},
}

// statusText writes status s in words for lang; an unknown status as it
// is, with spaces for underscores.
// StatusText is a ticket status in lang's words, as the mails write it
// ("in behandeling"): the customers' pages say it the same.
func StatusText(lang, status string) string { return statusText(lang, status) }

func statusText(lang, s string) string {
	if w, ok := statusWords[lang][s]; ok {
		return w
	}
	return strings.ReplaceAll(s, "_", " ")
}

// groupDigest cleans items like the other outside text and groups them
// per customer: groups by customer name (case-insensitively; tickets
// without a customer last), in each group the breached tickets first, then
// by deadline (unknown last).
func groupDigest(items []DigestItem, loc *time.Location) (groups []digestGroup, breached, atRisk int) {
	index := map[string]int{}
	for _, it := range items {
		it.Ticket = cleanHeaderText(it.Ticket)
		it.Customer = cleanHeaderText(it.Customer)
		it.Subject = truncateRunes(cleanHeaderText(it.Subject), maxSubjectRunes)
		it.Priority = cleanHeaderText(cmp.Or(it.PriorityLabel, it.Priority))
		it.PriorityLabel = ""
		it.Target = cleanHeaderText(it.Target)
		it.ReportedBy = cleanHeaderText(it.ReportedBy)
		if !it.Deadline.IsZero() {
			it.Deadline = it.Deadline.In(loc)
		}
		if it.Breached {
			breached++
		} else {
			atRisk++
		}
		i, ok := index[it.Customer]
		if !ok {
			i = len(groups)
			index[it.Customer] = i
			groups = append(groups, digestGroup{Customer: it.Customer})
		}
		groups[i].Items = append(groups[i].Items, it)
	}
	slices.SortFunc(groups, func(a, b digestGroup) int {
		if (a.Customer == "") != (b.Customer == "") {
			return boolOrder(a.Customer != "", b.Customer != "")
		}
		return cmp.Or(cmp.Compare(strings.ToLower(a.Customer), strings.ToLower(b.Customer)), cmp.Compare(a.Customer, b.Customer))
	})
	for _, g := range groups {
		slices.SortStableFunc(g.Items, func(a, b DigestItem) int {
			return cmp.Or(
				boolOrder(a.Breached, b.Breached),
				boolOrder(!a.Deadline.IsZero(), !b.Deadline.IsZero()),
				a.Deadline.Compare(b.Deadline),
			)
		})
	}
	return groups, breached, atRisk
}

// boolOrder sorts true before false.
func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// linkFor is url when the kind links (on), else "".
func linkFor(on bool, url string) string {
	if !on || !strings.HasPrefix(url, "http") {
		return ""
	}
	return url
}

// humanBytes writes a size in decimal megabytes or kilobytes, as mail
// clients show attachment sizes.
func humanBytes(n int64) string {
	switch {
	case n >= 1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1000:
		return fmt.Sprintf("%d kB", n/1000)
	}
	return fmt.Sprintf("%d bytes", n)
}
