package signin

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
)

// oauthErrorCodes are RFC 6749 section 5.2's and RFC 8628's error codes: a
// closed set, so that they can label a metric.
var oauthErrorCodes = []string{
	"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
	"invalid_scope", "access_denied", "expired_token", "authorization_pending", "slow_down",
}

// Reason classifies why connecting or signing in failed, in a word fit for
// a metric label: refused (the server refused the credentials),
// token_<code> (the authorization server's RFC 6749 error code),
// token_unreachable, no_grant, grant_store (Redis or oauth2.token_key_file),
// timeout, tls, connect or other.
func Reason(err error) string {
	var (
		te  *TokenError
		se  *storeError
		re  *RefusedError
		ne  net.Error
		oe  *net.OpError
		tve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNoGrant):
		return "no_grant"
	case errors.As(err, &se):
		return "grant_store"
	case errors.As(err, &te):
		if slices.Contains(oauthErrorCodes, te.Code) {
			return "token_" + te.Code
		}
		if te.Code == "" && te.err != nil {
			return "token_unreachable" // no answer at all
		}
		return "token_error"
	case errors.As(err, &re):
		return "refused"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &tve), errors.As(err, &rhe):
		return "tls"
	case errors.As(err, &oe) && oe.Op == "dial":
		return "connect"
	}
	return "other"
}
