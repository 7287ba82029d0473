package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/internal/testmail"
	"github.com/maildesk/maildesk/mailparse"
)

// The corpus as this test reads it: each file and its tags. The parser's
// own corpus test (mailparse's TestCorpus) holds the rest of each record
// and reports the mails that do not parse.
type corpusRecord struct {
	File     string            `json:"file"`
	Tags     []string          `json:"tags"`
	TagBasis map[string]string `json:"tag_basis"`
}

func loadCorpus(t *testing.T, dir string) []corpusRecord {
	t.Helper()
	var recs []corpusRecord
	for _, line := range testmail.CorpusRecords(t, dir) {
		var r corpusRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("corpus record %d: %v", len(recs)+1, err)
		}
		recs = append(recs, r)
	}
	return recs
}

type tally struct{ asserted, matched int }

// TestCorpusClassification holds Classify and the delivery reports to the
// corpus: the classes its tags record (bounce, auto-reply, arf, mdn) and
// the failed recipients of every DSN, read a second time with the standard
// library alone (dsnOracle). It prints the rate per class and fails below
// the floors, which are what the parser achieves (issue 17 item 8; the
// figures are in docs/troubleshooting.md).
func TestCorpusClassification(t *testing.T) {
	dir := testmail.CorpusDir()
	recs := loadCorpus(t, dir)
	classes := []string{"bounce", "auto-reply", "arf", "mdn", "dsn failed recipients"}
	tallies := map[string]*tally{}
	for _, c := range classes {
		tallies[c] = &tally{}
	}
	var failures []string
	untagged := map[Class]int{}
	unread := 0
	for _, r := range recs {
		raw, err := os.ReadFile(filepath.Join(dir, r.File))
		if err != nil {
			t.Fatal(err)
		}
		// mailparse's TestCorpus holds Parse to finishing on every mail
		// of the corpus, without panics, and reports the ones it refuses.
		m, err := mailparse.Parse(bytes.NewReader(raw), mailparse.Limits{})
		if err != nil {
			continue
		}
		got, why := Classify(m, Own{})
		check := func(class string, ok bool) {
			tallies[class].asserted++
			if ok {
				tallies[class].matched++
			} else {
				failures = append(failures, class+" "+r.File+": "+got.String()+" ("+why+")")
			}
		}
		tags := r.Tags
		switch {
		case slices.Contains(tags, "bounce"):
			check("bounce", got == Bounce)
		case slices.Contains(tags, "auto-reply"):
			// Auto-Submitted: auto-generated is machine mail that is no
			// reply (RFC 3834): Generated here.
			check("auto-reply", got == AutoReply || got == Generated && strings.Contains(r.TagBasis["auto-reply"], "auto-generated"))
		case slices.Contains(tags, "arf"):
			check("arf", got == Feedback)
		case slices.Contains(tags, "mdn"):
			check("mdn", got == AutoReply)
		default:
			untagged[got]++
			// No person's mail may be taken for a bounce or a report. The
			// untagged mail of the corpus holds spam sent from the null
			// sender (a bounce by RFC 5321) and one feedback report the
			// corpus did not tag.
			if (got == Bounce && why != "Return-Path: <>") || (got == Feedback && !strings.Contains(why, "feedback-report")) {
				t.Errorf("untagged %s taken for machine mail: %v (%s)", r.File, got, why)
			}
		}
		if !slices.Contains(tags, "dsn") {
			continue
		}
		want, ok := dsnOracle(raw)
		if !ok {
			unread++
			continue
		}
		var have []string
		if m.Report != nil {
			for _, rr := range m.Report.Recipients {
				if rr.Failed() {
					have = append(have, rr.Address)
				}
			}
		}
		slices.Sort(have)
		tallies["dsn failed recipients"].asserted++
		if slices.Equal(have, want) {
			tallies["dsn failed recipients"].matched++
		} else {
			failures = append(failures, "dsn "+r.File+": failed "+strings.Join(have, ",")+", want "+strings.Join(want, ","))
		}
	}
	for _, f := range failures {
		t.Log(f)
	}
	t.Logf("%-26s %8s %8s %8s", "class", "matched", "asserted", "rate")
	rate := map[string]float64{}
	for _, c := range classes {
		tl := tallies[c]
		rate[c] = 100
		if tl.asserted > 0 {
			rate[c] = 100 * float64(tl.matched) / float64(tl.asserted)
		}
		t.Logf("%-26s %8d %8d %7.1f%%", c, tl.matched, tl.asserted, rate[c])
	}
	t.Logf("DSNs the standard library cannot read (not compared): %d", unread)
	t.Logf("untagged mail by class: human %d, generated %d, spam %d, bounce %d, auto-reply %d, feedback %d, loop %d",
		untagged[Human], untagged[Generated], untagged[Spam], untagged[Bounce], untagged[AutoReply], untagged[Feedback], untagged[Loop])
	// Floors: what the parser achieves on this corpus. A bounce or report
	// taken for a person's mail opens a ticket or earns a notice.
	for c, floor := range map[string]float64{"bounce": 100, "auto-reply": 100, "arf": 100, "mdn": 100, "dsn failed recipients": 100} {
		if rate[c] < floor {
			t.Errorf("%s rate %.1f%% is below %.0f%%", c, rate[c], floor)
		}
	}
}

// dsnOracle reads the failed recipients of a delivery status report with
// the standard library alone (net/mail, mime/multipart), independently of
// Parse: the message/delivery-status parts of the top-level multipart,
// their blocks split at blank lines. A recipient failed when its Action is
// failed (or failure), or, without one of RFC 3464's actions, its Status
// is 5.x.x or 5xx. ok is false when the standard library cannot read the
// mail.
func dsnOracle(raw []byte) (failed []string, ok bool) {
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, false
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return nil, false
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if pt != "message/delivery-status" && pt != "message/global-delivery-status" {
			continue
		}
		body, err := io.ReadAll(part)
		if err != nil {
			return nil, false
		}
		if strings.EqualFold(strings.TrimSpace(part.Header.Get("Content-Transfer-Encoding")), "base64") {
			if body, err = base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(body), nil))); err != nil {
				return nil, false
			}
		}
		failed = append(failed, oracleBlocks(string(body))...)
	}
	slices.Sort(failed)
	return failed, true
}

func oracleBlocks(body string) []string {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	blocks := strings.Split(body, "\n\n")
	var failed []string
	for i, block := range blocks {
		f := map[string]string{}
		for _, line := range strings.Split(strings.ReplaceAll(block, "\n ", " "), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				f[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if i == 0 && strings.EqualFold(f["content-transfer-encoding"], "base64") {
			// A broken generator base64-encoded the recipient blocks.
			rest := strings.Join(blocks[1:], "")
			if dec, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(rest), "")); err == nil {
				return oracleBlocks(string(dec))
			}
		}
		addr := f["final-recipient"]
		if addr == "" {
			addr = f["original-recipient"]
		}
		if addr == "" {
			continue
		}
		if _, a, ok := strings.Cut(addr, ";"); ok {
			addr = a
		}
		addr = strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>"))
		action := strings.ToLower(f["action"])
		status := strings.Fields(f["status"] + " x")[0]
		fail := action == "failed" || action == "failure"
		if !slices.Contains([]string{"failed", "failure", "delayed", "delivered", "relayed", "expanded"}, action) {
			fail = strings.HasPrefix(status, "5.") || len(status) == 3 && status[0] == '5' && strings.Trim(status, "0123456789") == ""
		}
		if fail && strings.Contains(addr, "@") {
			failed = append(failed, addr)
		}
	}
	return failed
}
