package billing

import (
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
)

// rulesOf builds plan "m": €60 an hour, 15-minute units, at least 30
// minutes per ticket, a night class across midnight, weekend days at 150%,
// and a standby evening on Saturday 21 November 2026 with a 2-hour minimum.
func rulesOf(t *testing.T) *Plan {
	t.Helper()
	cfg := &config.Config{
		Desk: config.Desk{Location: time.UTC},
		Calendars: map[string]config.Calendar{"c": {Timezone: "Europe/Amsterdam", Hours: map[string][]string{"mon-fri": {"09:00-17:00"}},
			Standby: []config.StandbyDays{{From: "2026-11-21", Hours: []string{"20:00-21:00"}, FirstResponse: config.Target("30m")}}}},
		Plans: map[string]config.Plan{"m": {Calendar: "c", Billing: &config.Billing{Currency: "EUR", Rate: 6000,
			Unit: config.Duration(15 * time.Minute), Minimum: config.Duration(30 * time.Minute),
			Classes: []config.RateClass{
				{Name: "nacht", When: []string{"22:00-24:00", "00:00-06:00"}, Rate: new(config.Money(9000))},
				{Name: "weekend", When: []string{"sat-sun 09:00-17:00"}, Percent: 150},
			},
			Standby: config.StandbyBilling{Classes: []config.StandbyClass{{Name: "avond", Percent: 100, Minimum: config.Duration(2 * time.Hour)}}},
		}}, "none": {}},
	}
	r, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Plan("none"); err == nil || !strings.Contains(err.Error(), "no billing rules (plans.none.billing)") {
		t.Errorf("a plan without billing: %v", err)
	}
	if _, err := r.Plan("x"); err == nil || !strings.Contains(err.Error(), `unknown plan "x" (plans: m, none)`) {
		t.Errorf("an unknown plan: %v", err)
	}
	return plan(t, r, "m")
}

func TestMinimumPerTicket(t *testing.T) {
	p := rulesOf(t)
	tk := Ticket{Number: "SD-1", Type: "incident", Priority: "P3", Channel: "mail", Records: []Record{
		rec("a", "2026-11-17 10:00", 10, "remote"), rec("b", "2026-12-01 10:00", 60, "remote")}}
	// November, the ticket's first month: 10 min -> 15 min, topped up to 30.
	nov := p.Statement(&config.Customer{ID: "c"}, Month{2026, time.November}, []Ticket{tk})
	if got := lines(nov.Tickets[0]); got != "standard 15m@60.00=15.00; minimum 15m@60.00=15.00" || nov.Tickets[0].Amount != 3000 || nov.Total != 3000+12000 {
		t.Errorf("november: %s, total %s", got, nov.Total)
	}
	// December: no second minimum.
	dec := p.Statement(&config.Customer{ID: "c"}, Month{2026, time.December}, []Ticket{tk})
	if got := lines(dec.Tickets[0]); got != "standard 1h@60.00=60.00" {
		t.Errorf("december: %s", got)
	}
}

// A night across the end of daylight saving time: Saturday 24 October
// 2026 21:00 CEST for 7 hours ends Sunday 03:00 CET. 21:00-22:00 is the
// standard rate; 22:00 to 03:00 CET is six hours of night (the clock goes
// back from 03:00 to 02:00), not five.
func TestSplitAcrossDaylightSaving(t *testing.T) {
	p := rulesOf(t)
	segs := p.Split(at("2026-10-24 21:00"), at("2026-10-24 21:00").Add(7*time.Hour))
	var got []string
	for _, s := range segs {
		got = append(got, s.Class+" "+s.Start.In(ams).Format("15:04")+" "+fmtMinutes(s.Minutes()))
	}
	if strings.Join(got, ", ") != "standard 21:00 1h, nacht 22:00 6h" {
		t.Errorf("segments %s", strings.Join(got, ", "))
	}
	// Saturday daytime is the weekend class at 150%: €90.
	ts := p.Quote("incident", "P3", "mail", rec("a", "2026-11-21 16:00", 90, "remote"))
	if got := lines(ts); got != "weekend 1h@90.00=90.00; standard 30m@60.00=30.00" || ts.Amount != 12000 {
		t.Errorf("weekend: %s %s", got, ts.Amount)
	}
}

// A standby hour is charged its class's minimum of two hours.
func TestStandbyMinimum(t *testing.T) {
	p := rulesOf(t)
	s := p.Statement(&config.Customer{ID: "c"}, Month{2026, time.November}, nil)
	if len(s.Fees) != 1 || s.Fees[0].Recorded != 60 || s.Fees[0].Billed != 120 || s.Fees[0].Amount != 12000 || s.Total != 12000 ||
		!strings.Contains(s.Fees[0].Detail, "minimum 2h") {
		t.Errorf("fees %+v", s.Fees)
	}
	// Work in the standby hour is in no class of its own here: the night
	// class does not match 20:00, so it is standard.
	if segs := p.Split(at("2026-11-21 20:00"), at("2026-11-21 20:30")); len(segs) != 1 || segs[0].Class != StandardClass {
		t.Errorf("segments %+v", segs)
	}
}
