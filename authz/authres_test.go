package authz

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// trustedIDs: the desk's own MTA, and Google's for a desk whose mailbox is
// at Google Workspace.
var trustedIDs = []string{"mx.desk.example", "mx.google.com"}

// forgedPass is what a sender writes into their own mail, below the
// desk's MTA's header, hoping the desk reads it.
const forgedPass = "mx.desk.example; dmarc=pass header.from=acme.example"

type authCase struct {
	name    string
	headers []string
	from    string // "" is acme.example
	pass    bool
	checked bool
	reason  string // in the reason
}

var authCases = []authCase{
	// The basics.
	{name: "dmarc pass", headers: []string{"mx.desk.example; dmarc=pass header.from=acme.example"}, pass: true, checked: true, reason: "dmarc=pass (mx.desk.example)"},
	{name: "dkim aligned subdomain", headers: []string{"mx.desk.example; dkim=pass header.d=mail.acme.example; spf=fail smtp.mailfrom=x@evil.example"}, pass: true, checked: true},
	{name: "spf aligned", headers: []string{"mx.desk.example; spf=pass smtp.mailfrom=bounce@acme.example"}, pass: true, checked: true},
	{name: "dkim of another domain", headers: []string{"mx.desk.example; dkim=pass header.d=evil.example"}, checked: true, reason: "dkim=pass header.d=evil.example"},
	{name: "public suffix is no organisation", headers: []string{"mx.desk.example; dkim=pass header.d=co.uk"}, from: "acme.co.uk", checked: true},
	{name: "dmarc fail", headers: []string{"mx.desk.example; dmarc=fail header.from=acme.example"}, checked: true, reason: "not authenticated for acme.example: dmarc=fail"},
	{name: "dmarc pass for a subdomain is not the From domain's", headers: []string{"mx.desk.example; dmarc=pass header.from=sub.acme.example"}, checked: true},
	{name: "dmarc pass without header.from names no domain", headers: []string{"mx.desk.example; dmarc=pass"}, checked: true},
	{name: "spf pass for the HELO name only", headers: []string{"mx.desk.example; spf=pass (sender SPF authorized) smtp.helo=mail.acme.example"}, checked: true},
	{name: "untrusted authserv-id is ignored", headers: []string{"attacker.example; dmarc=pass header.from=acme.example"}, reason: noTrusted},
	{name: "trusted after untrusted", headers: []string{"attacker.example; dmarc=pass", "MX.desk.example; dmarc=pass header.from=acme.example"}, pass: true, checked: true},
	{name: "only the topmost trusted header counts", headers: []string{"mx.desk.example; dmarc=fail header.from=acme.example", forgedPass}, checked: true},
	{name: "no header", reason: noTrusted},
	{name: "garbage", headers: []string{";;;==="}, reason: noTrusted},
	{name: "empty", headers: []string{""}, reason: noTrusted},
	{name: "no From domain", headers: []string{"mx.desk.example; dmarc=pass header.from=acme.example"}, from: "-", checked: true, reason: "no usable From domain"},
	{name: "IDN From domain against its A-label", headers: []string{"mx.desk.example; dmarc=pass header.from=xn--bcher-kva.example"}, from: "Bücher.example", pass: true, checked: true},
	{name: "no-result", headers: []string{"mx.desk.example; none", forgedPass}, checked: true, reason: "no dmarc, dkim or spf result"},
	{name: "no-result with version", headers: []string{"mx.desk.example 1; none", forgedPass}, checked: true},
	{name: "no results at all", headers: []string{"mx.desk.example", forgedPass}, checked: true, reason: "unreadable"},
	{name: "only other methods", headers: []string{"mx.desk.example; iprev=pass policy.iprev=192.0.2.1; auth=pass smtp.auth=jan", forgedPass}, checked: true},

	// OpenDKIM: a ';' inside the comment, quoted header.b, reason=.
	{name: "OpenDKIM pass", headers: []string{"mx.desk.example;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=acme.example header.i=@acme.example header.a=rsa-sha256 header.s=mail header.b=AbCdEfGh"},
		pass: true, checked: true, reason: "dkim=pass header.d=acme.example"},
	{name: "OpenDKIM pass, folding joined", headers: []string{"mx.desk.example;\tdkim=pass (1024-bit key; secure) header.d=acme.example header.i=@acme.example header.b=\"AbC+/dEf\""}, pass: true, checked: true},
	{name: "OpenDKIM fail", headers: []string{"mx.desk.example;\n\tdkim=fail reason=\"signature verification failed\" (2048-bit key; unprotected) header.d=acme.example header.i=@acme.example header.b=\"AbCdEfGh\"", forgedPass},
		checked: true, reason: "dkim=fail header.d=acme.example"},
	{name: "OpenDKIM two signatures, the second aligned", headers: []string{"mx.desk.example; dkim=pass (1024-bit key; unprotected) header.d=esp.example header.i=@esp.example header.b=AAAA; dkim=pass (2048-bit key; unprotected) header.d=acme.example header.i=@acme.example header.b=BBBB"},
		pass: true, checked: true},
	{name: "OpenDKIM header.i only", headers: []string{"mx.desk.example; dkim=pass (2048-bit key; unprotected) header.i=jan@acme.example"}, pass: true, checked: true},

	// OpenDMARC.
	{name: "OpenDMARC pass", headers: []string{"mx.desk.example; dmarc=pass (p=reject dis=none) header.from=acme.example"}, pass: true, checked: true},
	{name: "OpenDMARC fail", headers: []string{"mx.desk.example; dmarc=fail (p=reject dis=quarantine) header.from=acme.example", forgedPass}, checked: true},
	{name: "OpenDMARC starting with a comment", headers: []string{"mx.desk.example; (OpenDMARC) dmarc=pass (p=none dis=none) header.from=acme.example"}, pass: true, checked: true},
	{name: "OpenDMARC fail starting with a comment", headers: []string{"mx.desk.example; (OpenDMARC) dmarc=fail (p=none dis=none) header.from=acme.example", forgedPass}, checked: true},
	{name: "OpenDMARC's SPF", headers: []string{"mx.desk.example; spf=pass smtp.mailfrom=acme.example"}, pass: true, checked: true},

	// Rspamd: quotes inside comments, quoted addresses, a comment last.
	{name: "Rspamd pass", headers: []string{"mx.desk.example;\n\tdkim=pass header.d=acme.example header.s=dkim header.b=AbCd1234;\n\tdmarc=pass (policy=reject) header.from=acme.example;\n\tspf=pass (mx.desk.example: domain of \"jan@acme.example\" designates 192.0.2.1 as permitted sender) smtp.mailfrom=\"jan@acme.example\""},
		pass: true, checked: true},
	{name: "Rspamd fail", headers: []string{"mx.desk.example;\n\tdkim=fail (\"headers rsa verify failed\") header.d=acme.example header.s=dkim header.b=AbCd1234;\n\tdmarc=fail reason=\"SPF not aligned (relaxed), DKIM not aligned (relaxed)\" header.from=acme.example (policy=reject);\n\tspf=softfail (mx.desk.example: domain of \"x@evil.example\" is not designated) smtp.mailfrom=\"x@evil.example\"", forgedPass},
		checked: true, reason: "dmarc=fail header.from=acme.example"},
	{name: "Rspamd spf only", headers: []string{"mx.desk.example; spf=pass (mx.desk.example: domain of \"jan@acme.example\" designates 192.0.2.1 as permitted sender) smtp.mailfrom=\"jan@acme.example\""}, pass: true, checked: true},

	// Postfix policy daemons.
	{name: "policyd-spf pass", headers: []string{"mx.desk.example; spf=pass (sender SPF authorized) smtp.mailfrom=jan@acme.example"}, pass: true, checked: true},
	{name: "policyd-spf pass, details in a comment with ';'", headers: []string{"mx.desk.example; spf=pass (mailfrom) smtp.mailfrom=acme.example (client-ip=192.0.2.1; helo=mail.acme.example; envelope-from=jan@acme.example; receiver=<UNKNOWN>)"}, pass: true, checked: true},
	{name: "policyd-spf softfail", headers: []string{"mx.desk.example; spf=softfail (domain owner discourages use of this host) smtp.mailfrom=acme.example", forgedPass}, checked: true},
	{name: "policyd-spf for a bounce (empty mailfrom)", headers: []string{"mx.desk.example; spf=pass (sender SPF authorized) smtp.helo=mail.acme.example smtp.mailfrom="}, checked: true},

	// Exchange Online: results glued by ';', action= and reason= without
	// a ptype. Its own header carries no authserv-id: nobody can trust it.
	{name: "Exchange Online without authserv-id", headers: []string{"spf=pass (sender IP is 1.2.3.4) smtp.mailfrom=acme.example; dkim=pass (signature was verified) header.d=acme.example;dmarc=pass action=none header.from=acme.example;compauth=pass reason=100"},
		reason: noTrusted},
	{name: "Exchange Online format under a trusted id", headers: []string{"mx.desk.example; spf=pass (sender IP is 1.2.3.4) smtp.mailfrom=acme.example; dkim=pass (signature was verified) header.d=acme.example;dmarc=pass action=none header.from=acme.example;compauth=pass reason=100"},
		pass: true, checked: true},
	{name: "Exchange Online fail", headers: []string{"mx.desk.example; spf=fail (sender IP is 192.0.2.66) smtp.mailfrom=evil.example; dkim=none (message not signed) header.d=none;dmarc=fail action=oreject header.from=acme.example;compauth=fail reason=000", forgedPass},
		checked: true, reason: "dmarc=fail"},

	// Gmail, folded as it writes it, with ARC in front.
	{name: "Gmail pass", headers: []string{"mx.google.com;\r\n       dkim=pass header.i=@acme.example header.s=s1 header.b=abc;\r\n       spf=pass (google.com: domain of jan@acme.example designates 1.2.3.4 as permitted sender) smtp.mailfrom=jan@acme.example;\r\n       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=acme.example"},
		pass: true, checked: true, reason: "(mx.google.com)"},
	{name: "Gmail with ARC", headers: []string{"mx.google.com; arc=pass (i=1 spf=pass spfdomain=acme.example dkim=pass dkdomain=acme.example dmarc=pass fromdomain=acme.example); dkim=pass header.i=@acme.example header.s=s1 header.b=abc; dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=acme.example"},
		pass: true, checked: true},
	{name: "Gmail neutral", headers: []string{"mx.google.com; spf=neutral (google.com: 192.0.2.66 is neither permitted nor denied by best guess record for domain of x@evil.example) smtp.mailfrom=x@evil.example; dmarc=fail (p=NONE sp=NONE dis=NONE) header.from=acme.example", forgedPass},
		checked: true},

	// RFC 8601 and 5322 syntax that real MTAs rarely write.
	{name: "version 1", headers: []string{"mx.desk.example 1; dmarc=pass header.from=acme.example"}, pass: true, checked: true},
	{name: "unknown version", headers: []string{"mx.desk.example 2; dmarc=fail header.from=acme.example", forgedPass}, checked: true, reason: "unsupported version"},
	{name: "quoted authserv-id", headers: []string{"\"mx.desk.example\"; dmarc=pass header.from=acme.example"}, pass: true, checked: true},
	{name: "comment before the authserv-id", headers: []string{"(our MTA) mx.desk.example (v1) 1 (!); dmarc=pass header.from=acme.example"}, pass: true, checked: true},
	{name: "CFWS around '='", headers: []string{"mx.desk.example; dmarc = (x) pass header.from = acme.example"}, pass: true, checked: true},
	{name: "method version", headers: []string{"mx.desk.example; dkim/1=pass header.d=acme.example"}, pass: true, checked: true},
	{name: "nested comment with escapes", headers: []string{`mx.desk.example; dmarc=pass (a (b \) c) \( d) header.from=acme.example`}, pass: true, checked: true},
	{name: "'=' in a value", headers: []string{"mx.desk.example; dkim=pass header.d=acme.example header.b=AbC="}, pass: true, checked: true},
	{name: "trailing ';' and empty results", headers: []string{"mx.desk.example;; dmarc=pass header.from=acme.example;"}, pass: true, checked: true},
	{name: "trusted id in another case", headers: []string{"MX.Desk.Example; dmarc=pass header.from=ACME.example"}, pass: true, checked: true},

	// Hostile.
	{name: "unterminated comment", headers: []string{"mx.desk.example; dmarc=fail (p=none header.from=acme.example", forgedPass}, checked: true, reason: "unterminated comment"},
	{name: "unbalanced quotes", headers: []string{"mx.desk.example; dkim=fail header.d=\"acme.example", forgedPass}, checked: true, reason: "unterminated quoted string"},
	{name: "')' without '('", headers: []string{"mx.desk.example; dkim=fail ) header.d=acme.example", forgedPass}, checked: true, reason: "unreadable"},
	{name: "deep nesting, balanced", headers: []string{"mx.desk.example; dmarc=pass " + strings.Repeat("(", 5000) + strings.Repeat(")", 5000) + " header.from=acme.example"}, pass: true, checked: true},
	{name: "deep nesting, unbalanced", headers: []string{"mx.desk.example; dmarc=fail " + strings.Repeat("(", 7000) + strings.Repeat(")", 6999), forgedPass}, checked: true, reason: "unterminated comment"},
	{name: "longer than the cap", headers: []string{"mx.desk.example; dmarc=pass header.from=acme.example (" + strings.Repeat("x", maxAuthResults) + ")", forgedPass}, checked: true, reason: "longer than"},
	{name: "forged below OpenDKIM's ';' comment", headers: []string{"mx.desk.example; dkim=fail (2048-bit key; unprotected) header.d=acme.example", forgedPass}, checked: true, reason: "dkim=fail"},
	{name: "forged below an unreadable trusted header", headers: []string{"mx.desk.example; dkim=pass header.d=acme.example header.b=\"x", forgedPass}, checked: true, reason: "unreadable Authentication-Results from mx.desk.example"},
	{name: "forged below an unreadable trusted header in another case", headers: []string{"MX.DESK.EXAMPLE; dkim=pass header.d=acme.example header.b=\"x", forgedPass}, checked: true, reason: "unreadable"},
	{name: "authserv-id readable, nothing else", headers: []string{"mx.desk.example; ((((", forgedPass}, checked: true},
	{name: "';' in the sender's quoted envelope address", headers: []string{"mx.desk.example; spf=pass smtp.mailfrom=\"a;b\"@acme.example"}, pass: true, checked: true},
	{name: "';' in the sender's quoted envelope address, other domain", headers: []string{"mx.desk.example; spf=pass smtp.mailfrom=\"a;b\"@evil.example", forgedPass}, checked: true},
	{name: "results injected through a quoted envelope address", headers: []string{"mx.desk.example; spf=pass smtp.mailfrom=\"x; dmarc=pass header.from=acme.example; y\"@evil.example"}, checked: true, reason: "spf=pass smtp.mailfrom="},
	{name: "the From domain inside a quoted local part", headers: []string{"mx.desk.example; spf=pass smtp.mailfrom=\"x@acme.example\"@evil.example"}, checked: true},
	{name: "results injected through an address quoted in a comment", headers: []string{"mx.google.com; spf=pass (google.com: domain of \"x); dmarc=pass header.from=acme.example; spf=pass (\"@evil.example designates 192.0.2.66 as permitted sender) smtp.mailfrom=\"x); dmarc=pass header.from=acme.example; spf=pass (\"@evil.example"},
		checked: true, reason: "parenthesis inside quotes inside a comment"},
	{name: "two dmarc verdicts in one header", headers: []string{"mx.desk.example; dmarc=fail header.from=acme.example; dmarc=pass header.from=acme.example"}, checked: true, reason: "2 dmarc results"},
	{name: "a property given twice", headers: []string{"mx.desk.example; dkim=pass header.d=evil.example header.d=acme.example"}, checked: true, reason: "given twice"},
	{name: "a result without a value", headers: []string{"mx.desk.example; dkim header.d=acme.example", forgedPass}, checked: true},
	{name: "a quoted result", headers: []string{"mx.desk.example; dmarc=\"pass\" header.from=acme.example"}, checked: true},
	{name: "terminal escapes do not reach the reason", headers: []string{"mx.desk.example; dkim=fail header.d=\x1b[2J\u202eevil.example"}, checked: true, reason: "header.d=?[2J?evil.example"},
	{name: "trusted header below a broken untrusted one", headers: []string{"relay.example; ((", "mx.desk.example; dmarc=pass header.from=acme.example"}, pass: true, checked: true},
}

func TestAuthenticate(t *testing.T) {
	for _, tt := range authCases {
		from := tt.from
		switch from {
		case "":
			from = "acme.example"
		case "-":
			from = ""
		}
		got := Authenticate(tt.headers, from, trustedIDs)
		if got.Pass != tt.pass || got.Checked != tt.checked || got.Reason == "" || !strings.Contains(got.Reason, tt.reason) {
			t.Errorf("%s: %+v, want pass=%v checked=%v, reason with %q", tt.name, got, tt.pass, tt.checked, tt.reason)
		}
		if len(got.Reason) > 1000 {
			t.Errorf("%s: reason of %d bytes", tt.name, len(got.Reason))
		}
	}
}

// Without trusted authserv-ids nothing is read: nobody's header is ours.
func TestAuthenticateNothingTrusted(t *testing.T) {
	got := Authenticate([]string{forgedPass}, "acme.example", nil)
	if got.Pass || got.Checked || got.Reason != noTrusted {
		t.Fatalf("%+v", got)
	}
}

// The authserv-id is read even when what follows it cannot be.
func TestParseAuthResults(t *testing.T) {
	tests := []struct {
		in      string
		id      string
		results string // method=value prop=value ...; ...
		err     string
	}{
		{in: "mx.google.com; dkim=pass header.i=@x.com header.s=s1 header.b=abc; spf=pass (google.com: domain of a@x.com designates 1.2.3.4 as permitted sender) smtp.mailfrom=a@x.com; dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=x.com",
			id: "mx.google.com", results: "dkim=pass header.b=abc header.i=@x.com header.s=s1; spf=pass smtp.mailfrom=a@x.com; dmarc=pass header.from=x.com"},
		{in: "mx.desk.example; dkim=pass (2048-bit key; unprotected) header.d=x.com header.b=\"a\\\"b\"", id: "mx.desk.example", results: "dkim=pass header.b=a\"b header.d=x.com"},
		{in: "mx.desk.example; spf=pass smtp.mailfrom=\"a;b\"@x.com", id: "mx.desk.example", results: "spf=pass smtp.mailfrom=\"a;b\"@x.com"},
		{in: "mx.desk.example;dkim=none (message not signed) header.d=none;dmarc=pass action=none header.from=x.com;compauth=pass reason=100",
			id: "mx.desk.example", results: "dkim=none header.d=none; dmarc=pass header.from=x.com; compauth=pass"},
		{in: "mx.desk.example; none", id: "mx.desk.example"},
		{in: "mx.desk.example; dkim=pass (unterminated", id: "mx.desk.example", err: "unterminated comment"},
		{in: "mx.desk.example 1.5; dkim=pass", id: "mx.desk.example", err: "unsupported version"},
		{in: "mx.desk.example; dkim=pass header.d=x.com; bogus", id: "mx.desk.example", results: "dkim=pass header.d=x.com", err: "without result"},
		{in: "mx.desk.example (\"x(\") ; dkim=pass", id: "mx.desk.example", err: "parenthesis inside quotes"},
		{in: "(unterminated mx.desk.example; dkim=pass", err: "unterminated comment"},
		{in: "spf=pass smtp.mailfrom=x.com", id: "spf", err: "expected ';'"},
		{in: "", err: "no authserv-id"},
		{in: "; dkim=pass", err: "no authserv-id"},
	}
	for _, tt := range tests {
		id, results, err := parseAuthResults(tt.in, nil)
		var rs []string
		for _, r := range results {
			s := r.method + "=" + r.value
			for _, k := range slices.Sorted(maps.Keys(r.props)) {
				s += " " + k + "=" + r.props[k]
			}
			rs = append(rs, s)
		}
		if id != tt.id || strings.Join(rs, "; ") != tt.results || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%q:\n got id %q results %q err %v\nwant id %q results %q err %q", tt.in, id, strings.Join(rs, "; "), err, tt.id, tt.results, tt.err)
		}
	}
}

// TestAuthResultsLinear: reading a header costs work in proportion to its
// length, whatever its shape; counted, not timed. Doubling a hostile input
// at most doubles the work, and the work per byte is bounded.
func TestAuthResultsLinear(t *testing.T) {
	shapes := map[string]func(n int) string{
		"nesting": func(n int) string {
			return "mx.desk.example; dmarc=pass " + strings.Repeat("(", n) + strings.Repeat(")", n)
		},
		"unterminated":       func(n int) string { return "mx.desk.example; dmarc=pass " + strings.Repeat("(", n) },
		"quotes in comments": func(n int) string { return "mx.desk.example; dmarc=pass (" + strings.Repeat(`"a" `, n) + ")" },
		"escapes":            func(n int) string { return "mx.desk.example; dkim=pass header.b=\"" + strings.Repeat(`\"`, n) + "\"" },
		"results":            func(n int) string { return "mx.desk.example" + strings.Repeat("; dkim=fail header.d=acme.example", n) },
		"semicolons":         func(n int) string { return "mx.desk.example" + strings.Repeat(";", n) },
		"properties":         func(n int) string { return "mx.desk.example; x=y" + strings.Repeat(" a=b", n) },
		"unterminated quote": func(n int) string { return "mx.desk.example; dkim=pass header.b=\"" + strings.Repeat("a(", n) },
		"comment per word":   func(n int) string { return "mx.desk.example; dkim=pass" + strings.Repeat(" (c)", n) },
	}
	for name, shape := range shapes {
		small, large := shape(200), shape(400)
		if len(large) > maxAuthResults {
			t.Fatalf("%s: %d bytes is over the cap, the test measures nothing", name, len(large))
		}
		var ws, wl int
		parseAuthResults(small, &ws)
		parseAuthResults(large, &wl)
		if wl > 2*ws+64 || wl > 3*len(large)+16 {
			t.Errorf("%s: %d steps for %d bytes, %d for %d", name, ws, len(small), wl, len(large))
		}
	}
	// Over the cap: the rest is not looked at.
	var w int
	parseAuthResults("mx.desk.example; dmarc=pass ("+strings.Repeat("x", 100*maxAuthResults), &w)
	if w > 3*maxAuthResults {
		t.Errorf("%d steps for a header over the cap", w)
	}
}
