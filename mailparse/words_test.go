package mailparse

import (
	"strings"
	"testing"
)

// The lenient decoding of one word's text, as mailers write it.
func TestAppendWordBytes(t *testing.T) {
	tests := []struct {
		enc  byte
		text string
		want string
	}{
		{'B', "w6lsw6h2ZQ==", "élève"},
		{'b', "w6lsw6h2ZQ", "élève"},        // no padding
		{'B', "w6ls w6h2\nZQ==", "élève"},   // junk inside
		{'B', "YQ", "a"},                    // two characters: one byte
		{'B', "YWJj=ZGVm", "abcdef"},        // padding in the middle is junk
		{'B', "Y", ""},                      // a lone character carries no byte
		{'Q', "caf=C3=A9_ok", "café ok"},    // escapes, underscore
		{'q', "caf=c3=a9", "café"},          // lower-case hex
		{'Q', "a=b=", "a=b="},               // '=' that starts no escape
		{'Q', "what?_yes", "what? yes"},     // '?' inside
		{'Q', "raw\xe9byte", "raw\xe9byte"}, // 8-bit kept
		{'Q', "=4", "=4"},                   // cut escape
		{'Q', "=C3=A9=", "é="},              // trailing '='
	}
	for _, tt := range tests {
		if got := string(appendWordBytes(nil, tt.enc, tt.text)); got != tt.want {
			t.Errorf("%c %q: got %q, want %q", tt.enc, tt.text, got, tt.want)
		}
	}
}

// One header field's encoded words are decoded in its first 64 KiB only;
// the rest is kept as sent, and Parse says so.
func TestDecodeWordsCap(t *testing.T) {
	word := "=?utf-8?q?caf=C3=A9?= "
	v := strings.Repeat(word, (maxWordBytes+len(word))/len(word)*2)
	got, _, capped := decodeWordsCapped(v, "", nil, maxWordBytes)
	if !capped || !strings.HasPrefix(got, "cafécafé") || !strings.HasSuffix(got, strings.TrimSpace(word)+" ") {
		t.Fatalf("capped %v, got %q...%q", capped, got[:40], got[len(got)-40:])
	}
	if n := strings.Count(got, "café"); n < maxWordBytes/len(word) || n > maxWordBytes/len(word)+1 {
		t.Errorf("%d words decoded", n)
	}
	m := parseString(t, "From: a@example.com\nSubject: "+v+"\n\nbody\n", Limits{})
	if !strings.HasPrefix(m.Subject, "cafécafé") || !hasWarning(m, "encoded words beyond the first 64 KiB") {
		t.Errorf("subject %q..., warnings %q", m.Subject[:20], m.Warnings)
	}
	if _, _, capped := decodeWordsCapped(strings.Repeat(word, 10), "", nil, maxWordBytes); capped {
		t.Error("a short header was capped")
	}
}

// foldSpace is strings.Join(strings.Fields(s), " ") in one pass.
func FuzzFoldSpace(f *testing.F) {
	f.Add(" a \t\n b\u00a0c\u0085 ")
	f.Add("\xc2 x\xff  y")
	f.Fuzz(func(t *testing.T, s string) {
		if want, got := strings.Join(strings.Fields(s), " "), foldSpace(s); got != want {
			t.Fatalf("%q: %q, want %q", s, got, want)
		}
	})
}
