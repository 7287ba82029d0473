package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/alarm"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/signin"
)

// expiryWarnDays are when auth status starts to warn about an expiring
// credential (the alarm mails go out at 30, 7 and 1 days too).
const expiryWarnDays = 30

var authCommand = &command{name: "auth", subs: []*command{
	{name: "login", flags: "--config FILE",
		summary: "OAuth2 device_code: sign in (prints a URL and a code) and store the grant;\nrefresh_token: store oauth2.refresh_token_file's token anew", run: withSub("login", cmdAuth)},
	{name: "status", flags: "--config FILE [--json]",
		summary: "sign-in method, account, grant, token and credential expiry, last sign-ins", run: withSub("status", cmdAuth)},
}}

// cmdAuth signs the desk in (auth login) and shows its sign-in (auth status).
func cmdAuth(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("auth " + sub)
	var asJSON *bool
	if sub == "status" {
		asJSON = fs.Bool("json", false, "print JSON")
	}
	if err := parseFlags(fs, path, args); err != nil {
		return err
	}
	if len(fs.Args()) != 0 {
		return fmt.Errorf("%w: auth %s takes no arguments", errUsage, sub)
	}
	cfg, rdb, err := openDeskWith(ctx, *path, config.SecretsOAuth2)
	if err != nil {
		return err
	}
	defer rdb.Close()
	var src *signin.Source
	if cfg.OAuth2Enabled() {
		src, err = signin.New(cfg.OAuth2, signin.Options{Redis: rdb, KeyPrefix: config.KeyPrefix(cfg.Desk.ID)})
		if err != nil {
			return err
		}
	}
	if sub == "login" {
		if src == nil {
			return fmt.Errorf("desk %s signs in with a password: set imap.auth or smtp.auth to oauth2 first", cfg.Desk.ID)
		}
		g, err := src.Login(ctx, stdout)
		if err != nil {
			return fmt.Errorf("signing in desk %s: %w", cfg.Desk.ID, err)
		}
		fmt.Fprintf(stdout, "Signed in: the grant is stored (encrypted) in Redis for desk %s; running replicas use it from their next token refresh.\n", cfg.Desk.ID)
		if !g.Expiry.IsZero() {
			fmt.Fprintf(stdout, "Access token valid until %s.\n", g.Expiry.In(cfg.Desk.Location).Format(time.RFC3339))
		}
		return nil
	}
	st := authStatusOf(ctx, cfg, src, rdb, time.Now())
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printAuthStatus(stdout, st, cfg.Desk.Location)
	return nil
}

// authStatus is what auth status reports of one desk.
type authStatus struct {
	Desk string       `json:"desk"`
	IMAP authEndpoint `json:"imap"`
	SMTP authEndpoint `json:"smtp"`
	// The OAuth2 side, when one of the two uses it.
	Provider  string `json:"provider,omitempty"`
	Grant     string `json:"grant,omitempty"`
	Mechanism string `json:"mechanism,omitempty"`
	// AccessExpiry: of the stored access token (delegated grants) or of
	// one requested now (app grants); TokenError: why none could be had.
	AccessExpiry time.Time `json:"access_token_expiry,omitzero"`
	TokenError   string    `json:"token_error,omitempty"`
	// RefreshIssued is when the stored refresh token was obtained.
	RefreshIssued time.Time `json:"refresh_token_issued,omitzero"`
	GrantOrigin   string    `json:"grant_origin,omitempty"`
	// CredentialExpiry: of the client secret (as configured) or the
	// certificate; Warning is set from 30 days ahead.
	Credential       string    `json:"credential,omitempty"`
	CredentialExpiry time.Time `json:"credential_expiry,omitzero"`
	Warnings         []string  `json:"warnings,omitempty"`
}

type authEndpoint struct {
	Method  string    `json:"method"` // password | oauth2 | none
	Account string    `json:"account,omitempty"`
	Server  string    `json:"server"`
	LastOK  time.Time `json:"last_sign_in,omitzero"`
	Alarm   time.Time `json:"alarm_since,omitzero"`
}

func authStatusOf(ctx context.Context, cfg *config.Config, src *signin.Source, rdb redis.UniversalClient, now time.Time) authStatus {
	prefix := config.KeyPrefix(cfg.Desk.ID)
	st := authStatus{Desk: cfg.Desk.ID}
	endpoint := func(part, method, account, server string) authEndpoint {
		e := authEndpoint{Method: method, Account: account, Server: server}
		if method == config.AuthPassword && account == "" {
			e.Method = "none"
		}
		var err error
		if e.LastOK, err = alarm.LastOK(ctx, rdb, prefix, part); err != nil {
			st.Warnings = append(st.Warnings, fmt.Sprintf("reading the last %s sign-in: %v", part, err))
		}
		if e.Alarm, err = alarm.Raised(ctx, rdb, prefix, part); err == nil && !e.Alarm.IsZero() {
			st.Warnings = append(st.Warnings, fmt.Sprintf("%s alarm raised: failing since %s", part, e.Alarm.In(cfg.Desk.Location).Format(time.RFC3339)))
		}
		return e
	}
	st.IMAP = endpoint(alarm.IMAP, cfg.IMAP.Auth, cfg.IMAP.Username, cfg.IMAP.Address)
	st.SMTP = endpoint(alarm.SMTP, cfg.SMTP.Auth, cfg.SMTP.Username, cfg.SMTP.Address)
	if src == nil {
		return st
	}
	o := cfg.OAuth2
	st.Provider, st.Grant, st.Mechanism = o.Provider, o.Grant, o.Mechanism
	if o.Delegated() {
		g, err := src.StoredGrant(ctx)
		switch {
		case errors.Is(err, signin.ErrNoGrant):
			st.TokenError = "no grant stored: run maildesk auth login --config FILE"
			if o.Grant == config.GrantRefreshToken {
				st.TokenError = "no grant stored yet: the daemon stores oauth2.refresh_token_file's token at its first sign-in (or run maildesk auth login)"
			}
		case err != nil:
			st.TokenError = err.Error()
		default:
			st.AccessExpiry, st.RefreshIssued, st.GrantOrigin = g.Expiry, g.RefreshIssued, g.Origin
		}
	} else {
		// App grants hold nothing to show: asking for a token proves the
		// credential works, and changes nothing.
		subject := cfg.IMAP.Username
		if cfg.IMAP.Auth != config.AuthOAuth2 {
			subject = cfg.SMTP.Username
		}
		if _, err := src.Token(ctx, subject); err != nil {
			st.TokenError = err.Error()
		} else {
			st.AccessExpiry = src.Expiry(subject)
		}
	}
	st.CredentialExpiry, st.Credential = signin.CredentialExpiry(o)
	if !st.CredentialExpiry.IsZero() {
		if left := st.CredentialExpiry.Sub(now); left <= 0 {
			st.Warnings = append(st.Warnings, fmt.Sprintf("the %s expired on %s", st.Credential, st.CredentialExpiry.Format(time.DateOnly)))
		} else if left <= expiryWarnDays*24*time.Hour {
			st.Warnings = append(st.Warnings, fmt.Sprintf("the %s expires in %d days (%s)", st.Credential, int(left.Hours()/24), st.CredentialExpiry.Format(time.DateOnly)))
		}
	}
	return st
}

func printAuthStatus(w io.Writer, st authStatus, loc *time.Location) {
	when := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.In(loc).Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "desk\t%s\n", st.Desk)
	for _, e := range []struct {
		name string
		authEndpoint
	}{{"imap", st.IMAP}, {"smtp", st.SMTP}} {
		fmt.Fprintf(tw, "%s\t%s %s as %s, last sign-in %s\n", e.name, e.Method, e.Server, orDash(e.Account), when(e.LastOK))
	}
	if st.Grant != "" {
		fmt.Fprintf(tw, "oauth2\t%s %s (%s)\n", st.Provider, st.Grant, st.Mechanism)
		if st.TokenError != "" {
			fmt.Fprintf(tw, "access token\tNONE: %s\n", st.TokenError)
		} else {
			fmt.Fprintf(tw, "access token\texpires %s\n", when(st.AccessExpiry))
		}
		if !st.RefreshIssued.IsZero() {
			fmt.Fprintf(tw, "refresh token\tobtained %s (%s old, from %s)\n", when(st.RefreshIssued),
				time.Since(st.RefreshIssued).Round(time.Minute), st.GrantOrigin)
		}
		if st.Credential != "" {
			fmt.Fprintf(tw, "%s\texpires %s\n", st.Credential, when(st.CredentialExpiry))
		}
	}
	for _, warn := range st.Warnings {
		fmt.Fprintf(tw, "WARNING\t%s\n", warn)
	}
	tw.Flush()
}
