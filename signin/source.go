// Package signin is how the desk signs in to its mail servers with OAuth2:
// access tokens from the configured authorization server (by
// golang.org/x/oauth2), the grant kept in Redis and rotated there, and the
// SASL mechanisms (XOAUTH2, OAUTHBEARER) that carry a token to IMAP and
// SMTP. No secret or token leaves this package except in the SASL exchange.
package signin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/bsm/redislock"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/microsoft"

	"github.com/maildesk/maildesk/config"
)

// Default scopes by provider and kind of grant.
var (
	microsoftAppScopes       = []string{"https://outlook.office365.com/.default"}
	microsoftDelegatedScopes = []string{
		"https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send", "offline_access",
	}
	googleScopes = []string{"https://mail.google.com/"}
)

// earlyRefresh is how long before its expiry a token is replaced: at most
// this, and at most a quarter of its lifetime (short-lived test tokens).
const earlyRefresh = 5 * time.Minute

// requestTimeout bounds one token request: x/oauth2 has none of its own.
const requestTimeout = 30 * time.Second

// Source hands out access tokens for one desk's oauth2 section. It is safe
// for concurrent use by the IMAP watcher and the SMTP sender.
type Source struct {
	cfg    config.OAuth2
	oauth  *oauth2.Config // delegated grants
	grants *grantStore    // delegated grants
	locks  *redislock.Client
	lock   string
	log    *slog.Logger
	now    func() time.Time
	client *http.Client

	// fetching holds one token fetch at a time (capacity 1), so that IMAP
	// and SMTP do not both refresh; waiting for it honours the caller's ctx.
	fetching chan struct{}

	mu sync.Mutex
	// tokens are the access tokens in hand, by subject ("" unless the
	// grant makes one per mailbox: service_account).
	tokens map[string]*held
	// pending is a rotated grant that could not be stored: it holds the
	// only copy of the new refresh token, so it is stored before anything
	// else is refreshed.
	pending *Grant
}

type held struct {
	tok    *oauth2.Token
	issued time.Time
	// bad: the server refused it; never hand it out again.
	bad bool
}

// Options are what New needs besides the config.
type Options struct {
	// Redis and KeyPrefix keep delegated grants (config.KeyPrefix).
	Redis     redis.UniversalClient
	KeyPrefix string
	// Log is where sign-ins are logged; nil: slog.Default().
	Log *slog.Logger
	// Now is the clock of the tokens' lifetimes; nil: time.Now.
	Now func() time.Time
	// HTTPClient makes the token requests; a zero Timeout becomes 30 s.
	HTTPClient *http.Client
}

// New returns the token source of cfg, which config.Load has validated.
func New(cfg config.OAuth2, o Options) (*Source, error) {
	s := &Source{cfg: cfg, log: o.Log, now: o.Now, client: o.HTTPClient, tokens: map[string]*held{}, fetching: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: requestTimeout}
	} else if s.client.Timeout == 0 {
		// A refresh must end well within the grant lock's lifetime.
		c := *s.client
		c.Timeout = requestTimeout
		s.client = &c
	}
	if cfg.Delegated() {
		if o.Redis == nil {
			return nil, errors.New("signin: a delegated grant needs Redis to keep its refresh token")
		}
		gs, err := newGrantStore(o.Redis, o.KeyPrefix+"oauth2:grant", cfg.TokenKey)
		if err != nil {
			return nil, err
		}
		s.grants = gs
		s.locks = redislock.New(o.Redis)
		s.lock = o.KeyPrefix + "oauth2:grant:lock"
		s.oauth = &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: s.endpoint(), Scopes: s.scopes()}
	}
	return s, nil
}

// endpoint is the provider's, with the configured URLs in its place.
func (s *Source) endpoint() oauth2.Endpoint {
	var e oauth2.Endpoint
	switch s.cfg.Provider {
	case "microsoft":
		e = microsoft.AzureADEndpoint(s.cfg.Tenant)
	case "google":
		e = google.Endpoint
	}
	if s.cfg.TokenURL != "" {
		e.TokenURL = s.cfg.TokenURL
	}
	if s.cfg.DeviceAuthURL != "" {
		e.DeviceAuthURL = s.cfg.DeviceAuthURL
	}
	if s.cfg.Provider != "generic" {
		// Both take the client in the form; auto-detection would send
		// every refused request twice.
		e.AuthStyle = oauth2.AuthStyleInParams
	}
	return e
}

func (s *Source) scopes() []string {
	if len(s.cfg.Scopes) > 0 {
		return s.cfg.Scopes
	}
	switch {
	case s.cfg.Provider == "microsoft" && s.cfg.Grant == config.GrantClientCredentials:
		return microsoftAppScopes
	case s.cfg.Provider == "microsoft":
		return microsoftDelegatedScopes
	case s.cfg.Provider == "google":
		return googleScopes
	}
	return nil
}

// Token returns an access token for signing in as subject (the mailbox's
// login name), fetching a new one when the one in hand is near its expiry
// or was refused. One fetch runs at a time; a caller waiting for it gives
// up when ctx ends.
func (s *Source) Token(ctx context.Context, subject string) (string, error) {
	if s.cfg.Grant != config.GrantServiceAccount {
		subject = "" // one token serves every mailbox of the grant
	}
	if tok, _ := s.held(subject); tok != "" {
		return tok, nil
	}
	select {
	case s.fetching <- struct{}{}:
		defer func() { <-s.fetching }()
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for an OAuth2 token: %w", context.Cause(ctx))
	}
	tok, bad := s.held(subject)
	if tok != "" {
		return tok, nil // fetched while this caller waited
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.client)
	var (
		t      *oauth2.Token
		issued time.Time
		err    error
	)
	if s.cfg.Delegated() {
		t, issued, err = s.delegated(ctx, bad)
	} else {
		issued = s.now()
		t, err = s.appToken(ctx, subject)
	}
	if err != nil {
		return "", s.describe(err)
	}
	if t.AccessToken == "" {
		return "", fmt.Errorf("oauth2 token request to %s answered no access token", s.tokenURL())
	}
	s.mu.Lock()
	s.tokens[subject] = &held{tok: t, issued: issued}
	s.mu.Unlock()
	return t.AccessToken, nil
}

// held returns the usable access token in hand for subject, or "" and the
// refused one, if that is why there is none.
func (s *Source) held(subject string) (tok, bad string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.tokens[subject]
	switch {
	case h == nil:
		return "", ""
	case h.bad:
		return "", h.tok.AccessToken
	case s.fresh(h.tok, h.issued):
		return h.tok.AccessToken, ""
	}
	return "", ""
}

// Refused marks the access token handed out for subject as refused by a
// mail server: the next Token fetches a new one.
func (s *Source) Refused(subject string) {
	if s.cfg.Grant != config.GrantServiceAccount {
		subject = ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.tokens[subject]; h != nil {
		h.bad = true
	}
}

// Expiry is when the access token in hand for subject expires; zero when
// none is held.
func (s *Source) Expiry(subject string) time.Time {
	if s.cfg.Grant != config.GrantServiceAccount {
		subject = ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.tokens[subject]; h != nil && !h.bad {
		return h.tok.Expiry
	}
	return time.Time{}
}

// fresh reports whether tok can still be used: it expires neither within
// earlyRefresh nor within the last quarter of its lifetime.
func (s *Source) fresh(tok *oauth2.Token, issued time.Time) bool {
	if tok == nil || tok.AccessToken == "" {
		return false
	}
	if tok.Expiry.IsZero() {
		return true
	}
	margin := earlyRefresh
	if life := tok.Expiry.Sub(issued); life > 0 && life/4 < margin {
		margin = life / 4
	}
	return s.now().Add(margin).Before(tok.Expiry)
}

func (s *Source) tokenURL() string {
	if s.cfg.Grant == config.GrantServiceAccount && s.cfg.TokenURL == "" {
		return "the service account's token_uri"
	}
	return s.endpoint().TokenURL
}

// appToken requests a token without a user: client credentials (secret or
// certificate) or a service account acting for subject.
func (s *Source) appToken(ctx context.Context, subject string) (*oauth2.Token, error) {
	if s.cfg.Grant == config.GrantServiceAccount {
		jc, err := google.JWTConfigFromJSON(s.cfg.ServiceAccount, s.scopes()...)
		if err != nil {
			return nil, fmt.Errorf("reading oauth2.service_account_file: %w", err)
		}
		jc.Subject = subject
		if s.cfg.TokenURL != "" {
			jc.TokenURL = s.cfg.TokenURL
		}
		return jc.TokenSource(ctx).Token()
	}
	e := s.endpoint()
	cc := &clientcredentials.Config{
		ClientID: s.cfg.ClientID, ClientSecret: s.cfg.ClientSecret,
		TokenURL: e.TokenURL, Scopes: s.scopes(), AuthStyle: e.AuthStyle,
	}
	if s.cfg.Certificate != nil {
		// A fresh assertion per request: each is short-lived and single-use.
		a, err := clientAssertion(s.cfg.Certificate, s.cfg.PrivateKey, s.cfg.ClientID, cc.TokenURL, s.now(), newJTI())
		if err != nil {
			return nil, err
		}
		cc.AuthStyle = oauth2.AuthStyleInParams
		cc.EndpointParams = url.Values{
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {a},
		}
	}
	return cc.Token(ctx)
}

// delegated returns the grant's access token, refreshing it when it is
// stale or is bad (refused). One replica refreshes at a time, under a Redis
// lock, and stores a rotated refresh token before anyone uses the new
// access token: a crash between the two would otherwise lose the grant
// where the server revokes the old refresh token. Once the lock is held the
// caller's cancellation no longer interrupts: a refresh answered but not
// stored would lose the grant just the same.
func (s *Source) delegated(ctx context.Context, bad string) (*oauth2.Token, time.Time, error) {
	lock, err := s.locks.Obtain(ctx, s.lock, lockTTL, &redislock.Options{
		RetryStrategy: redislock.LimitRetry(redislock.LinearBackoff(100*time.Millisecond), 400),
	})
	if err != nil {
		return nil, time.Time{}, &storeError{fmt.Errorf("taking the OAuth2 grant lock: %w", err)}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTTL-5*time.Second)
	defer cancel()
	defer func() { _ = lock.Release(ctx) }()
	if err := s.storePending(ctx); err != nil {
		return nil, time.Time{}, err
	}
	g, err := s.grants.load(ctx)
	if errors.Is(err, ErrNoGrant) && s.cfg.Grant == config.GrantRefreshToken {
		// The first start: the file's token becomes the stored grant.
		g = &Grant{RefreshToken: s.cfg.RefreshToken, RefreshIssued: s.now(), Origin: "refresh_token_file"}
		if err = s.grants.save(ctx, g); err == nil {
			s.log.Info("oauth2 grant stored from oauth2.refresh_token_file; the file is not read again")
		}
	}
	if errors.Is(err, ErrNoGrant) {
		return nil, time.Time{}, fmt.Errorf("%w: run maildesk auth login --config FILE", err)
	}
	if err != nil {
		return nil, time.Time{}, &storeError{err}
	}
	stored := &oauth2.Token{AccessToken: g.AccessToken, Expiry: g.Expiry}
	if g.AccessToken != "" && g.AccessToken != bad && s.fresh(stored, g.Issued) {
		return stored, g.Issued, nil // another replica refreshed it
	}
	issued := s.now()
	tok, err := s.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: g.RefreshToken}).Token()
	if err != nil {
		return nil, time.Time{}, err
	}
	next := *g
	if tok.RefreshToken != "" && tok.RefreshToken != g.RefreshToken {
		next.RefreshToken, next.RefreshIssued = tok.RefreshToken, issued
	}
	next.AccessToken, next.Expiry, next.Issued = tok.AccessToken, tok.Expiry, issued
	if err := s.saveRetrying(ctx, &next); err != nil {
		// Using a token whose rotated refresh token is not stored risks
		// the grant: keep it here, store it first next time, fail now.
		s.mu.Lock()
		s.pending = &next
		s.mu.Unlock()
		return nil, time.Time{}, &storeError{err}
	}
	return tok, issued, nil
}

// lockTTL bounds one refresh under the grant lock: the token request
// (requestTimeout) and the Redis round trips around it.
const lockTTL = requestTimeout + 10*time.Second

// storePending stores a rotated grant an earlier refresh could not.
func (s *Source) storePending(ctx context.Context) error {
	s.mu.Lock()
	g := s.pending
	s.mu.Unlock()
	if g == nil {
		return nil
	}
	if err := s.saveRetrying(ctx, g); err != nil {
		return &storeError{fmt.Errorf("storing the rotated OAuth2 grant kept since a failed save: %w", err)}
	}
	s.mu.Lock()
	if s.pending == g {
		s.pending = nil
	}
	s.mu.Unlock()
	s.log.Info("oauth2 rotated grant stored after an earlier failure")
	return nil
}

func (s *Source) saveRetrying(ctx context.Context, g *Grant) error {
	var err error
	for attempt := range 3 {
		if err = s.grants.save(ctx, g); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		}
	}
	return err
}

// storeError is a failure of the grant's storage in Redis (the lock, a
// read, a write, a key that does not decrypt), not of the authorization
// server: the alarm must point at Redis or the key.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// describe turns a token request's failure into an error that names the
// endpoint and the authorization server's reason, never a secret.
func (s *Source) describe(err error) error {
	var (
		re *oauth2.RetrieveError
		se *storeError
	)
	if errors.As(err, &se) || errors.Is(err, ErrNoGrant) {
		return err
	}
	if errors.As(err, &re) {
		if re.ErrorCode == "" {
			// x/oauth2/jwt (Google service accounts) leaves the body
			// unparsed: the reason is in it.
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if json.Unmarshal(re.Body, &body) == nil {
				re.ErrorCode, re.ErrorDescription = body.Error, body.Description
			}
		}
		// The server's words go to logs and alarm mails: one line, bounded.
		msg := printable(re.ErrorCode, 60)
		if msg == "" && re.Response != nil {
			msg = re.Response.Status
		}
		if re.ErrorDescription != "" {
			msg += ": " + printable(firstLine(re.ErrorDescription), 300)
		}
		hint := ""
		if re.ErrorCode == "invalid_grant" && s.cfg.Delegated() {
			hint = " (the grant was revoked or expired: sign in again with maildesk auth login)"
		}
		return &TokenError{Grant: s.cfg.Grant, URL: s.tokenURL(), Code: re.ErrorCode, Msg: msg + hint}
	}
	return &TokenError{Grant: s.cfg.Grant, URL: s.tokenURL(), Msg: err.Error(), err: err}
}

// TokenError is a failed token request.
type TokenError struct {
	Grant, URL string
	// Code is RFC 6749's error code (invalid_client, invalid_grant, ...);
	// empty when the server could not be reached or answered no code.
	Code string
	Msg  string
	err  error
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("oauth2 %s token request to %s: %s", e.Grant, e.URL, e.Msg)
}

func (e *TokenError) Unwrap() error { return e.err }

func firstLine(s string) string {
	for i, r := range s {
		if r == '\r' || r == '\n' {
			return s[:i]
		}
	}
	return s
}
