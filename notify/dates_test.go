package notify

import (
	"strings"
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestFormatDate(t *testing.T) {
	ams := mustLoc(t, "Europe/Amsterdam")
	ny := mustLoc(t, "America/New_York")
	utc := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	tests := []struct {
		name string
		t    time.Time
		lang string
		loc  *time.Location
		want string
	}{
		{"nl winter", utc(2026, 11, 21, 19, 25), "nl", ams, "zaterdag 21 november 2026 om 20:25"},
		{"en winter", utc(2026, 11, 21, 19, 25), "en", ams, "Saturday 21 November 2026 at 20:25"},
		{"nl summer", utc(2026, 5, 4, 7, 5), "nl", ams, "maandag 4 mei 2026 om 09:05"},
		{"nl march", utc(2026, 3, 1, 8, 0), "nl", ams, "zondag 1 maart 2026 om 09:00"},
		// DST starts 29 March 2026 at 01:00 UTC: 01:30 UTC is 03:30 CEST.
		{"nl DST start", utc(2026, 3, 29, 1, 30), "nl", ams, "zondag 29 maart 2026 om 03:30"},
		{"nl before DST start", utc(2026, 3, 29, 0, 30), "nl", ams, "zondag 29 maart 2026 om 01:30"},
		// DST ends 25 October 2026 at 01:00 UTC: 02:30 happens twice.
		{"nl DST end, first 02:30", utc(2026, 10, 25, 0, 30), "nl", ams, "zondag 25 oktober 2026 om 02:30"},
		{"nl DST end, second 02:30", utc(2026, 10, 25, 1, 30), "nl", ams, "zondag 25 oktober 2026 om 02:30"},
		{"the desk's zone, not the time's", time.Date(2026, 7, 1, 23, 30, 0, 0, ny), "nl", ams, "donderdag 2 juli 2026 om 05:30"},
		{"nil zone is UTC", time.Date(2026, 7, 1, 23, 30, 0, 0, ams), "en", nil, "Wednesday 1 July 2026 at 21:30"},
		{"unknown language is English", utc(2026, 1, 6, 12, 0), "fr", time.UTC, "Tuesday 6 January 2026 at 12:00"},
		{"zero", time.Time{}, "nl", ams, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatDate(tt.t, tt.lang, tt.loc); got != tt.want {
				t.Errorf("formatDate = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFormatDay(t *testing.T) {
	ams := mustLoc(t, "Europe/Amsterdam")
	tests := []struct {
		t    time.Time
		lang string
		loc  *time.Location
		want string
	}{
		{time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC), "nl", ams, "23 november 2026"},
		{time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC), "en", ams, "23 November 2026"},
		{time.Date(2026, 5, 3, 22, 30, 0, 0, time.UTC), "nl", ams, "4 mei 2026"}, // already the 4th in Amsterdam
		{time.Date(2026, 5, 3, 22, 30, 0, 0, time.UTC), "en", nil, "3 May 2026"},
		{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), "fr", nil, "1 March 2026"},
		{time.Time{}, "nl", ams, ""},
	}
	for _, tt := range tests {
		if got := formatDay(tt.t, tt.lang, tt.loc); got != tt.want {
			t.Errorf("formatDay(%v, %s) = %q, want %q", tt.t, tt.lang, got, tt.want)
		}
	}
}

func TestRenderDeadlineInDeskZone(t *testing.T) {
	d := testDesk
	d.Location = mustLoc(t, "Asia/Tokyo")
	n := slaNote(SLABreach)
	n.Deadline = time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)
	r, err := Render(d, n)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Deadline: Tuesday 24 November 2026 at 05:00\n"; !strings.Contains(r.Text, want) {
		t.Errorf("text lacks %q:\n%s", want, r.Text)
	}
}

func TestRenderReceived(t *testing.T) {
	received := time.Date(2026, 11, 21, 19, 25, 0, 0, time.UTC)
	tests := []struct {
		name     string
		lang     string
		loc      *time.Location
		received time.Time
		feature  bool
		want     string // in text and HTML; "" = no Received line at all
	}{
		{"nl", "nl", mustLoc(t, "Europe/Amsterdam"), received, false, "zaterdag 21 november 2026 om 20:25"},
		{"en", "en", mustLoc(t, "Europe/Amsterdam"), received, false, "Saturday 21 November 2026 at 20:25"},
		{"nl feature request", "nl", mustLoc(t, "Europe/Amsterdam"), received, true, "zaterdag 21 november 2026 om 20:25"},
		{"desk in UTC", "en", nil, received, false, "Saturday 21 November 2026 at 19:25"},
		{"desk far east", "en", mustLoc(t, "Asia/Tokyo"), received, false, "Sunday 22 November 2026 at 04:25"},
		{"unknown nl", "nl", nil, time.Time{}, false, ""},
		{"unknown en", "en", nil, time.Time{}, false, ""},
	}
	label := map[string]string{"nl": "Ontvangen:", "en": "Received:"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDesk
			d.Location = tt.loc
			n := ackNote()
			n.Language, n.Received = tt.lang, tt.received
			if tt.feature {
				n.Type = "feature_request"
			}
			r, err := Render(d, n)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if strings.Contains(r.Text, label[tt.lang]) || strings.Contains(r.HTML, label[tt.lang]) {
					t.Errorf("a Received line without a date:\n%s\n%s", r.Text, r.HTML)
				}
				return
			}
			if line := label[tt.lang] + " " + tt.want; !strings.Contains(r.Text, "\n"+line+"\n") {
				t.Errorf("text lacks line %q:\n%s", line, r.Text)
			}
			if shown := htmlText(t, r.HTML); !strings.Contains(shown, label[tt.lang]+" "+tt.want) {
				t.Errorf("HTML lacks %q:\n%s", tt.want, shown)
			}
		})
	}
}

func TestReceivedRoundTrip(t *testing.T) {
	n := ackNote()
	n.Received = time.Date(2026, 3, 29, 3, 30, 0, 0, mustLoc(t, "Europe/Amsterdam"))
	back, err := FromFields(fieldsMap(n.Fields()))
	if err != nil {
		t.Fatal(err)
	}
	if !back.Received.Equal(n.Received) {
		t.Errorf("Received %v, want %v", back.Received, n.Received)
	}
	n.Received = time.Time{}
	f := fieldsMap(n.Fields())
	if _, ok := f["received"]; ok {
		t.Errorf("zero Received encoded: %v", f)
	}
	if back, _ := FromFields(f); !back.Received.IsZero() {
		t.Errorf("Received %v from nothing", back.Received)
	}
}
