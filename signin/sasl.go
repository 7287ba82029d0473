package signin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
	"github.com/wneessen/go-mail/smtp"
)

// The SASL mechanisms of oauth2.mechanism.
const (
	MechXOAuth2     = "xoauth2"
	MechOAuthBearer = "oauthbearer"
)

// RefusedError is a sign-in the mail server refused: the token was sent and
// not accepted. Status and Detail are what the server's failure challenge
// said (Google and Dovecot send JSON such as {"status":"401",...}).
type RefusedError struct {
	Mechanism string
	Status    string
	Detail    string
}

func (e *RefusedError) Error() string {
	s := "the server refused the " + strings.ToUpper(e.Mechanism) + " access token"
	if e.Status != "" {
		s += " (status " + e.Status + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// initialResponse is the first client message of either mechanism; the
// token is the only secret in it.
func initialResponse(mech, user, token string) []byte {
	if mech == MechOAuthBearer {
		// RFC 7628 section 3.1: gs2 header with the authzid, then kvpairs.
		return []byte("n,a=" + saslName(user) + ",\x01auth=Bearer " + token + "\x01\x01")
	}
	return []byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01")
}

// saslName escapes ',' and '=' as RFC 5801 asks of an authzid.
func saslName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// failure reads a server's failure challenge. Servers send JSON (RFC 7628
// section 3.2.2; Google and Dovecot for XOAUTH2 too); anything else is kept
// as text, cut short, since it ends up in logs and alarm mails.
func failure(mech string, challenge []byte) *RefusedError {
	e := &RefusedError{Mechanism: mech}
	var body struct {
		Status string `json:"status"`
		Scope  string `json:"scope"`
	}
	if err := json.Unmarshal(challenge, &body); err == nil {
		e.Status = printable(body.Status, 40)
		if body.Scope != "" {
			e.Detail = "scope " + printable(body.Scope, 200)
		}
		return e
	}
	e.Detail = printable(string(challenge), 200)
	return e
}

// printable makes server text safe for a log line or a mail: valid UTF-8,
// control characters as spaces, at most max bytes (cut at a character).
func printable(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// imapClient is a go-sasl client of XOAUTH2 or OAUTHBEARER for IMAP
// AUTHENTICATE. go-sasl has no XOAUTH2 client, and go-imap answers a failure
// challenge with "=" (go-imap issue 760), which Dovecot rejects as BAD: Next
// returns the server's reason as an error instead, so Authenticate ends
// there; the caller then drops the connection, whose state is unknown.
type imapClient struct {
	mech, user, token string
}

func (c *imapClient) Start() (string, []byte, error) {
	return strings.ToUpper(c.mech), initialResponse(c.mech, c.user, c.token), nil
}

func (c *imapClient) Next(challenge []byte) ([]byte, error) {
	return nil, failure(c.mech, challenge)
}

// NewIMAPClient returns the SASL client of one IMAP sign-in as user.
func NewIMAPClient(mech, user, token string) sasl.Client {
	return &imapClient{mech: mech, user: user, token: token}
}

// SMTPAuth is XOAUTH2 or OAUTHBEARER for go-mail. go-mail's own XOAUTH2
// answers a failure challenge correctly but forgets its reason, and it has
// no OAUTHBEARER; this keeps the challenge so that the 535 that follows can
// say why (Refused).
type SMTPAuth struct {
	mech, user, token string
	refused           *RefusedError
}

// NewSMTPAuth returns the SMTP AUTH mechanism of one sign-in as user.
func NewSMTPAuth(mech, user, token string) *SMTPAuth {
	return &SMTPAuth{mech: mech, user: user, token: token}
}

func (a *SMTPAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return strings.ToUpper(a.mech), initialResponse(a.mech, a.user, a.token), nil
}

func (a *SMTPAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.refused = failure(a.mech, fromServer)
	// The client must answer a failure challenge before the server says
	// 535: an empty line for XOAUTH2, %x01 for OAUTHBEARER (RFC 7628 3.2.3).
	if a.mech == MechOAuthBearer {
		return []byte{0x01}, nil
	}
	return []byte{}, nil
}

// Refused makes err, the failure of a connection that signed in with a, a
// RefusedError when the server refused the token: after a failure challenge
// (whose reason it keeps) or with a 530, 534 or 535 reply.
func (a *SMTPAuth) Refused(err error) error {
	if err == nil {
		return nil
	}
	if a.refused != nil {
		return fmt.Errorf("%w: %w", err, a.refused)
	}
	var te *textproto.Error
	if errors.As(err, &te) && (te.Code == 530 || te.Code == 534 || te.Code == 535) {
		return fmt.Errorf("%w: %w", err, &RefusedError{Mechanism: a.mech, Status: fmt.Sprint(te.Code)})
	}
	return err
}

// IsRefused reports whether err is a server refusing the token.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}
