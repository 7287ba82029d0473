package language

import (
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"dutch outage", "Goedemiddag,\n\nSinds vanochtend kunnen wij niet meer inloggen op de server. Kunnen jullie hier zo snel mogelijk naar kijken?\n\nMet vriendelijke groet,\nAnna", "nl"},
		{"english outage", "Hello,\n\nSince this morning we cannot log in to the server any more. Could you please look into this as soon as possible?\n\nKind regards,\nAnna", "en"},
		{"dutch short", "De printer op de tweede verdieping doet het niet meer.", "nl"},
		{"english short", "The printer on the second floor does not work anymore.", "en"},
		{"too short", "Printer kapot", ""},
		{"no letters", "12345 67890 !!! ???", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect(tt.text); got != tt.want {
				t.Errorf("Detect(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestDetectBoundsInput(t *testing.T) {
	long := strings.Repeat("De server is niet bereikbaar sinds vanochtend. ", 10000) + "é"
	if got := Detect(long); got != "nl" {
		t.Errorf("Detect(long Dutch) = %q", got)
	}
}

func FuzzDetect(f *testing.F) {
	for _, s := range []string{"", "Goedemorgen, de server is stuk", "Hello, the server is down", "\xff\xfe", strings.Repeat("ab", 3000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		switch got := Detect(s); got {
		case "", "nl", "en":
		default:
			t.Fatalf("Detect(%q) = %q", s, got)
		}
	})
}
