package billing

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// Formats a statement is written in.
const (
	FormatCSV  = "csv"
	FormatJSON = "json"
	FormatPDF  = "pdf"
)

// Formats lists them.
var Formats = []string{FormatCSV, FormatJSON, FormatPDF}

// ContentType is the media type of a format.
func ContentType(format string) string {
	switch format {
	case FormatJSON:
		return "application/json"
	case FormatPDF:
		return "application/pdf"
	}
	return "text/csv; charset=utf-8"
}

// Write writes s in format (FormatCSV, FormatJSON or FormatPDF); lang is
// the language of a PDF's words (nl, en).
func Write(w io.Writer, s Statement, format, lang string) error {
	switch format {
	case FormatCSV:
		return WriteCSV(w, s)
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	case FormatPDF:
		return WritePDF(w, s, lang)
	}
	return fmt.Errorf("unknown statement format %q (want csv, json or pdf)", format)
}

// csvHeader are the columns of WriteCSV.
var csvHeader = []string{"month", "customer", "ticket", "subject", "type", "priority", "kind", "class", "activity",
	"rate", "recorded_minutes", "billed_minutes", "amount", "currency", "free", "detail"}

// WriteCSV writes s as one row per line, tickets first, then the fees,
// then a total row. Amounts are decimals in the currency ("42.50").
func WriteCSV(w io.Writer, s Statement) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	row := func(ts *TicketStatement, l Line) {
		var number, subject, typ, prio string
		if ts != nil {
			number, subject, typ, prio = ts.Number, csvSafe(ts.Subject), ts.Type, ts.Priority
		}
		_ = cw.Write([]string{s.Month.String(), s.Customer, number, subject, typ, prio, l.Kind, csvSafe(l.Class), l.Activity,
			l.Rate.String(), strconv.Itoa(l.Recorded), strconv.Itoa(l.Billed), l.Amount.String(), s.Currency, l.Free, csvSafe(l.Detail)})
	}
	for i := range s.Tickets {
		for _, l := range s.Tickets[i].Lines {
			row(&s.Tickets[i], l)
		}
	}
	for _, l := range s.Fees {
		row(nil, l)
	}
	_ = cw.Write([]string{s.Month.String(), s.Customer, "", "", "", "", "total", "", "", "",
		strconv.Itoa(s.Recorded), strconv.Itoa(s.Billed), s.Total.String(), s.Currency, "", ""})
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a text a mail or an agent wrote from being read as a
// formula by a spreadsheet (CSV injection): a leading =, +, -, @, tab or
// CR gets a quote in front.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}
