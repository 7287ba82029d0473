package billing

import (
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/configload"
)

var ams = mustLoc("Europe/Amsterdam")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// example loads a configuration of deploy/examples: the contracts'
// rules as they are shipped.
func example(t *testing.T, name string) (*config.Config, *Rules) {
	t.Helper()
	cfg, err := configload.LoadSecrets("../deploy/examples/"+name, 0)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	r, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, r
}

func plan(t *testing.T, r *Rules, name string) *Plan {
	t.Helper()
	p, err := r.Plan(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, ams)
	if err != nil {
		panic(err)
	}
	return t
}

func rec(id, start string, minutes int, activity string) Record {
	return Record{ID: id, Start: at(start), Minutes: minutes, Activity: activity, Billable: true}
}

func money(s string) config.Money {
	m, err := config.ParseMoney(s)
	if err != nil {
		panic(err)
	}
	return m
}

// lines writes a ticket's lines compactly: "class activity billed@rate=amount".
func lines(ts TicketStatement) string {
	var out []string
	for _, l := range ts.Lines {
		s := l.Kind
		if l.Class != "" {
			s = l.Class
		}
		if l.Activity != "" && l.Activity != config.ActivityRemote {
			s += " " + l.Activity
		}
		s += " " + fmtMinutes(l.Billed) + "@" + l.Rate.String() + "=" + l.Amount.String()
		if l.Free != "" {
			s += " (" + l.Free + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

type quoteCase struct {
	name           string
	plan           string
	typ, priority  string
	channel        string
	records        []Record
	wantLines      string
	wantTotal      string
	wantRecordSegs string // the first record's segments, "class 30m, class 45m"; "" not checked
}

func runQuotes(t *testing.T, r *Rules, cases []quoteCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := plan(t, r, tc.plan)
			ch := tc.channel
			if ch == "" {
				ch = config.ChannelMail
			}
			from, to := MonthOf(tc.records[0].Start, p.Location()).Bounds(p.Location())
			ts := p.PriceTicket(Ticket{Number: "X-1", Type: tc.typ, Priority: tc.priority, Channel: ch, Records: tc.records}, from, to)
			if got := lines(ts); got != tc.wantLines {
				t.Errorf("lines\n got %s\nwant %s", got, tc.wantLines)
			}
			if ts.Amount != money(tc.wantTotal) {
				t.Errorf("total %s, want %s", ts.Amount, tc.wantTotal)
			}
			if tc.wantRecordSegs != "" {
				var segs []string
				for _, s := range ts.Records[0].Segments {
					segs = append(segs, s.Class+" "+fmtMinutes(s.Minutes()))
				}
				if got := strings.Join(segs, ", "); got != tc.wantRecordSegs {
					t.Errorf("segments %s, want %s", got, tc.wantRecordSegs)
				}
			}
		})
	}
}

// Oxineo: "Tijdens kantooruren op werkdagen van 9:00 tot 17:00 uur: €85;
// Buiten kantooruren op werkdagen van 17:00 tot 9:00 uur: €110; In het
// weekend en op feestdagen: €130"; at least 15 minutes per ticket, in
// units of 15 minutes. Amounts computed by hand.
func TestOxineo(t *testing.T) {
	_, r := example(t, "oxineo.yaml")
	runQuotes(t, r, []quoteCase{
		// The example: 16:30-17:45 on a Friday = 30 min at €85 +
		// 45 min at €110 = 42.50 + 82.50.
		{"friday across closing time", "support", "incident", "P3", "", []Record{rec("a", "2026-11-20 16:30", 75, "remote")},
			"kantooruren 30m@85.00=42.50; buiten kantooruren 45m@110.00=82.50", "125.00", "kantooruren 30m, buiten kantooruren 45m"},
		// 5 minutes are a quarter of an hour: 85/4.
		{"five minutes", "support", "incident", "P3", "", []Record{rec("a", "2026-11-17 10:00", 5, "remote")},
			"kantooruren 15m@85.00=21.25", "21.25", ""},
		// Before opening and after: each class rounded on its own, 10 min
		// each way -> 15 min at 110 (27.50) + 15 min at 85 (21.25).
		{"monday across opening time", "support", "incident", "P3", "", []Record{rec("a", "2026-11-23 08:50", 20, "remote")},
			"buiten kantooruren 15m@110.00=27.50; kantooruren 15m@85.00=21.25", "48.75", "buiten kantooruren 10m, kantooruren 10m"},
		// Saturday: 20 minutes -> 30 minutes at 130.
		{"saturday", "support", "incident", "P3", "", []Record{rec("a", "2026-11-21 10:00", 20, "remote")},
			"weekend en feestdagen 30m@130.00=65.00", "65.00", ""},
		// Christmas Day is a Friday in 2026: a holiday, €130.
		{"christmas", "support", "incident", "P3", "", []Record{rec("a", "2026-12-25 10:00", 60, "remote")},
			"weekend en feestdagen 1h@130.00=130.00", "130.00", ""},
		// Friday night into Saturday: 23:00-01:00 is 1h at 110, 1h at 130.
		{"friday night into saturday", "support", "incident", "P1", "", []Record{rec("a", "2026-11-20 23:00", 120, "remote")},
			"buiten kantooruren 1h@110.00=110.00; weekend en feestdagen 1h@130.00=130.00", "240.00", ""},
		// Two records of one ticket in one class are summed, then rounded:
		// 10 + 10 minutes -> 30 minutes, not 15 + 15.
		{"records summed before rounding", "support", "incident", "P3", "",
			[]Record{rec("a", "2026-11-17 10:00", 10, "remote"), rec("b", "2026-11-18 10:00", 10, "remote")},
			"kantooruren 30m@85.00=42.50", "42.50", ""},
		// Not billable: recorded, not charged; no minimum for such a ticket.
		{"not billable", "support", "incident", "P3", "",
			[]Record{{ID: "a", Start: at("2026-11-17 10:00"), Minutes: 30, Activity: "remote"}},
			"kantooruren 0m@85.00=0.00 (not billable)", "0.00", ""},
	})
}

// QiQQ: rates per type and priority, evening €85 and night/Sunday €125 at
// least, 15-minute units, fair use up to 5 minutes by the right channel,
// +15 minutes for functional support by phone, travel at half the rate
// with a minimum of €32.50. Amounts computed by hand.
func TestQiQQ(t *testing.T) {
	_, r := example(t, "qiqq.yaml")
	runQuotes(t, r, []quoteCase{
		// Hoog on other services, Thursday 16:30-17:30: 30 min office at
		// €85 and 30 min evening at €85 (at least €85).
		{"hoog across closing time", "standard", "overig", "P2", "", []Record{rec("a", "2026-11-19 16:30", 60, "remote")},
			"kantoortijden 30m@85.00=42.50; avond 30m@85.00=42.50", "85.00", "kantoortijden 30m, avond 30m"},
		// Standaard functional, Thursday 21:30-22:30: 30 min evening at
		// €85 (not €65), 30 min night at €125.
		{"standaard into the night", "standard", "functioneel", "P3", "", []Record{rec("a", "2026-11-19 21:30", 60, "remote")},
			"avond 30m@85.00=42.50; nacht/zondag 30m@125.00=62.50", "105.00", "avond 30m, nacht/zondag 30m"},
		// Direct in the evening stays €125: the evening rate is a floor.
		{"direct in the evening", "standard", "overig", "P1", "phone", []Record{rec("a", "2026-11-18 18:00", 60, "remote")},
			"avond 1h@125.00=125.00", "125.00", ""},
		// Saturday daytime is outside office hours, not Sunday: evening rate.
		{"saturday", "standard", "functioneel", "P3", "", []Record{rec("a", "2026-11-21 11:00", 60, "remote")},
			"avond 1h@85.00=85.00", "85.00", ""},
		// Sunday: €125 all day.
		{"sunday", "standard", "overig", "P3", "phone", []Record{rec("a", "2026-11-22 14:00", 30, "remote")},
			"nacht/zondag 30m@125.00=62.50", "62.50", ""},
		// Fair use: 4 minutes of functional support reported by mail are free.
		{"fair use by mail", "standard", "functioneel", "P3", "mail", []Record{rec("a", "2026-11-17 10:00", 4, "remote")},
			"kantoortijden 15m@65.00=0.00 (fair use)", "0.00", ""},
		// ... but not by phone, which costs 15 minutes more: 15 + 15 min at €65.
		{"functional by phone", "standard", "functioneel", "P3", "phone", []Record{rec("a", "2026-11-17 10:00", 4, "remote")},
			"kantoortijden 15m@65.00=16.25; channel 15m@65.00=16.25", "32.50", ""},
		// Technical support on other services by phone is fair use.
		{"fair use by phone", "standard", "overig", "P2", "phone", []Record{rec("a", "2026-11-17 10:00", 5, "remote")},
			"kantoortijden 15m@85.00=0.00 (fair use)", "0.00", ""},
		// Six minutes are no fair use.
		{"six minutes", "standard", "overig", "P2", "phone", []Record{rec("a", "2026-11-17 10:00", 6, "remote")},
			"kantoortijden 15m@85.00=21.25", "21.25", ""},
		// QiQQ's own services are free, also at night.
		{"own services", "standard", "beheerd", "P1", "phone", []Record{rec("a", "2026-11-19 23:00", 120, "remote")},
			"nacht/zondag 2h@125.00=0.00 (free type beheerd)", "0.00", ""},
		// Travel at half the rate in force: Sunday €125 -> €62.50 an hour,
		// 40 min -> 45 min -> €46.875 -> €46.88, above the minimum.
		{"travel on sunday", "standard", "overig", "P1", "phone",
			[]Record{rec("a", "2026-11-22 14:00", 30, "on_site"), rec("b", "2026-11-22 14:30", 40, "travel")},
			"nacht/zondag on_site 30m@125.00=62.50; nacht/zondag travel 45m@62.50=46.88", "109.38", ""},
		// Travel in office hours on Standaard: €32.50 an hour, 20 min ->
		// 30 min -> €16.25, raised to the minimum €32.50 per trip; two
		// trips are two minimums.
		{"travel minimum", "standard", "overig", "P3", "phone",
			[]Record{rec("a", "2026-11-17 10:00", 20, "travel"), rec("b", "2026-11-17 15:00", 20, "travel")},
			"kantoortijden travel 30m@32.50=32.50; kantoortijden travel 30m@32.50=32.50", "65.00", ""},
	})
}

// The web agency: a call-out during agreed standby costs at least an hour
// at the standard rate (an example €95), on top of the standby surcharge.
func TestWebAgencyCallOuts(t *testing.T) {
	_, r := example(t, "webagency.yaml")
	runQuotes(t, r, []quoteCase{
		{"call-out in weekend standby", "standby", "incident", "P1", "phone", []Record{rec("a", "2026-12-05 10:00", 20, "remote")},
			"inzet tijdens standby 1h@95.00=95.00", "95.00", ""},
		// 17:30-18:30 on Monday 7 December: 30 min in office hours, then 30
		// min in the evening standby, which counts as an hour.
		{"into the evening standby", "standby", "incident", "P2", "mail", []Record{rec("a", "2026-12-07 17:30", 60, "remote")},
			"standard 30m@95.00=47.50; inzet tijdens standby 1h@95.00=95.00", "142.50", "standard 30m, inzet tijdens standby 30m"},
		// Outside a standby period nothing is a call-out.
		{"weekday", "standby", "incident", "P3", "mail", []Record{rec("a", "2026-12-01 10:00", 50, "remote")},
			"standard 1h@95.00=95.00", "95.00", ""},
		{"customer without standby", "standard", "incident", "P3", "mail", []Record{rec("a", "2026-12-05 10:00", 20, "remote")},
			"standard 30m@95.00=47.50", "47.50", ""},
	})
}

// The statements: each seed's month with its tickets, fees and standby,
// against amounts computed by hand.
func TestStatements(t *testing.T) {
	type want struct {
		tickets []string // "number amount"
		fees    []string // "kind class amount"
		total   string
	}
	for _, tc := range []struct {
		name, file, customer, month string
		customerOverride            func(c *config.Customer)
		tickets                     []Ticket
		want                        want
	}{
		{
			name: "oxineo november", file: "oxineo.yaml", customer: "accountancy-de-haan", month: "2026-11",
			tickets: []Ticket{
				{Number: "OX-1", Type: "incident", Priority: "P3", Channel: "mail", Records: []Record{rec("a", "2026-11-20 16:30", 75, "remote")}},
				// 5 min office + 10 min before opening + 10 min after:
				// office 15 min (21.25), outside 15 min (27.50).
				{Number: "OX-2", Type: "incident", Priority: "P3", Channel: "mail", Records: []Record{
					rec("b", "2026-11-17 10:00", 5, "remote"), rec("c", "2026-11-23 08:50", 20, "remote")}},
				{Number: "OX-10", Type: "incident", Priority: "P3", Channel: "mail", Records: []Record{rec("d", "2026-11-21 10:00", 20, "remote")}},
				// October's work is October's statement.
				{Number: "OX-3", Type: "incident", Priority: "P3", Channel: "mail", Records: []Record{rec("e", "2026-10-30 10:00", 60, "remote")}},
			},
			// 125.00 + 48.75 + 65.00 + 275.00
			want: want{tickets: []string{"OX-1 125.00", "OX-2 48.75", "OX-10 65.00"}, fees: []string{"fee  275.00"}, total: "513.75"},
		},
		{
			name: "oxineo before the term", file: "oxineo.yaml", customer: "accountancy-de-haan", month: "2026-02",
			want: want{total: "0.00"},
		},
		{
			// A record that starts in one month and ends in the next is the
			// first month's: 30 November 23:30-00:30 is all November's.
			name: "oxineo month end", file: "oxineo.yaml", customer: "tandartspraktijk-zuid", month: "2026-12",
			tickets: []Ticket{{Number: "OX-4", Type: "incident", Priority: "P3", Channel: "mail", Records: []Record{rec("a", "2026-11-30 23:30", 60, "remote")}}},
			want:    want{fees: []string{"fee  275.00"}, total: "275.00"},
		},
		{
			// The standby periods of December 2026 (examples in the
			// calendar), at €95: weekend 5 and 6 December 08:30-18:00,
			// 2 x 9h30 at 50% (€47.50) = 2 x 451.25; five evenings and
			// nights Monday 7 to Saturday 12 December, 5 x 14h30 at 100% =
			// 5 x 1377.50; Christmas and Boxing Day, one stretch of 48 h at
			// 100% = 4560.00. Plus a call-out (95.00).
			name: "web agency december", file: "webagency.yaml", customer: "webshop-dekker", month: "2026-12",
			tickets: []Ticket{{Number: "WEB-1", Type: "incident", Priority: "P1", Channel: "phone", Records: []Record{rec("a", "2026-12-05 10:00", 20, "remote")}}},
			want: want{tickets: []string{"WEB-1 95.00"}, fees: []string{
				"standby weekend 451.25", "standby weekend 451.25",
				"standby avond/nacht 1377.50", "standby avond/nacht 1377.50", "standby avond/nacht 1377.50", "standby avond/nacht 1377.50", "standby avond/nacht 1377.50",
				"standby feestdag 4560.00"}, total: "12445.00"},
		},
		{
			// No standby agreed in January: no surcharge.
			name: "web agency no standby", file: "webagency.yaml", customer: "webshop-dekker", month: "2027-01",
			want: want{total: "0.00"},
		},
		{
			name: "kwikqy standard is free", file: "kwikqy.yaml", customer: "bakkerij-voss", month: "2026-11",
			tickets: []Ticket{{Number: "KQ-1", Type: "incident", Priority: "P2", Channel: "mail", Records: []Record{
				rec("a", "2026-11-17 10:00", 45, "remote"),
				// 7: unjustified requests are invoiced: 45 min at €95.
				rec("b", "2026-11-18 10:00", 45, "unjustified"),
				// 5.5: on-site support is invoiced by its own order.
				rec("c", "2026-11-19 10:00", 120, "on_site")}}},
			want: want{tickets: []string{"KQ-1 71.25"}, total: "71.25"},
		},
		{
			name: "kwikqy enhanced fee", file: "kwikqy.yaml", customer: "van-dijk-logistics", month: "2026-11",
			want: want{fees: []string{"fee  250.00"}, total: "250.00"},
		},
		{
			// 4.3: a term starting 11 November pays 20 of 30 days:
			// 250 x 20 / 30 = 166.666... -> 166.67.
			name: "kwikqy pro rata", file: "kwikqy.yaml", customer: "van-dijk-logistics", month: "2026-11",
			customerOverride: func(c *config.Customer) { c.ActiveFrom = "2026-11-11" },
			want:             want{fees: []string{"fee  166.67"}, total: "166.67"},
		},
		{
			name: "kwikqy pro rata last month", file: "kwikqy.yaml", customer: "van-dijk-logistics", month: "2027-02",
			customerOverride: func(c *config.Customer) { c.ActiveUntil = "2027-02-14" },
			want:             want{fees: []string{"fee  125.00"}, total: "125.00"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, r := example(t, tc.file)
			var c *config.Customer
			for i := range cfg.Customers {
				if cfg.Customers[i].ID == tc.customer {
					c = &cfg.Customers[i]
				}
			}
			if c == nil {
				t.Fatalf("no customer %s", tc.customer)
			}
			if tc.customerOverride != nil {
				cc := *c
				tc.customerOverride(&cc)
				c = &cc
			}
			m, err := ParseMonth(tc.month)
			if err != nil {
				t.Fatal(err)
			}
			p := plan(t, r, c.PlanName())
			s := p.Statement(c, m, tc.tickets)
			var gotT, gotF []string
			for _, ts := range s.Tickets {
				gotT = append(gotT, ts.Number+" "+ts.Amount.String())
			}
			for _, f := range s.Fees {
				gotF = append(gotF, f.Kind+" "+f.Class+" "+f.Amount.String())
			}
			if strings.Join(gotT, ", ") != strings.Join(tc.want.tickets, ", ") {
				t.Errorf("tickets %q, want %q", gotT, tc.want.tickets)
			}
			if strings.Join(gotF, ", ") != strings.Join(tc.want.fees, ", ") {
				t.Errorf("fees %q, want %q", gotF, tc.want.fees)
			}
			if s.Total != money(tc.want.total) {
				t.Errorf("total %s, want %s", s.Total, tc.want.total)
			}
			if s.Currency != "EUR" {
				t.Errorf("currency %q", s.Currency)
			}
		})
	}
}

func TestParseMonth(t *testing.T) {
	m, err := ParseMonth("2026-11")
	if err != nil || m != (Month{2026, time.November}) || m.String() != "2026-11" || m.Days() != 30 {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"", "2026-13", "11-2026", "2026/11", "2026-11-01"} {
		if _, err := ParseMonth(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	from, to := m.Bounds(ams)
	if from.Format(time.RFC3339) != "2026-11-01T00:00:00+01:00" || to.Format(time.RFC3339) != "2026-12-01T00:00:00+01:00" {
		t.Errorf("bounds %s %s", from, to)
	}
}

func TestMulDiv(t *testing.T) {
	for _, tc := range []struct{ a, b, c, want int64 }{
		{8500, 45, 60, 6375}, {6250, 45, 60, 4688}, {6250, 45, 60, 4688}, {25000, 20, 30, 16667}, {1, 1, 2, 1}, {1, 1, 3, 0}, {0, 5, 7, 0},
	} {
		if got := mulDiv(tc.a, tc.b, tc.c); got != tc.want {
			t.Errorf("mulDiv(%d, %d, %d) = %d, want %d", tc.a, tc.b, tc.c, got, tc.want)
		}
	}
}
