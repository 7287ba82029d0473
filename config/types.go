// Package config is maildesk's configuration: the YAML schema, its defaults,
// validation that names the offending field, secrets read from files and
// environment overrides. It reads files and nothing else.
package config

import (
	"crypto/rsa"
	"crypto/x509"
	"time"
)

// Config is one desk's configuration as loaded by Load.
type Config struct {
	Desk  Desk  `yaml:"desk"`
	Redis Redis `yaml:"redis"`
	IMAP  IMAP  `yaml:"imap"`
	SMTP  SMTP  `yaml:"smtp"`
	// OAuth2 is where the access tokens come from when imap.auth or
	// smtp.auth is "oauth2".
	OAuth2 OAuth2 `yaml:"oauth2"`
	// Alerts is who is told when the desk cannot reach its mail.
	Alerts Alerts `yaml:"alerts"`
	// Outbox is how outgoing mail is retried and limited.
	Outbox Outbox `yaml:"outbox"`
	// Escalation is when SLA warnings, breach alerts and digests go out.
	Escalation Escalation `yaml:"escalation"`
	HTTP       HTTP       `yaml:"http"`
	Log        Log        `yaml:"log"`
	// Plans are the support levels customers are on, by name. Without a
	// plans section there is one plan, "standard", with the defaults.
	Plans map[string]Plan `yaml:"plans"`
	// Calendars are the business calendars plans count SLA time in, by
	// name (config/sla.go).
	Calendars map[string]Calendar `yaml:"calendars"`
	// Authz is how senders are authorised.
	Authz Authz `yaml:"authz"`
	// Priority is how a mail asks for a priority or a request type.
	Priority Priority `yaml:"priority"`
	// Retention is how long tickets, Message-IDs and mails are kept.
	Retention Retention `yaml:"retention"`
	// ContactsFile is relative to the config file's directory; after Load it
	// is the resolved path.
	ContactsFile string `yaml:"contacts_file"`
	// ContactsFileGiven is contacts_file as written (or set by the
	// environment): what the problems of the file name it by.
	ContactsFileGiven string `yaml:"-"`

	// Customers is the content of ContactsFile, read and validated by
	// package authz (configload.Load does it after Load).
	Customers []Customer `yaml:"-"`
	// ContactsSHA256 is "sha256:<hex>" of the ContactsFile content that
	// Customers came from, for the import-if-changed rule.
	ContactsSHA256 string `yaml:"-"`
	// Path is the absolute path of the config file that was loaded; empty
	// after Parse.
	Path string `yaml:"-"`

	// where locates the config's fields in its file, for Reporter.
	where *Reporter
}

// Desk is the servicedesk itself: its identity and ticket numbering.
type Desk struct {
	ID           string `yaml:"id"`
	Name         string `yaml:"name"`
	Address      string `yaml:"address"`
	TicketPrefix string `yaml:"ticket_prefix" default:"SD"`
	Timezone     string `yaml:"timezone" default:"UTC"`
	Language     string `yaml:"language" default:"en"`
	// DefaultPriority is given to new tickets until plans and priority rules exist.
	DefaultPriority string `yaml:"default_priority" default:"P3"`
	// NoticeInterval is the least time between two rejection notices to one sender.
	NoticeInterval Duration `yaml:"notice_interval" default:"24h"`
	// BounceSuppression is how long no automatic mail goes to an address
	// after a mail the desk sent to it bounced.
	BounceSuppression Duration `yaml:"bounce_suppression" default:"72h"`
	// Agents work the tickets: they get SLA warnings, and their mail on a
	// ticket is an agent reply (with #commands).
	Agents []Person `yaml:"agents"`
	// AgentDomains: mail from any address at these domains is agent mail
	// too (the desk's own company); IDNA-normalised by Load. An address
	// that is a contact of a customer stays a contact.
	AgentDomains []string `yaml:"agent_domains"`
	// AgentMail is whether agents may answer and change tickets by mail:
	// "off" (the default: their mail is refused) or "authenticated" (acted
	// on when the desk's own MTA, one of authz.trusted_authserv_ids, found
	// the From domain authentic; required with it). Off by default: a
	// forged From line must not be able to close tickets and mail
	// customers from the desk address, so agents' mail is opted into.
	AgentMail string `yaml:"agent_mail" default:"off"`
	// ReopenDays: a customer's reply within this many days of a ticket
	// being resolved reopens it; later, or once closed, it starts a new
	// ticket linked to the old one. 0: never reopen.
	ReopenDays int `yaml:"reopen_days" default:"14"`
	// Managers get SLA warnings, breach alerts and the morning digest.
	Managers []Person `yaml:"managers"`
	// TemplatesDir holds templates that replace the embedded ones (same
	// file names); relative to the config file. Empty = embedded only.
	TemplatesDir string `yaml:"templates_dir"`

	// Location is Timezone loaded by Load.
	Location *time.Location `yaml:"-"`
}

// Redis holds the desk's data, under keys namespaced by Desk.ID. Exactly
// one of URL (one server), Cluster (a Redis Cluster) and Sentinel (a
// primary found through Redis Sentinel) says where; URL is the default.
type Redis struct {
	URL string `yaml:"url" default:"redis://127.0.0.1:6379/0"`
	// Cluster are host:port seed nodes of a Redis Cluster; the client
	// learns the other nodes and the slot map from them.
	Cluster []string `yaml:"cluster"`
	// Sentinel finds the primary through Redis Sentinel.
	Sentinel RedisSentinel `yaml:"sentinel"`
	// Username and Password authenticate to the Redis servers (the cluster
	// nodes, the primary and replicas behind Sentinel, or the server of URL
	// when its URL carries none). Password is given directly or, after
	// Load, read from PasswordFile as for IMAP; at most one of the two.
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// TLS connects to the cluster nodes, or to the sentinels and the
	// servers behind them, over TLS. With URL the scheme (rediss://)
	// decides instead.
	TLS bool `yaml:"tls"`
	// JournalCheckInterval is how often the daemon compares Redis with the
	// mailbox journal (the outcomes filed mail carries, the trace of sent
	// mail), besides at start and whenever its Redis server changes.
	JournalCheckInterval Duration `yaml:"journal_check_interval" default:"1m"`
}

// RedisSentinel is a primary monitored by Redis Sentinel.
type RedisSentinel struct {
	// Master is the name the sentinels know the primary by.
	Master string `yaml:"master"`
	// Addresses are host:port of the sentinels.
	Addresses []string `yaml:"addresses"`
	// Username and Password (or PasswordFile) authenticate to the
	// sentinels themselves, when they require it.
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// Mode is how the desk reaches Redis: "url", "cluster" or "sentinel".
func (r Redis) Mode() string {
	switch {
	case len(r.Cluster) > 0:
		return "cluster"
	case r.Sentinel.Master != "" || len(r.Sentinel.Addresses) > 0:
		return "sentinel"
	}
	return "url"
}

// IMAP is the mailbox the desk reads customer mail from.
type IMAP struct {
	Address string `yaml:"address"`
	// Security is none, starttls or tls; TLS unless told otherwise, so that
	// a forgotten setting does not send the mailbox password in clear text.
	Security      string `yaml:"security" default:"tls"`
	TLSSkipVerify bool   `yaml:"tls_skip_verify"`
	Username      string `yaml:"username"`
	// Auth is how the desk signs in: "password" or "oauth2" (a token from
	// the oauth2 section, over SASL XOAUTH2 or OAUTHBEARER).
	Auth string `yaml:"auth" default:"password"`
	// Password is set either directly or, after Load, from PasswordFile
	// (resolved against the config file's directory, trailing newline
	// dropped). With auth password exactly one of the two must be given.
	Password          string `yaml:"password"`
	PasswordFile      string `yaml:"password_file"`
	Mailbox           string `yaml:"mailbox" default:"INBOX"`
	ProcessedMailbox  string `yaml:"processed_mailbox" default:"Processed"`
	RejectedMailbox   string `yaml:"rejected_mailbox" default:"Rejected"`
	QuarantineMailbox string `yaml:"quarantine_mailbox" default:"Quarantine"`
	// SentMailbox keeps a copy of every mail the desk sent (the trace the
	// journal repairs a Redis that lost writes from).
	SentMailbox    string   `yaml:"sent_mailbox" default:"Sent"`
	PollInterval   Duration `yaml:"poll_interval" default:"30s"`
	CommandTimeout Duration `yaml:"command_timeout" default:"60s"`
	IdleRestart    Duration `yaml:"idle_restart" default:"25m"`
	CheckInterval  Duration `yaml:"check_interval" default:"30s"` // a waiting session is checked this often
	MaxMessageSize ByteSize `yaml:"max_message_size" default:"25MB"`
	BatchSize      int      `yaml:"batch_size" default:"100"`
	// Lease is how long one replica's claim on the mailbox lasts without
	// renewal: when the replica fetching from it dies, another takes over
	// within this time.
	Lease Duration `yaml:"lease" default:"15s"`
}

// SMTP is the server the desk sends its mail through.
type SMTP struct {
	Address       string `yaml:"address"`
	Security      string `yaml:"security" default:"starttls"` // none | starttls | tls
	TLSSkipVerify bool   `yaml:"tls_skip_verify"`
	// Username, Password and PasswordFile are optional: at most one of
	// Password and PasswordFile (read as for IMAP), and either needs Username.
	Username string `yaml:"username"`
	// Auth is "password" (with Username: PLAIN or LOGIN; without: none) or
	// "oauth2" (XOAUTH2 or OAUTHBEARER as Username, which is then required).
	Auth         string `yaml:"auth" default:"password"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// Timeout bounds connecting, signing in and each command; DataTimeout
	// the wait for the relay's answer to the end of a message, which RFC
	// 5321 4.5.3.2.6 lets take 10 minutes: giving up earlier is what makes
	// relays deliver a message twice.
	Timeout     Duration `yaml:"timeout" default:"30s"`
	DataTimeout Duration `yaml:"data_timeout" default:"10m"`
	// HELO is the name given in EHLO; defaults to the desk address's domain.
	HELO string `yaml:"helo"`
	// ReturnPath is the envelope sender of mail to contacts; defaults to
	// desk.address. Bounces to it must reach the desk's mailbox.
	ReturnPath string `yaml:"return_path"`
	// NoticeReturnPath: notices to unknown senders also use ReturnPath
	// instead of the null reverse-path (RFC 3834), for relays that refuse
	// MAIL FROM:<>.
	NoticeReturnPath bool `yaml:"notice_return_path"`
}

// OAuth2 is the authorization server the desk gets its IMAP and SMTP access
// tokens from, and the grant it holds there. Secrets are read from files by
// Load; the stored grant (a rotating refresh token) lives in Redis,
// encrypted with the key of TokenKeyFile.
type OAuth2 struct {
	Provider string `yaml:"provider"` // microsoft | google | generic
	// Grant: client_credentials, device_code, refresh_token or
	// service_account; which ones a provider allows is in OAuth2Grants.
	Grant    string `yaml:"grant"`
	Tenant   string `yaml:"tenant"`
	ClientID string `yaml:"client_id"`
	// ClientSecretFile holds the client secret; ClientSecret is its
	// content after Load.
	ClientSecretFile string `yaml:"client_secret_file"`
	// ClientSecretExpires is the secret's expiry (YYYY-MM-DD), which
	// nothing can read from the secret itself: warnings go out ahead of it.
	ClientSecretExpires string `yaml:"client_secret_expires"`
	// CertificateFile and PrivateKeyFile are a certificate credential
	// (Microsoft client assertion) instead of a secret.
	CertificateFile    string `yaml:"certificate_file"`
	PrivateKeyFile     string `yaml:"private_key_file"`
	ServiceAccountFile string `yaml:"service_account_file"`
	// TokenURL and DeviceAuthURL are required for the generic provider
	// and override the provider's endpoints otherwise.
	TokenURL      string   `yaml:"token_url"`
	DeviceAuthURL string   `yaml:"device_auth_url"`
	Scopes        []string `yaml:"scopes"`
	// RefreshTokenFile holds the first refresh token of the refresh_token
	// grant; once a grant is stored in Redis it is not read again.
	RefreshTokenFile string `yaml:"refresh_token_file"`
	// TokenKeyFile holds the 32-byte key (base64 or hex) that encrypts the
	// stored grant.
	TokenKeyFile string `yaml:"token_key_file"`
	Mechanism    string `yaml:"mechanism" default:"xoauth2"` // xoauth2 | oauthbearer

	// Read from the files by Load.
	ClientSecret    string    `yaml:"-"`
	RefreshToken    string    `yaml:"-"`
	TokenKey        []byte    `yaml:"-"`
	ServiceAccount  []byte    `yaml:"-"`
	SecretExpiresAt time.Time `yaml:"-"`
	// Certificate and PrivateKey are the certificate credential, parsed
	// and checked to belong together.
	Certificate *x509.Certificate `yaml:"-"`
	PrivateKey  *rsa.PrivateKey   `yaml:"-"`
}

// OAuth2Enabled reports whether any part of the desk signs in with OAuth2.
func (c *Config) OAuth2Enabled() bool {
	return c.IMAP.Auth == AuthOAuth2 || c.SMTP.Auth == AuthOAuth2
}

// The values of desk.agent_mail.
const (
	AgentMailOff           = "off"
	AgentMailAuthenticated = "authenticated"
)

// Sign-in methods of imap.auth and smtp.auth.
const (
	AuthPassword = "password"
	AuthOAuth2   = "oauth2"
)

// OAuth2 grants.
const (
	GrantClientCredentials = "client_credentials"
	GrantDeviceCode        = "device_code"
	GrantRefreshToken      = "refresh_token"
	GrantServiceAccount    = "service_account"
)

// OAuth2Grants are the grants each provider allows.
var OAuth2Grants = map[string][]string{
	"microsoft": {GrantClientCredentials, GrantDeviceCode, GrantRefreshToken},
	"google":    {GrantServiceAccount, GrantRefreshToken},
	"generic":   {GrantClientCredentials, GrantRefreshToken, GrantDeviceCode},
}

// Delegated reports whether the grant acts for a user through a refresh
// token, which must be kept (and rotates).
func (o OAuth2) Delegated() bool {
	return o.Grant == GrantRefreshToken || o.Grant == GrantDeviceCode
}

// Alerts says who is told, and after how long, when the desk cannot sign in
// to or connect to its mailbox or SMTP relay, and when a client secret or
// certificate is about to expire.
type Alerts struct {
	To []string `yaml:"to"`
	// After is long enough that a server restart or a token refresh does
	// not mail anyone, short enough that a desk is not deaf for a morning.
	After Duration `yaml:"after" default:"15m"`
}

// Outbox is how the desk's outgoing mail is retried and limited.
type Outbox struct {
	// Retry is the wait after the first temporary failure; it doubles per
	// attempt up to MaxBackoff. After MaxAge a failing mail is dead-lettered.
	Retry      Duration `yaml:"retry" default:"30s"`
	MaxBackoff Duration `yaml:"max_backoff" default:"1h"`
	MaxAge     Duration `yaml:"max_age" default:"48h"`
	// RecipientLimits cap automatic mail to one address; what exceeds them
	// is recorded as skipped, not sent.
	RecipientLimits []RateLimit `yaml:"recipient_limits"`
	// DeskLimits cap all automatic mail of the desk; what exceeds them
	// waits and is sent when there is room again.
	DeskLimits []RateLimit `yaml:"desk_limits"`
	// Workers is how many mails are sent at the same time, each over its
	// own connection.
	Workers int `yaml:"workers" default:"4"`
	// ResendUncertainAfter: a mail the relay never answered after it went
	// out in full (delivery uncertain) is sent once more this long after;
	// 0: only when an operator retries it. The default is long enough that
	// the mail has surely arrived when it was accepted (a bounce or the
	// recipient's answer would say so), short enough that a lost
	// acknowledgement or alert still matters.
	ResendUncertainAfter Duration `yaml:"resend_uncertain_after" default:"24h"`
}

// A person gets a handful of automatic mails in a busy hour; more than this
// is a loop or abuse. The desk cap protects the relay's reputation against
// anything the per-recipient limits do not catch.
var (
	defaultRecipientLimits = []RateLimit{{Max: 10, Per: Duration(10 * time.Minute)}, {Max: 30, Per: Duration(time.Hour)}}
	defaultDeskLimits      = []RateLimit{{Max: 1000, Per: Duration(time.Hour)}}
)

// Escalation configures the SLA alerts. Warnings go to desk.agents and
// desk.managers, breach alerts to desk.managers and the customer's
// managers, the digest to desk.managers.
type Escalation struct {
	// WarnAt is the share of the first-response target, in percent, after
	// which the desk is warned.
	WarnAt int `yaml:"warn_at" default:"75"`
	// Interval is how often due alerts are looked for.
	Interval Duration `yaml:"interval" default:"30s"`
	// LateAfter: an alert sent this long after its time (the daemon was
	// down) says that it is late.
	LateAfter Duration `yaml:"late_after" default:"5m"`
	// DigestTime is when the morning digest goes out, HH:MM in the desk's
	// time zone, Monday to Friday; "" for none.
	DigestTime string `yaml:"digest_time" default:"08:00"`
}

// RateLimit is at most Max mails per Per.
type RateLimit struct {
	Max int      `yaml:"max"`
	Per Duration `yaml:"per"`
}

// HTTP is the desk's own HTTP listener; an empty Listen turns it off.
type HTTP struct {
	Listen string `yaml:"listen" default:"127.0.0.1:8080"`
	// Tokens may use the agent API (/api/v1) and the dashboard. Without
	// tokens the API is open, which validation allows only on a loopback
	// Listen address.
	Tokens []HTTPToken `yaml:"tokens"`
	// PublicURL is where people reach this listener ("https://desk.example",
	// scheme and host only, behind whatever proxy): mails link to it, SLA
	// alerts to a ticket's page for agents, a customer's mails to their
	// ticket's status page. Empty: mails carry no links.
	PublicURL string `yaml:"public_url"`
	// StatusLinkExpiry is how long after a ticket is closed its status links
	// (and sign-in overviews) still show it. A month by default: long
	// enough to look up how a ticket ended, short enough that an old mail
	// stops being a key to it.
	StatusLinkExpiry Duration `yaml:"status_link_expiry" default:"720h"`
}

// HTTPToken is one bearer token of the HTTP API. Name is who acts: it is
// recorded in a ticket's history and shown to customers as the agent.
// Token is set either directly or, after Load, from TokenFile (resolved
// against the config file's directory, trailing newline dropped); exactly
// one of the two must be given.
type HTTPToken struct {
	Name      string `yaml:"name"`
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
}

// Log configures the daemon's logging.
type Log struct {
	Level  string `yaml:"level" default:"info"`  // debug | info | warn | error
	Format string `yaml:"format" default:"auto"` // auto | json | text
}

// DefaultPlan is the plan of a customer that names none, and the only plan
// of a config without a plans section.
const DefaultPlan = "standard"

// Plan is a support level (Kwikqy: standard, enhanced, premium; Oxineo: one
// contract), with its SLA calendar and targets.
type Plan struct {
	// MaxContacts caps the contacts per customer; 0 = no cap (Oxineo: 2).
	MaxContacts int `yaml:"max_contacts"`
	// CustomerSetsPriority: whether a customer may ask for a priority. When
	// false (Oxineo) the plan's DefaultPriority always applies.
	CustomerSetsPriority *bool `yaml:"customer_sets_priority"`
	// DefaultPriority is given when the mail asks for none; "" = desk's.
	DefaultPriority string `yaml:"default_priority"`
	// ContactMaxPriority caps what a contact without a max_priority of
	// its own may ask for: rights to urgent priorities become opt-in
	// (QiQQ: the customer names who may report at the special rates).
	ContactMaxPriority string `yaml:"contact_max_priority"`
	// Calendar names the calendar the plan's SLA time counts in; Targets
	// are per priority (P1..P4); Languages change either for tickets in one
	// language (config/sla.go). Without Calendar the plan has no SLA clock.
	Calendar  string                  `yaml:"calendar"`
	Targets   map[string]PlanTarget   `yaml:"targets"`
	Languages map[string]LanguageRule `yaml:"languages"`
	// PriorityLabels are the contract's words for the priorities, per
	// language and priority (QiQQ: nl: {P1: Direct, P2: Hoog, P3:
	// Standaard}); mails and the dashboard show them instead of "P1".
	PriorityLabels map[string]map[string]string `yaml:"priority_labels"`
	// AckStatesDeadline: whether the acknowledgement states the first-
	// response target's deadline; nil = true. False for best-effort
	// contracts (Oxineo).
	AckStatesDeadline *bool `yaml:"ack_states_deadline"`
	// Term is how customers' contract terms on this plan run: "" any
	// dates, TermMonthly from the first of a month to the last day of a
	// month (Oxineo: "begint altijd op de eerste dag van een maand en
	// eindigt op de laatste dag van een maand").
	Term string `yaml:"term"`
	// Types are the plan's support types by key (config/supporttype.go):
	// without them its tickets are incidents; feature_request is built in.
	// DefaultType is the type of a new mail's ticket, required with Types.
	Types       map[string]SupportType `yaml:"types"`
	DefaultType string                 `yaml:"default_type"`
	// Billing is how the plan's recorded time is priced and what its
	// customers pay each month (config/billing.go); nil: time is recorded
	// but not priced.
	Billing *Billing `yaml:"billing"`
	// StatusLink: the acknowledgement and progress mails of the plan's
	// tickets carry a link to the ticket's status page, and its contacts may
	// sign in to an overview of their tickets (when http.public_url is
	// set); nil = true. False for contracts that promise no portal.
	StatusLink *bool `yaml:"status_link"`
}

// StatusLinks reports StatusLink, true when unset.
func (p Plan) StatusLinks() bool { return p.StatusLink == nil || *p.StatusLink }

// StatesDeadline reports AckStatesDeadline, true when unset.
func (p Plan) StatesDeadline() bool { return p.AckStatesDeadline == nil || *p.AckStatesDeadline }

// PriorityLabel is the plan's word for priority in lang, "" when it has none.
func (p Plan) PriorityLabel(lang, priority string) string { return p.PriorityLabels[lang][priority] }

// PriorityLabel is the word customer c's plan (plans.<plan>.priority_labels)
// has for priority in lang, "" when it has none: the mail or page then
// shows the code. A customer without a plan, or one no longer in the
// directory (nil), is on DefaultPlan. Every mail and page that names a
// ticket's priority asks here, so that they all say the same.
func PriorityLabel(plans map[string]Plan, c *Customer, lang, priority string) string {
	if priority == "" {
		return ""
	}
	return plans[c.PlanName()].PriorityLabel(lang, priority)
}

// PlanName is the plan customer c is on: DefaultPlan for a customer
// without one, or no longer in the directory (nil).
func (c *Customer) PlanName() string {
	if c == nil || c.Plan == "" {
		return DefaultPlan
	}
	return c.Plan
}

// SetsPriority reports CustomerSetsPriority, true when unset.
func (p Plan) SetsPriority() bool { return p.CustomerSetsPriority == nil || *p.CustomerSetsPriority }

// Authz says how senders are authorised beyond the contact list.
type Authz struct {
	// RequireAuthentication: the From domain must pass DMARC (or aligned
	// DKIM/SPF) per the Authentication-Results of a trusted authserv-id.
	// Customers may override it.
	RequireAuthentication bool `yaml:"require_authentication"`
	// TrustedAuthservIDs are the authserv-ids of the desk's own MTAs whose
	// Authentication-Results header is believed; others are ignored.
	TrustedAuthservIDs []string `yaml:"trusted_authserv_ids"`
	// PlusAddressing: jan+x@acme.example counts as jan@acme.example.
	PlusAddressing bool `yaml:"plus_addressing"`
	// DomainNoticeInterval limits notices to one sender domain: at most
	// DomainNoticeLimit per interval.
	DomainNoticeInterval Duration `yaml:"domain_notice_interval" default:"1h"`
	DomainNoticeLimit    int      `yaml:"domain_notice_limit" default:"10"`
	// RejectionRetention is how long rejection audit records are kept; 90
	// days by default, long enough to answer "why did my mail not become a
	// ticket" about last quarter.
	RejectionRetention Duration `yaml:"rejection_retention" default:"2160h"`
}

// Priority configures how a requested priority and the request type are
// read from a mail.
type Priority struct {
	// Words per priority, matched case-insensitively as whole words in the
	// subject ("spoed", "urgent", "storing" for P1). [P1]..[P4] always work.
	Words map[string][]string `yaml:"words"`
	// FeatureWords mark a feature request ("[feature]", "functieverzoek").
	FeatureWords []string `yaml:"feature_words"`
}

// The priority words of a config without a priority section, in the
// languages the desks' customers write (Dutch and English).
var (
	defaultPriorityWords = map[string][]string{
		"P1": {"spoed", "urgent", "storing", "service blocker"},
		"P2": {"hoog", "high"},
	}
	defaultFeatureWords = []string{"[feature]", "feature request", "functieverzoek", "[functieverzoek]"}
)

// ContactsFile is the schema of the contacts file (contacts_file), which
// package authz reads and checks.
type ContactsFile struct {
	Customers []Customer `yaml:"customers"`
}

// ContactsCSVColumns are the columns of the contacts file's CSV form, one
// contact per row. customer and email are required; order is free.
var ContactsCSVColumns = []string{"customer", "customer_name", "plan", "email", "name", "main", "language", "max_priority", "receives_progress"}

// MainContact returns the customer's main contact, or nil: the one rule
// for who that is (validation allows at most one).
func (c *Customer) MainContact() *Contact {
	for i := range c.Contacts {
		if c.Contacts[i].Main {
			return &c.Contacts[i]
		}
	}
	return nil
}

// GetsProgress reports whether progress mails go to the contact: unless
// receives_progress is false (unset is true).
func (c *Contact) GetsProgress() bool {
	return c.ReceivesProgress == nil || *c.ReceivesProgress
}

// Customer is an entry of the contacts file. ID has the same form as Desk.ID.
type Customer struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	Plan string `yaml:"plan"`
	// Domains make any address at them known as this customer's. Such
	// senders are authorised only with AuthoriseDomains; otherwise they get
	// a notice naming the main contact.
	Domains          []string `yaml:"domains"`
	AuthoriseDomains bool     `yaml:"authorise_domains"`
	// RequireAuthentication overrides authz.require_authentication.
	RequireAuthentication *bool `yaml:"require_authentication"`
	// Managers are alerted about this customer's tickets (SLA breaches).
	Managers []Person `yaml:"managers"`
	// ProgressToAll: progress mails about any of the customer's tickets go
	// to all its contacts (Oxineo: both contact persons follow progress),
	// not only to the ticket's contact and participants.
	ProgressToAll bool      `yaml:"progress_to_all"`
	Contacts      []Contact `yaml:"contacts"`
	// ActiveFrom and ActiveUntil (YYYY-MM-DD, both days included, in the
	// desk's time zone) are the contract's term; Suspended, when set, is
	// why support is suspended now (Kwikqy 5.3: unpaid invoices). Outside
	// the term or while suspended, mail makes no ticket: the contact is
	// told why.
	ActiveFrom  string `yaml:"active_from"`
	ActiveUntil string `yaml:"active_until"`
	Suspended   string `yaml:"suspended"`
}

// TermMonthly is the plans.<plan>.term of contracts that run in whole
// months.
const TermMonthly = "monthly"

// The states of a customer's support at a moment (Customer.Term).
const (
	TermActive     = ""
	TermSuspended  = "suspended"   // Suspended is set: support is off until it is removed
	TermNotStarted = "not_started" // before ActiveFrom
	TermEnded      = "ended"       // after ActiveUntil
)

// Term reports the state of the customer's support at t (judged on t's
// date in loc, nil = UTC) and its detail: the suspension's reason, or the
// term's first or last day (YYYY-MM-DD).
func (c *Customer) Term(t time.Time, loc *time.Location) (state, detail string) {
	if c == nil {
		return TermActive, ""
	}
	if c.Suspended != "" {
		return TermSuspended, c.Suspended
	}
	if loc == nil {
		loc = time.UTC
	}
	day := t.In(loc).Format(time.DateOnly)
	switch {
	case c.ActiveFrom != "" && day < c.ActiveFrom:
		return TermNotStarted, c.ActiveFrom
	case c.ActiveUntil != "" && day > c.ActiveUntil:
		return TermEnded, c.ActiveUntil
	}
	return TermActive, ""
}

// Inactive reports whether the customer's support is off at t, and why,
// in English for logs and the rejections list; mails say it in the
// contact's language from Term.
func (c *Customer) Inactive(t time.Time, loc *time.Location) (bool, string) {
	switch state, detail := c.Term(t, loc); state {
	case TermSuspended:
		return true, "support is suspended: " + detail
	case TermNotStarted:
		return true, "the support contract starts on " + detail
	case TermEnded:
		return true, "the support contract ended on " + detail
	}
	return false, ""
}

// Person is a name and an address.
type Person struct {
	Email string `yaml:"email"`
	Name  string `yaml:"name"`
}

// Contact is someone allowed to open tickets for a customer. After Load,
// Email is in canonical form (address.Normalise) and unique across all
// customers, at most one contact per customer is Main and ReceivesProgress
// is set. An empty Language means Desk.Language.
type Contact struct {
	Email    string `yaml:"email"`
	Name     string `yaml:"name"`
	Main     bool   `yaml:"main"`
	Language string `yaml:"language"`
	// MaxPriority caps the priority this contact may ask for (QiQQ: only
	// some may report at the rates of high priorities); "" = no cap.
	MaxPriority string `yaml:"max_priority"`
	// ReceivesProgress: progress mails go to this contact; default true.
	ReceivesProgress *bool `yaml:"receives_progress"`
}

// KeyPrefix is the namespace of a desk's Redis keys. The desk id is a hash
// tag, so all keys of one desk share a Cluster slot (one script may touch
// them all) while different desks spread over the cluster.
func KeyPrefix(deskID string) string { return "md:{" + deskID + "}:" }
