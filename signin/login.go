package signin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bsm/redislock"
	"golang.org/x/oauth2"

	"github.com/maildesk/maildesk/config"
)

// Login makes the stored grant anew: the device flow (RFC 8628) for
// device_code, printing where and with which code to sign in on w; the
// refresh_token_file's token for refresh_token. It replaces what was
// stored, which the running replicas pick up at their next refresh.
func (s *Source) Login(ctx context.Context, w io.Writer) (*Grant, error) {
	if !s.cfg.Delegated() {
		return nil, fmt.Errorf("oauth2.grant %s signs in by itself: there is nothing to log in to", s.cfg.Grant)
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.client)
	g := &Grant{RefreshIssued: s.now()}
	switch s.cfg.Grant {
	case config.GrantRefreshToken:
		g.RefreshToken, g.Origin = s.cfg.RefreshToken, "refresh_token_file"
		// Prove the token works (and take the rotated one) before it
		// replaces a grant that may still work.
		tok, err := s.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: g.RefreshToken}).Token()
		if err != nil {
			return nil, s.describe(err)
		}
		s.fill(g, tok)
	case config.GrantDeviceCode:
		da, err := s.oauth.DeviceAuth(ctx)
		if err != nil {
			return nil, s.describeDevice(err)
		}
		fmt.Fprintf(w, "To sign in, open %s and enter the code %s\n", da.VerificationURI, da.UserCode)
		if da.VerificationURIComplete != "" {
			fmt.Fprintf(w, "(or open %s)\n", da.VerificationURIComplete)
		}
		if !da.Expiry.IsZero() {
			fmt.Fprintf(w, "Waiting for the sign-in (the code expires at %s)...\n", da.Expiry.Local().Format(time.TimeOnly))
		}
		tok, err := s.oauth.DeviceAccessToken(ctx, da)
		if err != nil {
			return nil, s.describe(err)
		}
		if tok.RefreshToken == "" {
			return nil, errors.New("the authorization server answered no refresh token: add the offline_access scope (oauth2.scopes)")
		}
		g.Origin = "device_code"
		s.fill(g, tok)
	}
	// Under the replicas' grant lock: a refresh in flight elsewhere would
	// otherwise store the old grant over this one.
	lock, err := s.locks.Obtain(ctx, s.lock, lockTTL, &redislock.Options{
		RetryStrategy: redislock.LimitRetry(redislock.LinearBackoff(100*time.Millisecond), 400),
	})
	if err != nil {
		return nil, fmt.Errorf("taking the OAuth2 grant lock to store the new grant: %w", err)
	}
	defer func() { _ = lock.Release(context.WithoutCancel(ctx)) }()
	if err := s.saveRetrying(context.WithoutCancel(ctx), g); err != nil {
		return nil, err
	}
	s.mu.Lock()
	delete(s.tokens, "")
	s.pending = nil // the new grant replaces whatever was waiting
	s.mu.Unlock()
	return g, nil
}

func (s *Source) fill(g *Grant, tok *oauth2.Token) {
	if tok.RefreshToken != "" {
		g.RefreshToken = tok.RefreshToken
	}
	g.AccessToken, g.Expiry, g.Issued = tok.AccessToken, tok.Expiry, s.now()
}

func (s *Source) describeDevice(err error) error {
	e := s.describe(err)
	var te *TokenError
	if errors.As(e, &te) {
		te.URL = s.endpoint().DeviceAuthURL
	}
	return e
}

// StoredGrant is the grant in Redis, for auth status; ErrNoGrant when there
// is none, nil and no error for grants that store nothing.
func (s *Source) StoredGrant(ctx context.Context) (*Grant, error) {
	if s.grants == nil {
		return nil, nil
	}
	return s.grants.load(ctx)
}

// CredentialExpiry is when the client secret (as configured) or the
// certificate (as read from it) expires, and which of the two it is; zero
// when unknown.
func CredentialExpiry(cfg config.OAuth2) (time.Time, string) {
	switch {
	case cfg.Certificate != nil:
		return cfg.Certificate.NotAfter, "certificate"
	case !cfg.SecretExpiresAt.IsZero():
		return cfg.SecretExpiresAt, "client secret"
	}
	return time.Time{}, ""
}
