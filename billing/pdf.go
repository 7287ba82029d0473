package billing

import (
	"fmt"
	"io"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/goodsign/monday"

	"github.com/maildesk/maildesk/config"
)

// words are a statement's fixed texts per language.
var words = map[string]map[string]string{
	"nl": {
		"title": "Specificatie", "customer": "Klant", "plan": "Contract", "period": "Periode", "made": "Opgesteld",
		"ticket": "Ticket", "date": "Datum", "time": "Tijd", "activity": "Activiteit", "by": "Door", "minutes": "Minuten",
		"note": "Omschrijving", "class": "Tarief", "rate": "Per uur", "billed": "Berekend", "amount": "Bedrag",
		"subtotal": "Subtotaal", "fees": "Vaste kosten en standby", "total": "Totaal", "free": "kosteloos",
		"notbillable": "niet declarabel", "fairuse": "fair use", "none": "Geen geregistreerde tijd in deze periode.",
		"page": "Pagina", "of": "van", "minimum": "minimum per ticket", "channel": "toeslag kanaal", "fee": "maandbedrag",
		"standby": "standby", "recorded": "Geregistreerd", "at": "à", "perhour": "per uur", "min": "minimum",
	},
	"en": {
		"title": "Statement", "customer": "Customer", "plan": "Contract", "period": "Period", "made": "Made",
		"ticket": "Ticket", "date": "Date", "time": "Time", "activity": "Activity", "by": "By", "minutes": "Minutes",
		"note": "Description", "class": "Rate", "rate": "Per hour", "billed": "Charged", "amount": "Amount",
		"subtotal": "Subtotal", "fees": "Fees and standby", "total": "Total", "free": "free of charge",
		"notbillable": "not billable", "fairuse": "fair use", "none": "No time recorded in this period.",
		"page": "Page", "of": "of", "minimum": "minimum per ticket", "channel": "channel surcharge", "fee": "monthly fee",
		"standby": "standby", "recorded": "Recorded", "at": "at", "perhour": "an hour", "min": "minimum",
	},
}

// WritePDF writes s as a document a customer can receive: the desk and
// the customer, then per ticket its time records and priced lines, the
// fees and standby, and the total; in lang (nl, en; else en). Texts are
// set in the PDF core font Helvetica, whose encoding (cp1252) has the
// euro sign and the accented letters of Dutch; other characters are
// replaced.
func WritePDF(w io.Writer, s Statement, lang string) error {
	wd, ok := words[lang]
	if !ok {
		lang, wd = "en", words["en"]
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	txt := func(s string) string { return tr(oneLine(s)) }
	made := s.MadeAt
	if made.IsZero() {
		made = s.To
	}
	// Fixed dates keep the document the same when made again.
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(made)
	pdf.SetModificationDate(made)
	pdf.SetTitle(fmt.Sprintf("%s %s %s", wd["title"], s.Customer, s.Month), true)
	pdf.SetAuthor(s.Desk, true)
	pdf.SetCreator("maildesk", true)
	pdf.SetMargins(18, 18, 18)
	pdf.SetAutoPageBreak(true, 18)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-13)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(0, 5, txt(fmt.Sprintf("%s - %s %s - %s %d %s {nb}", s.Desk, wd["title"], monthName(s.Month, lang),
			wd["page"], pdf.PageNo(), wd["of"])), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	pageW, _ := pdf.GetPageSize()
	left, _, right, _ := pdf.GetMargins()
	width := pageW - left - right
	loc := s.From.Location()

	pdf.SetFont("Helvetica", "B", 16)
	pdf.SetTextColor(20, 20, 20)
	pdf.CellFormat(width, 9, txt(wd["title"]+" "+monthName(s.Month, lang)), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	if s.Desk != "" {
		pdf.CellFormat(width, 5, txt(s.Desk), "", 1, "L", false, 0, "")
	}
	pdf.Ln(3)
	field := func(k, v string) {
		pdf.SetFont("Helvetica", "B", 10)
		pdf.CellFormat(32, 5.5, txt(wd[k]), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
		pdf.CellFormat(width-32, 5.5, txt(v), "", 1, "L", false, 0, "")
	}
	cust := s.Customer
	if s.CustomerName != "" {
		cust = s.CustomerName + " (" + s.Customer + ")"
	}
	field("customer", cust)
	field("plan", s.Plan)
	field("period", fmt.Sprintf("%s - %s", day(s.From, lang), day(s.To.Add(-time.Second), lang)))
	field("made", day(made.In(loc), lang))
	pdf.Ln(4)

	money := func(m config.Money) string { return formatMoney(m, s.Currency, lang) }
	header := func(cols []string, ws []float64, aligns string) {
		pdf.SetFont("Helvetica", "B", 8.5)
		pdf.SetFillColor(235, 238, 243)
		for i, c := range cols {
			pdf.CellFormat(ws[i], 6, txt(c), "B", 0, string(aligns[i]), true, 0, "")
		}
		pdf.Ln(-1)
		pdf.SetFont("Helvetica", "", 8.5)
	}
	// row writes one table row; a text longer than its column (a note, a
	// subject) wraps within it, and the row is as high as its longest.
	row := func(cols []string, ws []float64, aligns string) {
		const lineH = 4.6
		lines := make([][]string, len(cols))
		n := 1
		for i, c := range cols {
			// Split as UTF-8, then encode each line for the font.
			lines[i] = pdf.SplitText(oneLine(c), ws[i]-1.5)
			n = max(n, len(lines[i]))
		}
		_, pageH := pdf.GetPageSize()
		if _, _, _, bottom := pdf.GetMargins(); pdf.GetY()+float64(n)*lineH > pageH-bottom {
			pdf.AddPage()
		}
		x, y := pdf.GetX(), pdf.GetY()
		for i := range cols {
			for j, l := range lines[i] {
				pdf.SetXY(x, y+float64(j)*lineH)
				pdf.CellFormat(ws[i], lineH, tr(l), "", 0, string(aligns[i]), false, 0, "")
			}
			x += ws[i]
		}
		pdf.SetXY(left, y+float64(n)*lineH+0.6)
	}
	recW := []float64{22, 22, 24, 34, 16, width - 118}
	lineW := []float64{width - 100, 24, 22, 22, 32}

	if len(s.Tickets) == 0 {
		pdf.SetFont("Helvetica", "I", 10)
		pdf.CellFormat(width, 6, txt(wd["none"]), "", 1, "L", false, 0, "")
		pdf.Ln(2)
	}
	for _, ts := range s.Tickets {
		pdf.SetFont("Helvetica", "B", 11)
		head := ts.Number
		if ts.Subject != "" {
			head += "  " + ts.Subject
		}
		pdf.CellFormat(width, 7, fit(pdf, txt(head), width), "", 1, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 8.5)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(width, 4.5, txt(fmt.Sprintf("%s, %s, %s", ts.Type, ts.Priority, strings.ReplaceAll(ts.Channel, "_", " "))), "", 1, "L", false, 0, "")
		pdf.SetTextColor(20, 20, 20)
		header([]string{wd["date"], wd["time"], wd["activity"], wd["by"], wd["minutes"], wd["note"]}, recW, "LLLLRL")
		for _, r := range ts.Records {
			note := r.Note
			if !r.Billable {
				note = strings.TrimSpace("(" + wd["notbillable"] + ") " + note)
			}
			row([]string{r.Start.In(loc).Format("2006-01-02"), r.Start.In(loc).Format("15:04") + "-" + r.End().In(loc).Format("15:04"),
				strings.ReplaceAll(r.Activity, "_", " "), agentName(r.Agent), fmt.Sprint(r.Minutes), note}, recW, "LLLLRL")
		}
		pdf.Ln(1.5)
		header([]string{wd["class"], wd["activity"], wd["rate"], wd["billed"], wd["amount"]}, lineW, "LLRRR")
		for _, l := range ts.Lines {
			label := l.Class
			switch l.Kind {
			case LineMinimum:
				label = wd["minimum"]
			case LineChannel:
				label = wd["channel"] + " " + strings.ReplaceAll(ts.Channel, "_", " ")
			}
			amount := money(l.Amount)
			switch {
			case l.Free == "not billable":
				amount = wd["notbillable"]
			case l.Free == "fair use":
				amount = wd["fairuse"]
			case l.Free != "":
				amount = wd["free"]
			}
			row([]string{label, strings.ReplaceAll(l.Activity, "_", " "), money(l.Rate), fmtMinutes(l.Billed), amount}, lineW, "LLRRR")
		}
		pdf.SetFont("Helvetica", "B", 8.5)
		pdf.CellFormat(width-32, 6, txt(wd["subtotal"]+" "+ts.Number), "T", 0, "R", false, 0, "")
		pdf.CellFormat(32, 6, txt(money(ts.Amount)), "T", 1, "R", false, 0, "")
		pdf.Ln(4)
	}
	if len(s.Fees) > 0 {
		pdf.SetFont("Helvetica", "B", 11)
		pdf.CellFormat(width, 7, txt(wd["fees"]), "", 1, "L", false, 0, "")
		feeW := []float64{width - 32, 32}
		header([]string{"", wd["amount"]}, feeW, "LR")
		for _, f := range s.Fees {
			label := f.Detail
			if f.Kind == LineFee {
				label = wd["fee"] + " " + monthName(s.Month, lang)
				if strings.Contains(f.Detail, "pro rata") {
					label += ", " + strings.TrimPrefix(f.Detail, "monthly fee "+s.Month.String()+", ")
				}
			} else if f.Kind == LineStandby {
				label = fmt.Sprintf("%s %s: %s - %s, %s %s %s %s", wd["standby"], f.Class, f.From.In(loc).Format("2006-01-02 15:04"),
					f.To.In(loc).Format("2006-01-02 15:04"), fmtMinutes(f.Billed), wd["at"], money(f.Rate), wd["perhour"])
				if f.Billed > f.Recorded {
					label += fmt.Sprintf(" (%s %s, %s)", fmtMinutes(f.Recorded), wd["standby"], wd["min"])
				}
			}
			row([]string{label, money(f.Amount)}, feeW, "LR")
		}
		pdf.Ln(4)
	}
	pdf.SetFont("Helvetica", "B", 12)
	pdf.CellFormat(width-40, 8, txt(wd["total"]), "T", 0, "R", false, 0, "")
	pdf.CellFormat(40, 8, txt(money(s.Total)), "T", 1, "R", false, 0, "")
	pdf.SetFont("Helvetica", "", 8.5)
	pdf.SetTextColor(90, 90, 90)
	pdf.CellFormat(width, 5, txt(fmt.Sprintf("%s: %s, %s: %s", wd["recorded"], fmtMinutes(s.Recorded), wd["billed"], fmtMinutes(s.Billed))), "", 1, "R", false, 0, "")
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("writing the PDF statement: %w", err)
	}
	return nil
}

// fit cuts s so that it fits width on the PDF in its current font.
func fit(pdf *fpdf.Fpdf, s string, width float64) string {
	if pdf.GetStringWidth(s) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && pdf.GetStringWidth(string(r)+"...") > width {
		r = r[:len(r)-1]
	}
	return string(r) + "..."
}

// oneLine flattens text from outside (subjects, notes, names) to one line
// without control characters.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' }), " ")
}

// agentName is the name of "Name <addr>", else the whole.
func agentName(a string) string {
	if i := strings.Index(a, " <"); i > 0 {
		return a[:i]
	}
	return a
}

func monthName(m Month, lang string) string {
	t := time.Date(m.Year, m.Month, 1, 12, 0, 0, 0, time.UTC)
	if lang == "nl" {
		return monday.Format(t, "January 2006", monday.LocaleNlNL)
	}
	return t.Format("January 2006")
}

func day(t time.Time, lang string) string {
	if lang == "nl" {
		return monday.Format(t, "2 January 2006", monday.LocaleNlNL)
	}
	return t.Format("2 January 2006")
}

// formatMoney writes an amount as people in lang read it: "€ 1.234,50"
// (nl), "€1,234.50" (en); other currencies by their code.
func formatMoney(m config.Money, currency, lang string) string {
	neg := m < 0
	if neg {
		m = -m
	}
	whole, cents := int64(m)/100, int64(m)%100
	digits := fmt.Sprint(whole)
	sep, dec := ",", "."
	if lang == "nl" {
		sep, dec = ".", ","
	}
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	num := fmt.Sprintf("%s%s%02d", b.String(), dec, cents)
	if neg {
		num = "-" + num
	}
	switch {
	case currency == "EUR" && lang == "nl":
		return "€ " + num
	case currency == "EUR":
		return "€" + num
	}
	return currency + " " + num
}
