package address

import (
	"slices"
	"testing"
)

func TestSpellings(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"jan@acme.example", []string{"jan@acme.example"}},
		{"jan@xn--bcher-kva.example", []string{"jan@xn--bcher-kva.example", "jan@bücher.example"}},
		{"jörg@xn--bcher-kva.example", []string{"jörg@xn--bcher-kva.example", "jörg@bücher.example"}},
		{"no-at-sign", []string{"no-at-sign"}},
	} {
		if got := Spellings(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Spellings(%q) = %q, want %q", c.in, got, c.want)
		}
		for _, s := range Spellings(c.in) {
			if n, err := Normalise(s); err == nil && n != c.in {
				t.Errorf("Spellings(%q) has %q, which is %q", c.in, s, n)
			}
		}
	}
}
