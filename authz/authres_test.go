package authz

import "testing"

func TestAuthenticate(t *testing.T) {
	trusted := []string{"mx.desk.example"}
	tests := []struct {
		name    string
		headers []string
		from    string
		pass    bool
	}{
		{"dmarc pass", []string{"mx.desk.example; dmarc=pass header.from=acme.example"}, "acme.example", true},
		{"dkim aligned subdomain", []string{"mx.desk.example; dkim=pass header.d=mail.acme.example; spf=fail smtp.mailfrom=x@evil.example"}, "acme.example", true},
		{"spf aligned", []string{"mx.desk.example; spf=pass smtp.mailfrom=bounce@acme.example"}, "acme.example", true},
		{"dkim of another domain", []string{"mx.desk.example; dkim=pass header.d=evil.example"}, "acme.example", false},
		{"public suffix is no organisation", []string{"mx.desk.example; dkim=pass header.d=co.uk"}, "acme.co.uk", false},
		{"dmarc fail", []string{"mx.desk.example; dmarc=fail header.from=acme.example"}, "acme.example", false},
		{"untrusted authserv-id is ignored", []string{"attacker.example; dmarc=pass header.from=acme.example"}, "acme.example", false},
		{"trusted after untrusted", []string{"attacker.example; dmarc=pass", "MX.desk.example; dmarc=pass header.from=acme.example"}, "acme.example", true},
		{"only the topmost trusted header counts", []string{"mx.desk.example; dmarc=fail header.from=acme.example", "mx.desk.example; dmarc=pass header.from=acme.example"}, "acme.example", false},
		{"no header", nil, "acme.example", false},
		{"garbage", []string{";;;==="}, "acme.example", false},
	}
	for _, tt := range tests {
		got := Authenticate(tt.headers, tt.from, trusted)
		if got.Pass != tt.pass || got.Reason == "" {
			t.Errorf("%s: %+v, want pass=%v", tt.name, got, tt.pass)
		}
	}
}
