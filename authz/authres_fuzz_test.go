package authz

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzAuthenticationResults reads arbitrary Authentication-Results values
// as the topmost header of the desk's own MTA, and checks what must hold
// whatever the MTA or a sender wrote:
//   - the work is linear in the header's length (counted, capped);
//   - a header the parser rejects is a failure, never a pass;
//   - a pass comes from a result that says pass;
//   - a sender's header below the trusted one changes nothing;
//   - the reason is short and free of control characters.
func FuzzAuthenticationResults(f *testing.F) {
	for _, c := range authCases {
		for _, h := range c.headers {
			if len(h) < 4096 {
				f.Add(h, "acme.example")
			}
		}
	}
	f.Add("mx.desk.example; dkim=pass (2048-bit key; unprotected) header.d=acme.example", "acme.example")
	f.Add("mx.desk.example; spf=pass smtp.mailfrom=\"a;b\"@acme.example", "acme.example")
	f.Add("mx.desk.example (x \"(\" y); dmarc=pass header.from=acme.example", "acme.example")
	f.Add("mx.desk.example; dkim=pass header.b=\"\\", "acme.example")
	f.Fuzz(func(t *testing.T, h, from string) {
		var steps int
		id, results, err := parseAuthResults(h, &steps)
		if n := min(len(h), maxAuthResults); steps > 3*n+16 {
			t.Fatalf("%d steps for %d bytes", steps, n)
		}
		if err == nil && id == "" {
			t.Fatalf("read without an authserv-id: %+v", results)
		}
		if id == "" || strings.TrimSpace(id) == "" {
			// Nobody's header: it can never be trusted.
			if got := Authenticate([]string{h}, from, []string{id}); got.Checked || got.Pass {
				t.Fatalf("header without authserv-id counted: %+v", got)
			}
			return
		}
		trusted := []string{id}
		alone := Authenticate([]string{h}, from, trusted)
		if !alone.Checked {
			t.Fatalf("trusted header not checked: %+v", alone)
		}
		if err != nil && alone.Pass {
			t.Fatalf("unreadable header (%v) passed: %+v", err, alone)
		}
		if alone.Pass {
			said := false
			for _, r := range results {
				said = said || r.value == "pass"
			}
			if !said {
				t.Fatalf("passed, but no result says pass: %+v", results)
			}
		}
		forged := id + "; dmarc=pass header.from=" + from + "; dkim=pass header.d=" + from + "; spf=pass smtp.mailfrom=x@" + from
		if below := Authenticate([]string{h, forged}, from, trusted); below != alone {
			t.Fatalf("a header below the trusted one changed the verdict: %+v, alone %+v", below, alone)
		}
		if len(alone.Reason) > 2048 {
			t.Fatalf("reason of %d bytes", len(alone.Reason))
		}
		if strings.ContainsFunc(alone.Reason, func(r rune) bool { return r < 0x20 || r == 0x7f || r == utf8.RuneError }) {
			t.Fatalf("control characters in reason %q", alone.Reason)
		}
	})
}
