package address

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalise(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "jan@acme.example", want: "jan@acme.example"},
		{in: " Jan@ACME.Example ", want: "jan@acme.example"},
		{in: "jan@bücher.example", want: "jan@xn--bcher-kva.example"},
		{in: "JAN@BÜCHER.EXAMPLE", want: "jan@xn--bcher-kva.example"},
		{in: "jan@XN--BCHER-KVA.example", want: "jan@xn--bcher-kva.example"},
		{in: "jan@bu\u0308cher.example", want: "jan@xn--bcher-kva.example"}, // decomposed ü
		{in: "jan@münchen.example.", want: "jan@xn--mnchen-3ya.example"},
		{in: "jan@日本語。jp", want: "jan@xn--wgv71a119e.jp"},
		{in: "jan@ＡＣＭＥ.example", want: "jan@acme.example"}, // full-width
		{in: "jan+x@acme.example", want: "jan+x@acme.example"},
		{in: "jan@acme..example", bad: true},
		{in: "jan@-acme.example", bad: true},
		{in: "jan@acme_bv.example", bad: true},
		{in: "jan@" + strings.Repeat("a", 64) + ".example", bad: true},
		{in: "jan@", bad: true},
		{in: "@acme.example", bad: true},
		{in: "jan", bad: true},
		{in: "jan@[192.0.2.1]", bad: true},
		{in: "jan@a\u0301cme.example", want: "jan@xn--cme-dla.example"}, // á composed by NFC
		{in: "jan@\u0301acme.example", bad: true},                       // starts with a combining mark
		{in: "jan@straße.example", want: "jan@xn--strae-oqa.example"},   // non-transitional: ß stays
		{in: "jan@xn--zz.example", bad: true},                           // not valid punycode
		{in: "jan@acme.example..", bad: true},                           // an empty label, as acme..example
		{in: "jan@acme.example.。", bad: true},                           // the same, the last dot mapped
		{in: "jan@acme.example。", want: "jan@acme.example"},             // the root, written as an ideographic full stop
		{in: "jan@.", bad: true},
		{in: "jan@acme\xff.example", bad: true}, // idna would encode U+FFFD
		{in: "jan\xff@acme.example", bad: true}, // lower-casing would make it U+FFFD
		{in: "jan@acme.example\xc3", bad: true}, // cut in the middle of a rune
	}
	for _, tt := range tests {
		got, err := Normalise(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("address.Normalise(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func TestCheckBare(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"desk@example.com", true},
		{"Desk <desk@example.com>", false},
		{"<desk@example.com>", false},
		{"desk", false},
		{"", false},
	} {
		if err := CheckBare(tt.in); (err == nil) != tt.ok {
			t.Errorf("CheckBare(%q) = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}

func TestBare(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Jan <Jan@Acme.Example>", "jan@acme.example"},
		{" jan@acme.example ", "jan@acme.example"},
		{`"Jan, Sales" <jan@acme.example>`, "jan@acme.example"},
		{"Not An Address", "not an address"},
		{"", ""},
	} {
		if got := Bare(tt.in); got != tt.want {
			t.Errorf("Bare(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzNormalise: addresses come from mail headers and imported files. No
// input may panic, invalid UTF-8 is refused (it would become U+FFFD), and
// the canonical form is its own canonical form: an address stored once
// normalised is found again by the same address normalised anew.
func FuzzNormalise(f *testing.F) {
	for _, s := range []string{"jan@acme.example", " Jan@Bücher.example ", "jan@日本語。jp", "jan@xn--zz.example", "@", "a@b@c.example",
		"a@b..", "a@b.", "a@b.。", "a@b\xff.example", "a\xff@b.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Normalise(in)
		if !utf8.ValidString(in) {
			if err == nil {
				t.Fatalf("Normalise(%q) = %q: invalid UTF-8 accepted", in, got)
			}
			return
		}
		if err != nil {
			return
		}
		if !utf8.ValidString(got) || strings.TrimSpace(got) != got {
			t.Fatalf("Normalise(%q) = %q: not trimmed UTF-8", in, got)
		}
		if again, err := Normalise(got); err != nil || again != got {
			t.Fatalf("Normalise(%q) = %q, but Normalise(%q) = %q, %v", in, got, got, again, err)
		}
		d := got[strings.LastIndexByte(got, '@')+1:]
		if again, err := NormaliseDomain(d); err != nil || again != d {
			t.Fatalf("NormaliseDomain(%q) = %q, %v: the domain of a canonical address is not canonical", d, again, err)
		}
	})
}
