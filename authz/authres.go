package authz

import (
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/authres"
	"golang.org/x/net/publicsuffix"
)

// Authentication is the verdict on whether a mail's From domain was
// authenticated by one of the desk's own MTAs.
type Authentication struct {
	Pass bool
	// Checked: a trusted Authentication-Results header was there; without
	// one nothing is known either way.
	Checked bool
	Reason  string // what passed, or why nothing did
}

// Authenticate reads the Authentication-Results headers of a mail (values
// as received, newest first) and decides whether fromDomain passed DMARC,
// or DKIM or SPF aligned with it (relaxed alignment: same organisational
// domain). Only the topmost header whose authserv-id is trusted counts: it
// is the one our own MTA added; anyone can add headers further down, even
// with our authserv-id, before the mail reaches us.
func Authenticate(headers []string, fromDomain string, trusted []string) Authentication {
	fromDomain = strings.ToLower(strings.TrimSpace(fromDomain))
	var failures []string
	for _, h := range headers {
		id, results, err := authres.Parse(h)
		if err != nil || !trustedID(id, trusted) {
			continue
		}
		if fromDomain == "" {
			return Authentication{Checked: true, Reason: "no From domain"}
		}
		for _, r := range results {
			switch r := r.(type) {
			case *authres.DMARCResult:
				if r.Value == authres.ResultPass && (r.From == "" || aligned(r.From, fromDomain)) {
					return Authentication{Pass: true, Checked: true, Reason: "dmarc=pass (" + id + ")"}
				}
				failures = append(failures, "dmarc="+string(r.Value))
			case *authres.DKIMResult:
				d := r.Domain
				if d == "" {
					_, d, _ = strings.Cut(r.Identifier, "@")
				}
				if r.Value == authres.ResultPass && aligned(d, fromDomain) {
					return Authentication{Pass: true, Checked: true, Reason: "dkim=pass header.d=" + d + " (" + id + ")"}
				}
				failures = append(failures, fmt.Sprintf("dkim=%s header.d=%s", r.Value, d))
			case *authres.SPFResult:
				d := r.From
				if i := strings.LastIndexByte(d, '@'); i >= 0 {
					d = d[i+1:]
				}
				if r.Value == authres.ResultPass && aligned(d, fromDomain) {
					return Authentication{Pass: true, Checked: true, Reason: "spf=pass smtp.mailfrom=" + d + " (" + id + ")"}
				}
				failures = append(failures, fmt.Sprintf("spf=%s smtp.mailfrom=%s", r.Value, d))
			}
		}
		return Authentication{Checked: true, Reason: "not authenticated for " + fromDomain + ": " + strings.Join(failures, ", ")}
	}
	return Authentication{Reason: "no Authentication-Results from a trusted authserv-id"}
}

func trustedID(id string, trusted []string) bool {
	for _, t := range trusted {
		if strings.EqualFold(strings.TrimSpace(id), t) {
			return true
		}
	}
	return false
}

// aligned: relaxed DMARC alignment, the same organisational domain.
func aligned(a, b string) bool {
	a, b = strings.ToLower(strings.TrimSuffix(a, ".")), strings.ToLower(strings.TrimSuffix(b, "."))
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	oa, err1 := publicsuffix.EffectiveTLDPlusOne(a)
	ob, err2 := publicsuffix.EffectiveTLDPlusOne(b)
	return err1 == nil && err2 == nil && oa == ob
}
