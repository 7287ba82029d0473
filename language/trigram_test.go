package language

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"

	"github.com/abadojack/whatlanggo"
)

// reference is what Detect was before trigram.go: whatlanggo itself.
func reference(text string) string {
	if len(text) > maxInput {
		text = strings.ToValidUTF8(text[:maxInput], "")
	}
	letters := 0
	for _, r := range text {
		if unicode.IsLetter(r) {
			letters++
		}
	}
	if letters < minLetters {
		return ""
	}
	info := whatlanggo.DetectWithOptions(text, whatlanggo.Options{Whitelist: map[whatlanggo.Lang]bool{whatlanggo.Nld: true, whatlanggo.Eng: true}})
	if info.Confidence < minConfidence {
		return ""
	}
	switch info.Lang {
	case whatlanggo.Nld:
		return Dutch
	case whatlanggo.Eng:
		return English
	}
	return ""
}

// referenceConfidence is whatlanggo's language and confidence, for texts
// whose two distances differ (on a tie whatlanggo picks by map order).
func referenceConfidence(text string) (string, float64) {
	info := whatlanggo.DetectWithOptions(text, whatlanggo.Options{Whitelist: map[whatlanggo.Lang]bool{whatlanggo.Nld: true, whatlanggo.Eng: true}})
	switch info.Lang {
	case whatlanggo.Nld:
		return Dutch, info.Confidence
	case whatlanggo.Eng:
		return English, info.Confidence
	}
	return "", info.Confidence
}

var (
	dutchWords   = strings.Fields("de het een van en in is dat op te zijn voor met niet aan er maar om ook als bij nog wel wij jullie kunnen printer server werkt sinds vanochtend graag snel mogelijk groet vriendelijke inloggen wachtwoord verdieping tweede storing melding opgelost")
	englishWords = strings.Fields("the a of and to in is that on for with not it be but we you could printer server works since this morning please soon possible regards kind log password floor second outage report solved")
	oddWords     = strings.Fields("café naïve één geïnstalleerd Ökonomie straße ÉCOLE 12:30 #42 :-) (ok) e-mail https://example.com/a?b=c ☺ € 𝔘𝔫𝔦 Привет 東京 γεια שלום \u0301e \x01x \xff\xfe")
)

// randomText mixes words of both languages, odd words, punctuation and case.
func randomText(rng *rand.Rand) string {
	var b strings.Builder
	n := rng.IntN(400)
	bias := rng.Float64()
	for range n {
		var list []string
		switch f := rng.Float64(); {
		case f < 0.05:
			list = oddWords
		case f < 0.05+0.95*bias:
			list = dutchWords
		default:
			list = englishWords
		}
		w := list[rng.IntN(len(list))]
		if rng.IntN(10) == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b.WriteString(w)
		switch rng.IntN(12) {
		case 0:
			b.WriteString(". ")
		case 1:
			b.WriteString(",\n")
		case 2:
			b.WriteString("\r\n\r\n")
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func TestDetectMatchesWhatlanggo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	texts := []string{
		"Goedemiddag,\n\nSinds vanochtend kunnen wij niet meer inloggen op de server.",
		"Hello,\n\nSince this morning we cannot log in to the server any more.",
		strings.Repeat("De server is niet bereikbaar sinds vanochtend. ", 10000) + "é",
		strings.Repeat("ab", 3000), "Привет, как дела? Сервер не работает с утра, помогите пожалуйста",
		"東京のサーバーが朝から動いていません。 the server", "Ökonomie straße café naïve één ÉCOLE geïnstalleerd werkt niet",
	}
	for range 3000 {
		texts = append(texts, randomText(rng))
	}
	// Ties between scripts: whatlanggo's order decides.
	for _, t := range []string{"ab где", "где ab", "abc где xyz ты", "αβ ab γδ", "日本 ab", "ab 日本", "かな ab 日本", "a б c д e ж", "б a д c ж e"} {
		texts = append(texts, t, strings.Repeat(t+" ", 30), t+strings.Repeat(" ", 40))
	}
	for _, text := range texts {
		if got, want := latinScript(text), whatlanggo.DetectScript(text) == unicode.Latin; got != want {
			t.Errorf("latinScript(%q) = %v, whatlanggo %v", text, got, want)
		}
	}
	differ := 0
	for _, text := range texts {
		if got, want := Detect(text), reference(text); got != want {
			t.Errorf("Detect(%q) = %q, whatlanggo says %q", text, got, want)
		}
		// The confidence itself, where whatlanggo's answer is not map order.
		if len(text) > maxInput || !latinScript(text) {
			continue
		}
		lang, c := detect(text)
		if c == 0 {
			continue
		}
		differ++
		wl, wc := referenceConfidence(text)
		if lang != wl || c != wc {
			t.Errorf("detect(%q) = %q %v, whatlanggo %q %v", text, lang, c, wl, wc)
		}
	}
	if differ < 1000 {
		t.Errorf("only %d texts had a confidence to compare", differ)
	}
}

func FuzzDetectMatchesWhatlanggo(f *testing.F) {
	for _, s := range []string{"", "Goedemorgen, de server is stuk en de printer ook", "Hello, the server is down and the printer too", "\xff\xfe", "Ökonomie straße café"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := latinScript(s), whatlanggo.DetectScript(s) == unicode.Latin; got != want {
			t.Fatalf("latinScript(%q) = %v, whatlanggo %v", s, got, want)
		}
		if got, want := Detect(s), reference(s); got != want {
			t.Fatalf("Detect(%q) = %q, whatlanggo says %q", s, got, want)
		}
	})
}

// BenchmarkDetect: a mail's opening lines of ordinary English (words only
// from the test's lists), and the random mix with punctuation, other
// scripts and invalid bytes; each cut to Detect's 4096 bytes.
func BenchmarkDetect(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	var plain strings.Builder
	for plain.Len() < maxInput {
		plain.WriteString(englishWords[rng.IntN(len(englishWords))] + " ")
	}
	mixed := randomText(rng)
	for len(mixed) < maxInput {
		mixed += " " + mixed
	}
	for _, tc := range []struct{ name, text string }{{"text=plain", plain.String()[:maxInput]}, {"text=mixed", mixed[:maxInput]}} {
		b.Run(tc.name+"/maildesk", func(b *testing.B) {
			for b.Loop() {
				Detect(tc.text)
			}
		})
		b.Run(tc.name+"/whatlanggo", func(b *testing.B) {
			for b.Loop() {
				reference(tc.text)
			}
		})
	}
}
