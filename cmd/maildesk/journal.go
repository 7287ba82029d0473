package main

import (
	"errors"
	"time"

	"github.com/maildesk/maildesk/ingest"
)

// journalChanged raises and clears the journal's alarm.
func (d *daemon) journalChanged(st ingest.JournalStatus) {
	switch st.State {
	case "behind":
		d.journalPart.Record(errors.New(st.LastError), time.Now())
	case "ok":
		d.journalPart.Record(nil, time.Now())
	}
}
