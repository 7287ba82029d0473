package mailparse

import (
	"strings"
	"testing"
)

func TestSplitQuoted(t *testing.T) {
	tests := []struct {
		name, text, fresh, quoted string
	}{
		{"no history", "Hallo,\n\nDe printer is stuk.\n", "Hallo,\n\nDe printer is stuk.", ""},
		{"gmail attribution",
			"Still broken.\n\nOn Sat, 21 Nov 2026 at 10:00, Desk <desk@x> wrote:\n> Your ticket SD-1\n> was received\n",
			"Still broken.", "On Sat, 21 Nov 2026 at 10:00, Desk <desk@x> wrote:\n> Your ticket SD-1\n> was received"},
		{"dutch attribution",
			"Nog steeds kapot.\n\nOp za 21 nov. 2026 om 10:00 schreef Servicedesk <desk@x>:\n> Uw melding\n",
			"Nog steeds kapot.", "Op za 21 nov. 2026 om 10:00 schreef Servicedesk <desk@x>:\n> Uw melding"},
		{"wrapped attribution",
			"Thanks\n\nOn Sat, 21 Nov 2026 at 10:00, Acme IT Servicedesk\n<servicedesk@desk.example> wrote:\n\n> hi\n",
			"Thanks", "On Sat, 21 Nov 2026 at 10:00, Acme IT Servicedesk\n<servicedesk@desk.example> wrote:\n\n> hi"},
		{"outlook separator",
			"See below.\n\n-----Original Message-----\nFrom: a\nSent: b\n",
			"See below.", "-----Original Message-----\nFrom: a\nSent: b"},
		{"outlook dutch header block",
			"Graag snel.\n\nVan: Servicedesk <desk@x>\nVerzonden: zaterdag 21 november 2026 10:00\nAan: Jan\nOnderwerp: [SD-1] Printer\n\nUw melding...\n",
			"Graag snel.", "Van: Servicedesk <desk@x>\nVerzonden: zaterdag 21 november 2026 10:00\nAan: Jan\nOnderwerp: [SD-1] Printer\n\nUw melding..."},
		{"signature", "Printer kapot.\n\n-- \nJan Jansen\nAcme BV\n", "Printer kapot.", "-- \nJan Jansen\nAcme BV"},
		{"mobile signature", "VPN werkt niet\n\nVerzonden vanaf mijn iPhone\n", "VPN werkt niet", "Verzonden vanaf mijn iPhone"},
		{"interleaved reply stays fresh", "> what model?\nHP 400\n> where?\n2nd floor\n", "> what model?\nHP 400\n> where?\n2nd floor", ""},
		{"only history counts as new", "> quoted only\n> more\n", "> quoted only\n> more", ""},
		{"a From: line in prose is not history", "From: the start it failed.\nThen it stopped.\n", "From: the start it failed.\nThen it stopped.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fresh, quoted := SplitQuoted(tt.text)
			if fresh != tt.fresh || quoted != tt.quoted {
				t.Fatalf("SplitQuoted:\nfresh  %q\nquoted %q\nwant\nfresh  %q\nquoted %q", fresh, quoted, tt.fresh, tt.quoted)
			}
			// Nothing is lost.
			for _, w := range strings.Fields(tt.text) {
				if !strings.Contains(fresh+"\n"+quoted, w) {
					t.Fatalf("lost %q", w)
				}
			}
		})
	}
}

func FuzzSplitQuoted(f *testing.F) {
	f.Add("a\n\nOn x wrote:\n> b\n")
	f.Add("-- \nsig")
	f.Fuzz(func(t *testing.T, s string) {
		w := &work{}
		fresh, quoted := splitQuoted(s, w)
		if len(fresh)+len(quoted) > len(s)+1 {
			t.Fatalf("output longer than input")
		}
		// Linear: a line meets the markers' expressions a bounded number
		// of times (about 50 units per byte at most, for header-like lines).
		if limit := int64(64*len(s) + 1024); w.used > limit {
			t.Fatalf("%d units of work for %d bytes, over %d", w.used, len(s), limit)
		}
	})
}
