// Package mailparse reads one raw incoming mail (RFC 5322, MIME) into a
// Message: decoded header fields and addresses (RFC 2047 encoded words,
// RFC 2231 parameters, charsets declared, mislabelled or undeclared), the
// Message-ID, In-Reply-To and References, the body as plain text (text/plain
// preferred, HTML converted), attachment metadata (names, types, sizes,
// SHA-256; uuencoded files and opaque S/MIME signed mail unwrapped), and
// the delivery status (RFC 3464) or feedback (ARF, RFC 5965) report a mail
// carries. ExtractPart streams one attachment out of the same mail again,
// and SplitQuoted separates what a sender wrote from the history below it.
//
// It is pure: it reads the io.Reader it is given and nothing else, keeps no
// state between mails and knows nothing of the desk (which mail is its own,
// who may write, what becomes a ticket: ingest decides that).
//
// What it guarantees, for any input:
//
//   - Parse never panics: a bug costs one mail (an error), not the process.
//     FuzzParse, FuzzReports, FuzzExtractPart, FuzzSplitQuoted and the other
//     fuzz tests hold it to that.
//   - Its work is linear in the mail's size: every path is metered (budget.go)
//     and a mail costing more than Limits.WorkPerByte units per byte fails
//     with ErrTooComplex; TestParseWorkIsLinear doubles a hostile input per
//     path and checks the count.
//   - Memory is bounded by Limits, not by the mail: the body is streamed,
//     attachments are hashed and counted on the way, and Text, parts, depth
//     and warnings are capped.
//   - Nothing repairable is an error: broken headers, unknown charsets and
//     stray boundaries are repaired or guessed and listed in
//     Message.Warnings. Parse fails only for input that is no mail at all
//     (ErrNotMail), too large (ErrTooLarge), too costly (ErrTooComplex) or
//     unreadable (the reader's error).
//
// The code is split by job: parse_mime.go walks the MIME structure while
// streaming, parse_header.go reads header fields, parse_charset.go turns
// charsets and encoded words into UTF-8, parse_text.go picks and renders
// the body text, parse_attach.go names attachments and unwraps uuencode and
// signed mail (smime.go reads the BER), dsn.go reads the reports, quote.go
// splits quoted history. Decoding is left to the standard library and
// go-message's charset tables; what stays hand-written is the leniency real
// mail needs.
package mailparse
