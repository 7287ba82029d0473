package billing

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
)

// poppler finds a poppler-utils tool. Without it the test is skipped,
// except in CI (CI=true) or with MAILDESK_REQUIRE_POPPLER=1, where it is a
// failure: scripts/test installs Debian's poppler-utils.
func poppler(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " not found: run ./scripts/test, which installs it, or apt-get install poppler-utils"
	if os.Getenv("CI") == "true" || os.Getenv("MAILDESK_REQUIRE_POPPLER") == "1" {
		t.Fatal(msg + " (required: CI=true or MAILDESK_REQUIRE_POPPLER=1)")
	}
	t.Skip(msg)
	return ""
}

// oxineoNovember is the statement of TestStatements' Oxineo case, with a
// note on a record and a subject with a euro sign and accents.
func oxineoNovember(t *testing.T) Statement {
	t.Helper()
	cfg, r := example(t, "oxineo.yaml")
	var c config.Customer
	for _, x := range cfg.Customers {
		if x.ID == "accountancy-de-haan" {
			c = x
		}
	}
	first := rec("a", "2026-11-20 16:30", 75, "remote")
	first.Note, first.Agent = "Exchange-postvak hersteld, regels gecontroleerd", "Sanne Bakker <sanne@oxineo.example>"
	unbilled := rec("u", "2026-11-24 11:00", 20, "remote")
	unbilled.Billable = false
	s := plan(t, r, "support").Statement(&c, Month{2026, time.November}, []Ticket{
		{Number: "OX-1", Subject: "Outlook geeft foutmelding bij verzenden (€-teken in naam, café)", Type: "incident", Priority: "P3", Channel: "mail",
			Records: []Record{first, unbilled}},
		{Number: "OX-2", Subject: "=HYPERLINK(\"x\")", Type: "incident", Priority: "P3", Channel: "mail",
			Records: []Record{rec("b", "2026-11-17 10:00", 5, "remote"), rec("c", "2026-11-23 08:50", 20, "remote")}},
	})
	s.Desk, s.MadeAt = "Oxineo Support", time.Date(2026, 12, 1, 9, 0, 0, 0, ams)
	return s
}

// The PDF is a document a customer can read: rendered by poppler, its
// text has the desk, the customer, each ticket with its records and
// lines, the fee and the total, in Dutch with euro amounts.
func TestWritePDF(t *testing.T) {
	pdftotext := poppler(t, "pdftotext")
	pdftoppm := poppler(t, "pdftoppm")
	s := oxineoNovember(t)
	var buf bytes.Buffer
	if err := WritePDF(&buf, s, "nl"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pdf := filepath.Join(dir, "statement.pdf")
	if err := os.WriteFile(pdf, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// It renders: one page, as PNG.
	if out, err := exec.CommandContext(ctx, pdftoppm, "-png", "-r", "60", pdf, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	if len(pages) != 1 {
		t.Errorf("%d pages rendered, want 1", len(pages))
	}
	if fi, err := os.Stat(pages[0]); err != nil || fi.Size() < 2000 {
		t.Errorf("page image: %v", err)
	}
	out, err := exec.CommandContext(ctx, pdftotext, "-layout", pdf, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"Specificatie november 2026", "Oxineo Support", "Accountancy De Haan (accountancy-de-haan)", "support",
		"1 november 2026 - 30 november 2026", "Opgesteld", "1 december 2026",
		"OX-1", "Outlook geeft foutmelding bij verzenden (€-teken in naam, café)", "2026-11-20", "16:30-17:45", "Sanne Bakker",
		"Exchange-postvak hersteld", "(niet declarabel)",
		"kantooruren", "buiten kantooruren", "€ 85,00", "€ 110,00", "€ 42,50", "€ 82,50", "Subtotaal OX-1", "€ 125,00",
		"OX-2", "€ 48,75", "maandbedrag november 2026", "€ 275,00", "Totaal", "€ 448,75", "Pagina 1 van 1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, text)
		}
	}
	// The same statement makes the same document.
	var again bytes.Buffer
	if err := WritePDF(&again, s, "nl"); err != nil || !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Errorf("made again, the PDF differs (%v)", err)
	}
	// English.
	buf.Reset()
	if err := WritePDF(&buf, s, "en"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pdf, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.CommandContext(ctx, pdftotext, "-layout", pdf, "-").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Statement November 2026", "€448.75", "monthly fee November 2026", "Total"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the English PDF's text lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteCSVAndJSON(t *testing.T) {
	s := oxineoNovember(t)
	var buf bytes.Buffer
	if err := Write(&buf, s, FormatCSV, "nl"); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows[1:] {
		got = append(got, strings.Join([]string{r[2], r[3], r[6], r[7], r[9], r[11], r[12], r[14]}, "|"))
	}
	want := []string{
		"OX-1|Outlook geeft foutmelding bij verzenden (€-teken in naam, café)|work|kantooruren|85.00|30|42.50|",
		"OX-1|Outlook geeft foutmelding bij verzenden (€-teken in naam, café)|work|buiten kantooruren|110.00|45|82.50|",
		"OX-1|Outlook geeft foutmelding bij verzenden (€-teken in naam, café)|work|kantooruren|85.00|0|0.00|not billable",
		// A subject that a spreadsheet would run as a formula is quoted.
		"OX-2|'=HYPERLINK(\"x\")|work|kantooruren|85.00|15|21.25|",
		"OX-2|'=HYPERLINK(\"x\")|work|buiten kantooruren|110.00|15|27.50|",
		"||fee||0.00|0|275.00|",
		"||total|||105|448.75|",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("CSV rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rows[0][0] != "month" || rows[1][0] != "2026-11" || rows[1][1] != "accountancy-de-haan" || rows[1][13] != "EUR" {
		t.Errorf("columns %v / %v", rows[0], rows[1])
	}

	buf.Reset()
	if err := Write(&buf, s, FormatJSON, ""); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Month   string `json:"month"`
		Total   int64  `json:"total_cents"`
		Tickets []struct {
			Number  string `json:"number"`
			Records []struct {
				Segments []struct {
					Class string `json:"class"`
				} `json:"segments"`
			} `json:"records"`
		} `json:"tickets"`
	}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Month != "2026-11" || back.Total != 44875 || len(back.Tickets) != 2 || len(back.Tickets[0].Records[0].Segments) != 2 ||
		back.Tickets[0].Records[0].Segments[1].Class != "buiten kantooruren" {
		t.Errorf("JSON %+v", back)
	}
	if err := Write(&buf, s, "xml", ""); err == nil {
		t.Error("xml written")
	}
}

func TestFormatMoney(t *testing.T) {
	for _, tc := range []struct {
		m         config.Money
		cur, lang string
		want      string
	}{
		{123450, "EUR", "nl", "€ 1.234,50"}, {123450, "EUR", "en", "€1,234.50"}, {5, "EUR", "nl", "€ 0,05"},
		{100000000, "USD", "en", "USD 1,000,000.00"}, {-2125, "EUR", "en", "€-21.25"}, {99999, "EUR", "nl", "€ 999,99"},
	} {
		if got := formatMoney(tc.m, tc.cur, tc.lang); got != tc.want {
			t.Errorf("formatMoney(%d, %s, %s) = %q, want %q", tc.m, tc.cur, tc.lang, got, tc.want)
		}
	}
}
