package language

import (
	"slices"
	"sync"
	"unicode"
	"unicode/utf8"
)

// This is whatlanggo's detection (DetectWithOptions with a whitelist of
// Dutch and English) done the same way with less work: it was 80% of
// ingest's CPU time per mail (whatlanggo builds a []rune and a string per
// trigram, counts them in a map of strings and sorts them with
// sort.SliceStable's reflection). The steps, and so the results, are
// whatlanggo v1.0.1's:
//
//  1. The script is the one most letters belong to; only Latin text can be
//     Dutch or English.
//  2. Every rune is lower-cased, punctuation, symbols, digits and spaces
//     become a space, and the trigrams (with a space before the text and
//     after it) are counted, leaving out those with a space in the middle
//     and one at either end.
//  3. The trigrams are ranked by count, most frequent first; equal counts
//     by the trigram's text, greatest first.
//  4. A language's distance is the sum over its profile (300 trigrams,
//     most frequent first) of how far each trigram's rank in the text is
//     from its rank in the profile, 300 for one the text lacks.
//  5. The nearer language wins, with whatlanggo's confidence formula.
//
// A trigram is packed into a uint64 (21 bits per rune), so comparing two
// packed trigrams compares their runes in order, which is how their UTF-8
// strings compare.

const (
	maxTrigramDistance = 300                                     // whatlanggo's
	maxTotalDistance   = maxTrigramDistance * maxTrigramDistance // 90,000
)

type profile struct {
	lang string
	keys []uint64 // packed trigrams, most frequent first
}

var profiles = [2]profile{{English, packProfile(profileEng)}, {Dutch, packProfile(profileNld)}}

func packProfile(p []string) []uint64 {
	out := make([]uint64, len(p))
	for i, s := range p {
		rs := []rune(s)
		if len(rs) != 3 {
			panic("language: profile trigram " + s + " is not three runes")
		}
		out[i] = pack(rs[0], rs[1], rs[2])
	}
	return out
}

func pack(a, b, c rune) uint64 { return uint64(a)<<42 | uint64(b)<<21 | uint64(c) }

type trigramCount struct {
	key   uint64
	count int32
	slot  int32
}

// scratch is reused between calls: a mail's text has a few thousand
// trigrams, counted in an open-addressing table (keys with the top bit set,
// 0 meaning empty) that is cheaper than a map.
type scratch struct {
	runes   []rune
	keys    []uint64
	vals    []int32
	counted []trigramCount
	start   []int32
	order   []uint64
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

const occupied = 1 << 63

// slot returns the table index of key, claiming an empty one for it when
// add is set; -1 when key is absent and add is not set.
func (s *scratch) slot(key uint64, add bool) int {
	key |= occupied
	mask := len(s.keys) - 1
	i := int((key*0x9e3779b97f4a7c15)>>32) & mask
	for {
		switch s.keys[i] {
		case key:
			return i
		case 0:
			if !add {
				return -1
			}
			s.keys[i] = key
			s.vals[i] = 0
			return i
		}
		i = (i + 1) & mask
	}
}

// rank replaces every counted trigram's count in the table with its rank:
// 0 for the most frequent, equal counts by key, the greatest first. The
// trigrams are bucketed by count (a counting sort), and only each bucket's
// keys are sorted, as plain integers.
func (s *scratch) rank() {
	maxCount := int32(0)
	for i := range s.counted {
		c := s.vals[s.counted[i].slot]
		s.counted[i].count = c
		maxCount = max(maxCount, c)
	}
	// start[c]: where the bucket of count c begins, the highest count first.
	s.start = slices.Grow(s.start[:0], int(maxCount)+2)[:maxCount+2]
	clear(s.start)
	for _, t := range s.counted {
		s.start[t.count]++
	}
	at := int32(0)
	for c := maxCount; c >= 1; c-- {
		n := s.start[c]
		s.start[c] = at
		at += n
	}
	s.start[maxCount+1] = 0
	s.order = slices.Grow(s.order[:0], len(s.counted))[:len(s.counted)]
	for _, t := range s.counted {
		// Complemented, so that ascending order is descending keys.
		s.order[s.start[t.count]] = ^t.key
		s.start[t.count]++
	}
	// Each start[c] now is where bucket c ends, which is where c-1 begins.
	from := int32(0)
	for c := maxCount; c >= 1; c-- {
		to := s.start[c]
		if to-from > 1 {
			slices.Sort(s.order[from:to])
		}
		from = to
	}
	for rank, k := range s.order {
		s.vals[s.slot(^k, false)] = int32(rank)
	}
}

// detect returns the language of text (English or Dutch) and whatlanggo's
// confidence in it; "" and 0 when it cannot tell.
func detect(text string) (string, float64) {
	if !latinScript(text) {
		return "", 0
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	s.runes = s.runes[:0]
	for _, r := range text {
		s.runes = append(s.runes, trigramRune(r))
	}
	s.runes = append(s.runes, ' ')
	// At most one trigram per rune: a table twice that size stays sparse.
	size := 64
	for size < 2*len(s.runes) {
		size *= 2
	}
	if cap(s.keys) < size {
		s.keys, s.vals = make([]uint64, size), make([]int32, size)
	} else {
		s.keys, s.vals = s.keys[:size], s.vals[:size]
		clear(s.keys)
	}
	s.counted = s.counted[:0]
	r1, r2 := rune(' '), s.runes[0]
	for _, r3 := range s.runes[1:] {
		if !(r2 == ' ' && (r1 == ' ' || r3 == ' ')) {
			key := pack(r1, r2, r3)
			i := s.slot(key, true)
			if s.vals[i] == 0 {
				s.counted = append(s.counted, trigramCount{key: key, slot: int32(i)})
			}
			s.vals[i]++
		}
		r1, r2 = r2, r3
	}
	s.rank()
	var dist [len(profiles)]int
	for p, prof := range profiles {
		for i, k := range prof.keys {
			if j := s.slot(k, false); j >= 0 {
				dist[p] += abs(int(s.vals[j]) - i)
			} else {
				dist[p] += maxTrigramDistance
			}
		}
	}
	return confidence(dist, len(s.counted))
}

// confidence is whatlanggo's calculateConfidence for two languages.
func confidence(dist [2]int, trigrams int) (string, float64) {
	best, second := 0, 1
	if dist[1] < dist[0] {
		best, second = 1, 0
	}
	score1 := maxTotalDistance - dist[best]
	score2 := maxTotalDistance - dist[second]
	switch {
	case score1 == score2:
		// whatlanggo returns either language then (map order), always with
		// confidence 0 (or none at all when both scores are 0).
		return "", 0
	case score2 == 0:
		// An integer division in whatlanggo: kept.
		return profiles[best].lang, min(float64(score1/500), 1)
	}
	rate := float64(score1-score2) / float64(score2)
	confidentRate := 12.0/float64(trigrams) + 0.05
	if rate > confidentRate {
		return profiles[best].lang, 1
	}
	return profiles[best].lang, rate / confidentRate
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// trigramRune is whatlanggo's unicode.ToLower(toTrigramChar(r)).
func trigramRune(r rune) rune {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z':
			return r
		case 'A' <= r && r <= 'Z':
			return r + 'a' - 'A'
		}
	}
	if isStop(r) {
		return ' '
	}
	return unicode.ToLower(r)
}

// isStop is whatlanggo's isStopChar: space, punctuation, symbol or digit.
func isStop(r rune) bool {
	return unicode.IsSymbol(r) || unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsDigit(r)
}

// scripts are the scripts whatlanggo's DetectScript counts, in the order
// it starts with; Latin first.
var scripts = [...]*unicode.RangeTable{
	unicode.Latin, unicode.Cyrillic, unicode.Arabic, unicode.Devanagari, hiraganaKatakana, unicode.Ethiopic,
	unicode.Hebrew, unicode.Bengali, unicode.Georgian, unicode.Han, unicode.Hangul, unicode.Greek, unicode.Kannada,
	unicode.Tamil, unicode.Thai, unicode.Gujarati, unicode.Gurmukhi, unicode.Telugu, unicode.Malayalam, unicode.Oriya,
	unicode.Myanmar, unicode.Sinhala, unicode.Khmer,
}

// hiraganaKatakana is whatlanggo's table for Japanese kana, built the same way.
var hiraganaKatakana = &unicode.RangeTable{
	R16: append(slices.Clone(unicode.Hiragana.R16), unicode.Katakana.R16...),
	R32: append(slices.Clone(unicode.Hiragana.R32), unicode.Katakana.R32...),
}

// latinScript reports whether whatlanggo's DetectScript would say Latin:
// it counts the runes (other than stop characters) of each script, moving
// a script one place forward in its list whenever it counts a rune; a
// script with more than half as many runes as the text has bytes wins at
// once, otherwise the one with the highest count, the earlier in the list
// on a tie. The scripts do not overlap, so a rune counts for one at most.
func latinScript(text string) bool {
	const latin = 0
	halfLen := len(text) / 2
	var count [len(scripts)]int
	var order, pos [len(scripts)]int8 // order[i]: the script at place i; pos: its inverse
	for i := range scripts {
		order[i], pos[i] = int8(i), int8(i)
	}
	for _, r := range text {
		s := -1
		switch {
		case 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
			s = latin
		case isStop(r):
			continue
		case r >= utf8.RuneSelf:
			for i, t := range scripts {
				if unicode.Is(t, r) {
					s = i
					break
				}
			}
		}
		if s < 0 {
			continue
		}
		count[s]++
		if count[s] > halfLen {
			return s == latin
		}
		if p := pos[s]; p > 0 {
			prev := order[p-1]
			order[p-1], order[p] = int8(s), prev
			pos[s], pos[prev] = p-1, p
		}
	}
	best, most := -1, 0
	for _, s := range order {
		if count[s] > most {
			best, most = int(s), count[s]
		}
	}
	return best == latin
}
