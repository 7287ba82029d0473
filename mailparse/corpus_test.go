package mailparse

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/maildesk/maildesk/internal/testmail"
)

// corpusRecord holds the expectation fields of corpus/expected.jsonl that
// this parser can be held to; see corpus/NOTICE.md for their meaning.
type corpusRecord struct {
	File               string            `json:"file"`
	Tags               []string          `json:"tags"`
	TagBasis           map[string]string `json:"tag_basis"`
	BodyTextContains   []string          `json:"body_text_contains"`
	BodyMatch          string            `json:"body_match"`
	Attachments        *[]string         `json:"attachments"`
	AttachmentCount    *int              `json:"attachment_count"`
	AttachmentSHA256s  []string          `json:"attachment_sha256s"`
	InlineAttachments  []string          `json:"inline_attachments"`
	expectedSubject    *string
	expectedFromAddr   *string
	expectedFromName   *string
	expectedMessageID  *string
	hasSubject         bool
	hasFromAddr        bool
	hasFromName        bool
	hasMessageID       bool
	hasAttachmentNames bool
}

// nullableString decodes a field that may be a string or null; present
// reports whether the key was in the record at all (null means "absent from
// the mail", which is an expectation too).
func nullableString(rec map[string]json.RawMessage, key string) (val *string, present bool, err error) {
	raw, ok := rec[key]
	if !ok {
		return nil, false, nil
	}
	if string(raw) == "null" {
		return nil, true, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, true, err
	}
	return &s, true, nil
}

func loadCorpus(t *testing.T, dir string) []corpusRecord {
	t.Helper()
	var recs []corpusRecord
	for _, line := range testmail.CorpusRecords(t, dir) {
		var r corpusRecord
		var raw map[string]json.RawMessage
		if err := errors.Join(json.Unmarshal(line, &r), json.Unmarshal(line, &raw)); err != nil {
			t.Fatalf("corpus record %d: %v", len(recs)+1, err)
		}
		var errs [4]error
		r.expectedSubject, r.hasSubject, errs[0] = nullableString(raw, "subject")
		r.expectedFromAddr, r.hasFromAddr, errs[1] = nullableString(raw, "from_address")
		r.expectedFromName, r.hasFromName, errs[2] = nullableString(raw, "from_name")
		r.expectedMessageID, r.hasMessageID, errs[3] = nullableString(raw, "message_id")
		if err := errors.Join(errs[:]...); err != nil {
			t.Fatalf("corpus record %s: %v", r.File, err)
		}
		r.hasAttachmentNames = r.Attachments != nil
		recs = append(recs, r)
	}
	return recs
}

// collapse folds white space runs (Unicode, as Python's split does) to one
// space: the corpus compares subjects and bodies that way.
func collapse(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

// peerName normalises a display name the way the corpus notes Zammad does,
// so that quoting differences between peers do not count.
func peerName(s string) string {
	s = strings.ReplaceAll(s, `"`, "")
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		s = s[1 : len(s)-1]
	}
	return collapse(s)
}

type tally struct{ asserted, matched int }

type parseOutcome struct {
	msg   *Message
	err   error
	panic any
}

func parseWithTimeout(path string, timeout time.Duration) (parseOutcome, bool) {
	done := make(chan parseOutcome, 1)
	go func() {
		var out parseOutcome
		defer func() {
			if v := recover(); v != nil {
				out.panic = v
			}
			done <- out
		}()
		f, err := os.Open(path)
		if err != nil {
			out.err = err
			return
		}
		defer f.Close()
		out.msg, out.err = Parse(f, Limits{})
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case out := <-done:
		return out, true
	case <-timer.C:
		return parseOutcome{}, false
	}
}

func TestCorpus(t *testing.T) {
	dir := testmail.CorpusDir()
	recs := loadCorpus(t, dir)
	fields := []string{"parse", "subject", "from_address", "from_name", "message_id",
		"body (messages)", "body (substrings)", "attachments (names)", "attachment_sha256s", "attachment_count (policy)"}
	tallies := map[string]*tally{}
	for _, f := range fields {
		tallies[f] = &tally{}
	}
	var failures []string
	fail := func(field, file, format string, args ...any) {
		failures = append(failures, fmt.Sprintf("%-20s %s: %s", field, file, fmt.Sprintf(format, args...)))
	}
	count := func(field string, ok bool) {
		tallies[field].asserted++
		if ok {
			tallies[field].matched++
		}
	}
	verbose := os.Getenv("MAILDESK_CORPUS_VERBOSE") != ""
	signatures := 0

	for _, r := range recs {
		out, finished := parseWithTimeout(filepath.Join(dir, r.File), 10*time.Second)
		if !finished {
			t.Errorf("%s: Parse did not finish within 10 s", r.File)
			continue
		}
		if out.panic != nil {
			t.Errorf("%s: Parse panicked: %v", r.File, out.panic)
			continue
		}
		if errors.Is(out.err, errInternal) {
			t.Errorf("%s: %v", r.File, out.err)
			continue
		}
		count("parse", out.err == nil)
		m := out.msg
		if out.err != nil {
			fail("parse", r.File, "%v", out.err)
			// An unusable mail matches none of what its record asserts.
			m = &Message{}
		}

		if r.hasSubject {
			ok := false
			if r.expectedSubject == nil {
				ok = out.err == nil && !hasKey(m.Header, "Subject")
			} else {
				ok = collapse(*r.expectedSubject) == m.Subject
			}
			count("subject", ok)
			if !ok {
				fail("subject", r.File, "got %q want %s", m.Subject, show(r.expectedSubject))
			}
		}
		if r.hasFromAddr {
			ok := false
			if r.expectedFromAddr == nil {
				// null: no From header, or one without any address
				// ("From: Whomever" in RFC 2046's examples).
				ok = out.err == nil && m.From.Address == ""
			} else {
				ok = strings.EqualFold(*r.expectedFromAddr, m.From.Address)
			}
			count("from_address", ok)
			if !ok {
				fail("from_address", r.File, "got %q want %s", m.From.Address, show(r.expectedFromAddr))
			}
		}
		if r.hasFromName && r.expectedFromName != nil {
			ok := peerName(*r.expectedFromName) == peerName(m.From.Name)
			count("from_name", ok)
			if !ok {
				fail("from_name", r.File, "got %q want %q", m.From.Name, *r.expectedFromName)
			}
		}
		if r.hasMessageID {
			want := ""
			if r.expectedMessageID != nil {
				want = *r.expectedMessageID
			}
			ok := out.err == nil && want == m.MessageID
			count("message_id", ok)
			if !ok {
				fail("message_id", r.File, "got %q want %q", m.MessageID, want)
			}
		}
		if len(r.BodyTextContains) > 0 {
			// Substrings are compared whitespace-collapsed in every mode:
			// Text has trailing spaces trimmed and format=flowed joined.
			text := collapse(m.Text)
			all := true
			for _, s := range r.BodyTextContains {
				ok := strings.Contains(text, collapse(s))
				count("body (substrings)", ok)
				if !ok {
					all = false
					fail("body", r.File, "(%s) missing %q", r.BodyMatch, s)
				}
			}
			count("body (messages)", all)
			if !all && verbose {
				t.Logf("%s text:\n%s", r.File, truncate(m.Text, 1500))
			}
		}
		names := make([]string, 0, len(m.Attachments))
		sums := make([]string, 0, len(m.Attachments))
		for _, a := range m.Attachments {
			names = append(names, a.Filename)
			sums = append(sums, a.SHA256)
		}
		if r.hasAttachmentNames && len(*r.Attachments) > 0 {
			ok, asserted := true, false
			for _, want := range *r.Attachments {
				if !slices.Contains(names, want) && detachedSignature(want) {
					// maildesk lists no signature of a signed mail as an
					// attachment (issue 17): a policy, counted apart.
					signatures++
					continue
				}
				asserted = true
				if !slices.Contains(names, want) {
					ok = false
					fail("attachments", r.File, "missing %q, have %q", want, names)
				}
			}
			if asserted {
				count("attachments (names)", ok)
			}
		}
		if len(r.AttachmentSHA256s) > 0 {
			ok := true
			for _, want := range r.AttachmentSHA256s {
				if !slices.Contains(sums, want) {
					ok = false
					fail("attachment_sha256s", r.File, "missing %s", want)
				}
			}
			count("attachment_sha256s", ok)
		}
		if r.AttachmentCount != nil {
			ok := *r.AttachmentCount == len(m.Attachments)
			count("attachment_count (policy)", ok)
			if !ok && verbose {
				fail("attachment_count", r.File, "got %d want %d (%q)", len(m.Attachments), *r.AttachmentCount, names)
			}
		}
	}

	sort.Strings(failures)
	if verbose {
		for _, f := range failures {
			t.Log(f)
		}
	}
	t.Logf("corpus: %d messages from %s", len(recs), dir)
	t.Logf("%-26s %8s %8s %8s", "field", "matched", "asserted", "rate")
	rate := map[string]float64{}
	for _, f := range fields {
		tl := tallies[f]
		rate[f] = 100
		if tl.asserted > 0 {
			rate[f] = 100 * float64(tl.matched) / float64(tl.asserted)
		}
		t.Logf("%-26s %8d %8d %7.1f%%", f, tl.matched, tl.asserted, rate[f])
	}
	t.Logf("detached signatures the peers list as attachments and maildesk does not (policy): %d", signatures)
	for f, min := range map[string]float64{"subject": 98, "from_address": 98, "body (substrings)": 95} {
		if rate[f] < min {
			t.Errorf("%s match rate %.1f%% is below %.0f%% (MAILDESK_CORPUS_VERBOSE=1 lists the misses)", f, rate[f], min)
		}
	}
}

// detachedSignature: the names peers give the signature part of a signed
// mail.
func detachedSignature(name string) bool {
	n := strings.ToLower(name)
	return n == "signature.asc" || strings.HasSuffix(n, ".p7s")
}

func hasKey(h map[string][]string, k string) bool {
	_, ok := h[k]
	return ok
}

func show(s *string) string {
	if s == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *s)
}
