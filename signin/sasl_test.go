package signin

import (
	"errors"
	"net/textproto"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestInitialResponse(t *testing.T) {
	tests := []struct {
		mech, user, token, want string
	}{
		{MechXOAuth2, "desk@example.com", "tok", "user=desk@example.com\x01auth=Bearer tok\x01\x01"},
		{MechOAuthBearer, "desk@example.com", "tok", "n,a=desk@example.com,\x01auth=Bearer tok\x01\x01"},
		// RFC 5801: ',' and '=' in the authzid are escaped.
		{MechOAuthBearer, "a,b=c@example.com", "tok", "n,a=a=2Cb=3Dc@example.com,\x01auth=Bearer tok\x01\x01"},
	}
	for _, tt := range tests {
		if got := string(initialResponse(tt.mech, tt.user, tt.token)); got != tt.want {
			t.Errorf("%s %s: got %q, want %q", tt.mech, tt.user, got, tt.want)
		}
	}
}

// The IMAP client must end the exchange at a failure challenge with the
// server's reason instead of answering it (go-imap answers "=", which
// Dovecot rejects as BAD).
func TestIMAPClientFailureChallenge(t *testing.T) {
	tests := []struct {
		challenge  string
		wantStatus string
		wantText   string
	}{
		{`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`, "401", "scope https://mail.google.com/"},
		{`{"status":"invalid_token","schemes":"bearer"}`, "invalid_token", "invalid_token"},
		{"not json at all", "", "not json at all"},
		{strings.Repeat("x", 500), "", "..."},
	}
	for _, tt := range tests {
		c := NewIMAPClient(MechXOAuth2, "u", "secret-token")
		mech, ir, err := c.Start()
		if err != nil || mech != "XOAUTH2" || !strings.Contains(string(ir), "secret-token") {
			t.Fatalf("Start = %q %q %v", mech, ir, err)
		}
		resp, err := c.Next([]byte(tt.challenge))
		var re *RefusedError
		if resp != nil || !errors.As(err, &re) || re.Status != tt.wantStatus || !strings.Contains(err.Error(), tt.wantText) {
			t.Errorf("Next(%.40q) = %q, %v; want RefusedError with status %q mentioning %q", tt.challenge, resp, err, tt.wantStatus, tt.wantText)
		}
		if strings.Contains(err.Error(), "secret-token") {
			t.Errorf("error shows the token: %v", err)
		}
		if len(err.Error()) > 400 {
			t.Errorf("error not cut short: %d bytes", len(err.Error()))
		}
	}
}

func TestSMTPAuth(t *testing.T) {
	for _, tt := range []struct {
		mech string
		want []byte
	}{{MechXOAuth2, []byte{}}, {MechOAuthBearer, []byte{0x01}}} {
		a := NewSMTPAuth(tt.mech, "u@example.com", "tok")
		mech, _, err := a.Start(nil)
		if err != nil || mech != strings.ToUpper(tt.mech) {
			t.Fatalf("Start: %q %v", mech, err)
		}
		resp, err := a.Next([]byte(`{"status":"401"}`), true)
		if err != nil || string(resp) != string(tt.want) {
			t.Errorf("%s: answer to a failure challenge = %q, %v; want %q", tt.mech, resp, err, tt.want)
		}
		if resp, err := a.Next(nil, false); resp != nil || err != nil {
			t.Errorf("%s: Next after success = %q, %v", tt.mech, resp, err)
		}
		err = a.Refused(&textproto.Error{Code: 535, Msg: "5.7.8 Authentication failed"})
		var re *RefusedError
		if !errors.As(err, &re) || re.Status != "401" || !strings.Contains(err.Error(), "535") {
			t.Errorf("%s: Refused = %v", tt.mech, err)
		}
	}
	// No challenge, only the 535 (Exchange Online): still refused.
	a := NewSMTPAuth(MechXOAuth2, "u", "tok")
	if err := a.Refused(&textproto.Error{Code: 535, Msg: "5.7.3 Authentication unsuccessful"}); !IsRefused(err) {
		t.Errorf("535 without challenge: %v is not refused", err)
	}
	if err := a.Refused(&textproto.Error{Code: 421, Msg: "busy"}); IsRefused(err) {
		t.Errorf("421 counted as refused: %v", err)
	}
}

// A server's failure challenge is outside input that ends up in logs and
// alarm mails: any bytes give a bounded, valid UTF-8 reason.
func FuzzFailure(f *testing.F) {
	for _, s := range []string{`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`, `{"status":`, "\xff\xfe", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, challenge []byte) {
		e := failure(MechXOAuth2, challenge)
		msg := e.Error()
		if !utf8.ValidString(msg) || strings.ContainsAny(msg, "\r\n") || len(msg) > 400 {
			t.Fatalf("message %q", msg)
		}
	})
}
