package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/maildesk/maildesk/address"
)

var (
	// IDs namespace Redis keys, so nothing that has a meaning there (braces
	// select a cluster hash slot, colons separate key parts) or in a shell.
	idRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	prefixRE = regexp.MustCompile(`^[A-Z][A-Z0-9]{0,9}$`)
	// A host name or an address literal, as EHLO allows.
	heloRE = regexp.MustCompile(`^(\[[0-9A-Za-z:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$`)
	// An authserv-id as MTAs write it: a host name.
	hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)
)

// IDRule is what ValidID wants, for problems: "customers[0].id: " + IDRule.
const IDRule = "must be 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit"

// ValidID is the one rule for ids (desk, customers, plans, calendars).
func ValidID(s string) bool { return idRE.MatchString(s) }

func (l *loader) validate() {
	l.validateDesk()
	l.validateRedis()
	l.validateIMAP()
	l.validateSMTP()
	l.validateOAuth2()
	l.validateAlerts()
	l.validateOutbox()
	l.validateEscalation()
	l.validateHTTP()
	l.oneOf("log.level", l.cfg.Log.Level, "debug", "info", "warn", "error")
	l.oneOf("log.format", l.cfg.Log.Format, "auto", "json", "text")
	l.validatePlans()
	l.validateSLA()
	l.validateBilling()
	l.validateAuthz()
	l.validatePriority()
	l.validateRetention()
	// The file itself is authz's to read and check.
	if l.required("contacts_file", l.cfg.ContactsFile) {
		l.cfg.ContactsFileGiven = l.cfg.ContactsFile
		l.cfg.ContactsFile = l.resolvePath(l.cfg.ContactsFile)
	}
}

func (l *loader) validateDesk() {
	c, d := l.c, &l.cfg.Desk
	l.oneOf("desk.agent_mail", d.AgentMail, AgentMailOff, AgentMailAuthenticated)
	if d.AgentMail == AgentMailAuthenticated && len(l.cfg.Authz.TrustedAuthservIDs) == 0 {
		c.Add("desk.agent_mail", "authenticated needs authz.trusted_authserv_ids: the authserv-id your MTA writes in "+
			"Authentication-Results, so that a forged From line cannot pass for an agent")
	}
	if l.required("desk.id", d.ID) && !ValidID(d.ID) {
		c.Addf("desk.id", "%s (got %q)", IDRule, d.ID)
	}
	if l.required("desk.address", d.Address) {
		if err := address.CheckBare(d.Address); err != nil {
			c.Add("desk.address", err.Error())
		}
	}
	if !prefixRE.MatchString(d.TicketPrefix) {
		c.Addf("desk.ticket_prefix", "must be an upper-case letter followed by at most 9 upper-case letters or digits (got %q)", d.TicketPrefix)
	}
	switch {
	case d.Timezone == "":
		c.Add("desk.timezone", "must not be empty (e.g. Europe/Amsterdam or UTC)")
	case d.Timezone == "Local":
		// Local is whatever the host or container happens to have.
		c.Add("desk.timezone", "must name a time zone such as Europe/Amsterdam, not Local")
	default:
		loc, err := time.LoadLocation(d.Timezone)
		if err != nil {
			c.Addf("desk.timezone", "unknown time zone %q (want e.g. Europe/Amsterdam or UTC)", d.Timezone)
		} else {
			d.Location = loc
		}
	}
	l.oneOf("desk.language", d.Language, "nl", "en")
	l.oneOf("desk.default_priority", d.DefaultPriority, Priorities...)
	if d.NoticeInterval <= 0 {
		c.Addf("desk.notice_interval", "must be more than 0 (got %s)", d.NoticeInterval)
	}
	if d.BounceSuppression <= 0 {
		c.Addf("desk.bounce_suppression", "must be more than 0 (got %s)", d.BounceSuppression)
	}
	if d.ReopenDays < 0 {
		c.Addf("desk.reopen_days", "must be 0 (never reopen) or more (got %d)", d.ReopenDays)
	}
	for i, dom := range d.AgentDomains {
		p := fmt.Sprintf("desk.agent_domains[%d]", i)
		nd, err := address.NormaliseDomain(dom)
		switch {
		case err != nil:
			c.Addf(p, "must be a host name like desk.example (got %q: %v)", dom, err)
		case !strings.Contains(nd, "."):
			c.Addf(p, "must be a domain like desk.example (got %q)", dom)
		default:
			d.AgentDomains[i] = nd
		}
	}
	if d.TemplatesDir != "" {
		d.TemplatesDir = l.resolvePath(d.TemplatesDir)
		if fi, err := os.Stat(d.TemplatesDir); err != nil || !fi.IsDir() {
			c.Addf("desk.templates_dir", "must be a directory (%s)", statReason(d.TemplatesDir, err))
		}
	}
}

func (l *loader) validateRedis() {
	c, r := l.c, &l.cfg.Redis
	// Which way of reaching Redis the file and the environment give. The
	// URL has a default, which counts only when neither of the others is
	// given.
	var given []string
	describe := func(path string) string {
		if name, ok := c.env[path]; ok {
			return path + " (env " + name + ")"
		}
		return path
	}
	urlGiven := c.Set("redis.url")
	if urlGiven {
		given = append(given, describe("redis.url"))
	}
	if c.Set("redis.cluster") {
		given = append(given, describe("redis.cluster"))
	}
	sentinelGiven := c.Set("redis.sentinel")
	for _, leaf := range []string{"master", "username", "password", "password_file"} {
		if _, env := c.env["redis.sentinel."+leaf]; env {
			sentinelGiven = true
		}
	}
	if sentinelGiven {
		given = append(given, describe("redis.sentinel"))
	}
	if len(given) > 1 {
		c.Addf("redis", "set only one of redis.url (one server), redis.cluster and redis.sentinel (got %s)", strings.Join(given, " and "))
	}
	if !urlGiven && (c.Set("redis.cluster") || sentinelGiven) {
		r.URL = ""
	}

	l.redisSecret("redis", &r.Password, &r.PasswordFile)
	l.atLeast("redis.journal_check_interval", r.JournalCheckInterval, 5*time.Second)
	switch {
	case c.Set("redis.cluster"):
		l.redisAddresses("redis.cluster", r.Cluster, "a cluster node")
	case sentinelGiven:
		s := &r.Sentinel
		if l.required("redis.sentinel.master", s.Master) && strings.ContainsAny(s.Master, " \t\r\n") {
			c.Addf("redis.sentinel.master", "must be the master name the sentinels monitor, without spaces (got %q)", s.Master)
		}
		l.redisAddresses("redis.sentinel.addresses", s.Addresses, "a sentinel")
		l.redisSecret("redis.sentinel", &s.Password, &s.PasswordFile)
	default:
		l.validateRedisURL()
	}
}

// validateRedisURL checks redis.url, the one-server form, and that the
// settings meant for the other forms do not clash with it.
func (l *loader) validateRedisURL() {
	c, r := l.c, &l.cfg.Redis
	if !l.required("redis.url", r.URL) {
		return
	}
	// Error texts from net/url quote the URL, password and all; keep them
	// out of problems, which end up in logs.
	u, err := url.Parse(r.URL)
	if err != nil {
		c.Add("redis.url", "is not a valid URL (want e.g. redis://127.0.0.1:6379/0)")
		return
	}
	switch u.Scheme {
	case "redis", "rediss":
		if u.Host == "" {
			c.Add("redis.url", "has no host (want e.g. redis://127.0.0.1:6379/0)")
		}
	case "unix":
		if u.Path == "" {
			c.Add("redis.url", "has no socket path (want e.g. unix:///run/redis.sock)")
		}
	default:
		c.Addf("redis.url", "scheme must be one of redis, rediss, unix (got %q)", u.Scheme)
	}
	if r.TLS {
		c.Add("redis.tls", "is for redis.cluster and redis.sentinel; with redis.url use the rediss:// scheme")
	}
	if u.User != nil {
		if _, has := u.User.Password(); has && r.Password != "" {
			path := "redis.password"
			if r.PasswordFile != "" {
				path = "redis.password_file"
			}
			c.Add(path, "redis.url has a password already; give it in one place")
		}
		if u.User.Username() != "" && r.Username != "" {
			c.Add("redis.username", "redis.url has a user name already; give it in one place")
		}
	}
}

// redisAddresses checks a list of host:port that must not be empty.
func (l *loader) redisAddresses(path string, addrs []string, what string) {
	if len(addrs) == 0 {
		l.c.Addf(path, "must list at least one host:port of %s", what)
		return
	}
	seen := map[string]int{}
	for i, a := range addrs {
		p := fmt.Sprintf("%s[%d]", path, i)
		if j, dup := seen[strings.ToLower(a)]; dup {
			l.c.Addf(p, "is listed twice (also %s[%d])", path, j)
			continue
		}
		seen[strings.ToLower(a)] = i
		l.hostPort(p, a, false)
	}
}

// redisSecret checks the password and password_file under path and reads
// the password file.
func (l *loader) redisSecret(path string, password, file *string) {
	if *password != "" && *file != "" {
		l.c.Add(path+".password_file", "set either password or password_file, not both")
		return
	}
	l.readSecret(path+".password_file", file, password)
}

func (l *loader) validateIMAP() {
	c, m := l.c, &l.cfg.IMAP
	if l.required("imap.address", m.Address) {
		l.hostPort("imap.address", m.Address, false)
	}
	l.oneOf("imap.security", m.Security, "none", "starttls", "tls")
	l.required("imap.username", m.Username)
	l.oneOf("imap.auth", m.Auth, AuthPassword, AuthOAuth2)
	switch {
	case m.Auth == AuthOAuth2:
		if m.Password != "" || m.PasswordFile != "" {
			c.Add("imap.password", "must not be set with auth oauth2 (the token comes from the oauth2 section)")
		}
	case m.Password != "" && m.PasswordFile != "":
		c.Add("imap.password_file", "set either password or password_file, not both")
	case m.Password == "" && m.PasswordFile == "":
		c.Add("imap.password", "is required (or password_file), or set imap.auth to oauth2")
	default:
		l.readSecret("imap.password_file", &m.PasswordFile, &m.Password)
	}

	boxes := []struct{ path, name string }{
		{"imap.mailbox", m.Mailbox},
		{"imap.processed_mailbox", m.ProcessedMailbox},
		{"imap.rejected_mailbox", m.RejectedMailbox},
		{"imap.quarantine_mailbox", m.QuarantineMailbox},
		{"imap.sent_mailbox", m.SentMailbox},
	}
	for i, b := range boxes {
		if b.name == "" {
			c.Add(b.path, "must not be empty")
			continue
		}
		// Case-insensitively: INBOX is case-insensitive by RFC 3501, and
		// mailboxes differing only in case are a trap on some servers.
		for _, prev := range boxes[:i] {
			if strings.EqualFold(b.name, prev.name) {
				c.Addf(b.path, "is the same mailbox as %s (%q)", prev.path, prev.name)
				break
			}
		}
	}

	l.atLeast("imap.poll_interval", m.PollInterval, time.Second)
	l.atLeast("imap.command_timeout", m.CommandTimeout, time.Second)
	// RFC 2177: servers may log an idle client out after 30 minutes.
	if l := m.Lease.D(); l < 3*time.Second || l > 10*time.Minute {
		c.Addf("imap.lease", "must be between 3s and 10m (got %s)", m.Lease)
	}
	if r := m.IdleRestart.D(); r < time.Minute || r > 29*time.Minute {
		c.Addf("imap.idle_restart", "must be between 1m and 29m (got %s)", m.IdleRestart)
	}
	// Longer would let a dead session hold the mail for minutes unnoticed.
	if ci := m.CheckInterval.D(); ci < time.Second || ci > 5*time.Minute {
		c.Addf("imap.check_interval", "must be between 1s and 5m (got %s)", m.CheckInterval)
	}
	if m.MaxMessageSize < 1000 {
		c.Addf("imap.max_message_size", "must be at least 1KB (got %s)", m.MaxMessageSize)
	}
	if m.BatchSize < 1 || m.BatchSize > 10000 {
		c.Addf("imap.batch_size", "must be between 1 and 10000 (got %d)", m.BatchSize)
	}
}

func (l *loader) validateSMTP() {
	c, s := l.c, &l.cfg.SMTP
	if l.required("smtp.address", s.Address) {
		l.hostPort("smtp.address", s.Address, false)
	}
	l.oneOf("smtp.security", s.Security, "none", "starttls", "tls")
	l.oneOf("smtp.auth", s.Auth, AuthPassword, AuthOAuth2)
	if s.Auth == AuthOAuth2 {
		l.required("smtp.username", s.Username)
		if s.Password != "" || s.PasswordFile != "" {
			c.Add("smtp.password", "must not be set with auth oauth2 (the token comes from the oauth2 section)")
		}
	} else if s.Password != "" && s.PasswordFile != "" {
		c.Add("smtp.password_file", "set either password or password_file, not both")
	} else {
		l.readSecret("smtp.password_file", &s.PasswordFile, &s.Password)
		if s.Password != "" && s.Username == "" {
			c.Add("smtp.username", "is required when a password is set")
		}
	}
	l.atLeast("smtp.timeout", s.Timeout, time.Second)
	l.atLeast("smtp.data_timeout", s.DataTimeout, time.Second)
	// An empty HELO can only come from a desk.address that is already
	// reported, unless it was set explicitly.
	if (s.HELO != "" || l.c.Set("smtp.helo")) && !heloRE.MatchString(s.HELO) {
		c.Addf("smtp.helo", "must be a host name or an address literal like [192.0.2.1] (got %q)", s.HELO)
	}
	if s.ReturnPath != "" {
		if err := address.CheckBare(s.ReturnPath); err != nil {
			c.Add("smtp.return_path", err.Error())
		}
	}
}

func (l *loader) validateEscalation() {
	c, e := l.c, &l.cfg.Escalation
	if e.WarnAt < 1 || e.WarnAt > 99 {
		c.Addf("escalation.warn_at", "must be a percentage from 1 to 99 (got %d)", e.WarnAt)
	}
	l.atLeast("escalation.interval", e.Interval, time.Second)
	l.atLeast("escalation.late_after", e.LateAfter, time.Second)
	if e.DigestTime != "" {
		t, err := time.Parse("15:04", e.DigestTime)
		switch {
		case err != nil:
			c.Addf("escalation.digest_time", "must be a time like 08:00, or \"\" for no digest (got %q)", e.DigestTime)
		case t.Hour() == 2:
			c.Addf("escalation.digest_time", "must not be between 02:00 and 03:00, which daylight saving skips or doubles (got %q)", e.DigestTime)
		}
	}
	for name, ps := range map[string][]Person{"desk.agents": l.cfg.Desk.Agents, "desk.managers": l.cfg.Desk.Managers} {
		for i, p := range ps {
			if err := address.CheckBare(p.Email); err != nil {
				c.Add(fmt.Sprintf("%s[%d].email", name, i), err.Error())
			}
		}
	}
}

func (l *loader) validateOutbox() {
	c, o := l.c, &l.cfg.Outbox
	l.atLeast("outbox.retry", o.Retry, time.Second)
	if o.MaxBackoff < o.Retry {
		c.Addf("outbox.max_backoff", "must be at least outbox.retry (%s) (got %s)", o.Retry, o.MaxBackoff)
	}
	if o.MaxAge < o.Retry {
		c.Addf("outbox.max_age", "must be at least outbox.retry (%s) (got %s)", o.Retry, o.MaxAge)
	}
	if o.Workers < 1 || o.Workers > 64 {
		c.Addf("outbox.workers", "must be between 1 and 64 (got %d)", o.Workers)
	}
	if o.ResendUncertainAfter != 0 {
		l.atLeast("outbox.resend_uncertain_after", o.ResendUncertainAfter, time.Second)
	}
	for name, limits := range map[string][]RateLimit{"outbox.recipient_limits": o.RecipientLimits, "outbox.desk_limits": o.DeskLimits} {
		for i, r := range limits {
			path := fmt.Sprintf("%s[%d]", name, i)
			if r.Max < 1 {
				c.Addf(path+".max", "must be at least 1 (got %d)", r.Max)
			}
			l.atLeast(path+".per", r.Per, time.Second)
		}
	}
}

// readSecret replaces *password with the content of *file, if a file is
// given, and resolves *file against the config's directory.
func (l *loader) readSecret(path string, file, password *string) {
	if *file == "" {
		return
	}
	*file = l.resolvePath(*file)
	if l.need&secretsOf(path) == 0 {
		return // this command does not use it
	}
	data, err := l.read(*file, maxSecretSize)
	if err != nil {
		l.c.Addf(path, "cannot read: %v", err)
		return
	}
	// Files written by `echo` or editors end in a newline that is not part
	// of the password.
	pw := strings.TrimRight(string(data), "\r\n")
	if pw == "" {
		l.c.Addf(path, "%s is empty", *file)
		return
	}
	*password = pw
}

func (l *loader) required(path, v string) bool {
	if v == "" {
		l.c.Add(path, "is required")
		return false
	}
	return true
}

func (l *loader) oneOf(path, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	l.c.Addf(path, "must be one of %s (got %q)", strings.Join(allowed, ", "), v)
}

func (l *loader) atLeast(path string, d Duration, least time.Duration) {
	if d.D() < least {
		l.c.Addf(path, "must be at least %s (got %s)", least, d)
	}
}

// hostPort checks a host:port. A listen address may leave out the host (all
// interfaces) and use port 0 (any free port); an address to dial may not.
func (l *loader) hostPort(path, v string, listen bool) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		l.c.Addf(path, "must be host:port, e.g. 127.0.0.1:143 (got %q)", v)
		return
	}
	n, err := strconv.ParseUint(port, 10, 16)
	switch {
	case err != nil:
		l.c.Addf(path, "port must be a number from 1 to 65535 (got %q)", port)
	case n == 0 && !listen:
		l.c.Add(path, "port must be a number from 1 to 65535 (got 0)")
	case host == "" && !listen:
		l.c.Addf(path, "host is missing (got %q)", v)
	}
}

func (l *loader) validatePlans() {
	names := make([]string, 0, len(l.cfg.Plans))
	for name := range l.cfg.Plans {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p, path := l.cfg.Plans[name], "plans."+name
		if !ValidID(name) {
			l.c.Addf(path, "plan name %s (got %q)", IDRule, name)
		}
		if p.MaxContacts < 0 {
			l.c.Addf(path+".max_contacts", "must be 0 (no limit) or more (got %d)", p.MaxContacts)
		}
		if !ValidPriority(p.DefaultPriority) {
			l.c.Addf(path+".default_priority", "must be empty or one of %s (got %q)", PriorityList(), p.DefaultPriority)
		}
		if !ValidPriority(p.ContactMaxPriority) {
			l.c.Addf(path+".contact_max_priority", "must be empty or one of %s (got %q)", PriorityList(), p.ContactMaxPriority)
		}
		if p.Term != "" && p.Term != TermMonthly {
			l.c.Addf(path+".term", "must be empty (any dates) or %s (got %q)", TermMonthly, p.Term)
		}
		l.validateTypes(path, p)
		for _, lang := range sortedKeys(p.PriorityLabels) {
			lpath := path + ".priority_labels." + lang
			if lang != "nl" && lang != "en" {
				l.c.Addf(lpath, "language must be nl or en (got %q)", lang)
				continue
			}
			for _, pr := range sortedKeys(p.PriorityLabels[lang]) {
				if pr == "" || !ValidPriority(pr) {
					l.c.Addf(lpath+"."+pr, "priority must be one of %s (got %q)", PriorityList(), pr)
				} else if strings.TrimSpace(p.PriorityLabels[lang][pr]) == "" {
					l.c.Add(lpath+"."+pr, "label must not be empty")
				}
			}
		}
	}
}

func (l *loader) validateAuthz() {
	c, a := l.c, &l.cfg.Authz
	if a.DomainNoticeInterval <= 0 {
		c.Addf("authz.domain_notice_interval", "must be more than 0 (got %s)", a.DomainNoticeInterval)
	}
	if a.DomainNoticeLimit < 1 {
		c.Addf("authz.domain_notice_limit", "must be at least 1 (got %d)", a.DomainNoticeLimit)
	}
	if a.RejectionRetention <= 0 {
		c.Addf("authz.rejection_retention", "must be more than 0 (got %s)", a.RejectionRetention)
	}
	for i, id := range a.TrustedAuthservIDs {
		if !hostRE.MatchString(id) {
			c.Addf(fmt.Sprintf("authz.trusted_authserv_ids[%d]", i), "must be the authserv-id your MTA writes, a host name like mx.desk.example (got %q)", id)
		}
	}
	if a.RequireAuthentication && len(a.TrustedAuthservIDs) == 0 {
		c.Add("authz.require_authentication", "needs at least one authz.trusted_authserv_ids entry: without one no mail can pass")
	}
}

func (l *loader) validatePriority() {
	c, p := l.c, &l.cfg.Priority
	keys := make([]string, 0, len(p.Words))
	for k := range p.Words {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := "priority.words." + k
		if k == "" || !ValidPriority(k) {
			c.Addf(path, "must be one of %s (got %q)", PriorityList(), k)
			continue
		}
		for i, w := range p.Words[k] {
			if strings.TrimSpace(w) == "" {
				c.Add(fmt.Sprintf("%s[%d]", path, i), "must not be empty")
			}
		}
	}
	for i, w := range p.FeatureWords {
		if strings.TrimSpace(w) == "" {
			c.Add(fmt.Sprintf("priority.feature_words[%d]", i), "must not be empty")
		}
	}
}

func statReason(path string, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return path + " does not exist"
	case err != nil:
		return err.Error()
	}
	return path + " is a file"
}

// secretsOf is the section a secret's key path belongs to.
func secretsOf(path string) Secrets {
	section, _, _ := strings.Cut(path, ".")
	switch section {
	case "imap":
		return SecretsIMAP
	case "smtp":
		return SecretsSMTP
	case "redis":
		return SecretsRedis
	case "oauth2":
		return SecretsOAuth2
	case "http":
		return SecretsHTTP
	}
	return AllSecrets
}
