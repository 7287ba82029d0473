package sla

import (
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
)

func targets(t testing.TB, first ...string) map[string]config.PlanTarget {
	t.Helper()
	m := map[string]config.PlanTarget{}
	for i, s := range first {
		if _, err := ParseTarget(s); err != nil {
			t.Fatal(err)
		}
		m[config.Priorities[i]] = config.PlanTarget{FirstResponse: config.Target(s)}
	}
	return m
}

// kwikqy is the Kwikqy contract (seeds 000/001) as sla sees it, plus the
// QiQQ plan (seed 002) and a plan without SLA clock.
func kwikqy(t testing.TB) *Plans {
	t.Helper()
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	withZone := func(c config.Calendar) config.Calendar { c.Location = ams; return c }
	englishWeek := config.Calendar{Hours: map[string][]string{"mon-fri": {"09:00-22:00"}}, Holidays: "nl"}
	dutch := map[string]config.LanguageRule{"nl": {Calendar: "nl", OutsideHoursPlan: "standard"}}
	cfg := &config.Config{
		Calendars: map[string]config.Calendar{
			"nl":              withZone(nlOffice),
			"english":         withZone(englishWeek),
			"english-premium": withZone(englishPrm),
			"qiqq":            withZone(nlLustrum),
		},
		Plans: map[string]config.Plan{
			"standard": {Calendar: "nl", Targets: targets(t, "4h", "8h", "24h", "48h")},
			"enhanced": {Calendar: "english", Targets: targets(t, "2h", "4h", "12h", "24h"), Languages: dutch},
			"premium":  {Calendar: "english-premium", Targets: targets(t, "1h", "2h", "6h", "12h"), Languages: dutch},
			"qiqq":     {Calendar: "qiqq", Targets: targets(t, "1h", "1 workday", "3 workdays", "within 3 workdays")},
			"none":     {DefaultPriority: "P3"},
		},
	}
	ps, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestDue(t *testing.T) {
	ps := kwikqy(t)
	tests := []struct {
		name, plan, prio, lang, at, want string
	}{
		{"before opening", "standard", "P1", "", "2026-03-02T07:30:00+01:00", "2026-03-02T13:00:00+01:00"},
		{"evening", "standard", "P2", "en", "2026-03-02T18:00:00+01:00", "2026-03-03T17:00:00+01:00"},
		{"Friday afternoon", "standard", "P1", "", "2026-03-06T15:00:00+01:00", "2026-03-09T11:00:00+01:00"},
		{"48 hours are six workdays", "standard", "P4", "", "2026-03-02T10:00:00+01:00", "2026-03-10T10:00:00+01:00"},
		{"before King's Day", "standard", "P1", "", "2026-04-24T15:00:00+02:00", "2026-04-28T11:00:00+02:00"},
		{"on King's Day", "standard", "P2", "", "2026-04-27T10:00:00+02:00", "2026-04-28T17:00:00+02:00"},
		{"King's Day 2025 is Saturday 26 April: Premium's Saturday is closed", "premium", "P2", "en", "2025-04-25T21:00:00+02:00", "2025-04-28T10:00:00+02:00"},
		{"Christmas", "standard", "P2", "", "2025-12-24T16:00:00+01:00", "2025-12-29T16:00:00+01:00"},
		{"Christmas, English hours", "enhanced", "P3", "en", "2026-12-24T20:00:00+01:00", "2026-12-28T19:00:00+01:00"},
		{"Ascension Day", "standard", "P1", "", "2026-05-13T14:00:00+02:00", "2026-05-15T10:00:00+02:00"},
		{"spring DST weekend", "standard", "P2", "", "2026-03-27T15:00:00+01:00", "2026-03-30T15:00:00+02:00"},
		{"spring DST, English hours", "enhanced", "P4", "en", "2025-03-28T12:00:00+01:00", "2025-04-01T10:00:00+02:00"},
		{"autumn DST weekend", "enhanced", "P3", "en", "2026-10-23T20:00:00+02:00", "2026-10-26T19:00:00+01:00"},
		{"Premium Saturday on the autumn DST weekend", "premium", "P3", "en", "2025-10-25T14:00:00+02:00", "2025-10-27T14:00:00+01:00"},
		{"Premium: Friday evening into Saturday", "premium", "P2", "en", "2026-03-06T21:00:00+01:00", "2026-03-07T12:00:00+01:00"},
		{"Premium: Saturday into Monday", "premium", "P3", "en", "2026-03-07T14:00:00+01:00", "2026-03-09T14:00:00+01:00"},
		{"Enhanced without language: English rule", "enhanced", "P1", "", "2026-03-02T18:00:00+01:00", "2026-03-02T20:00:00+01:00"},

		// Dutch requests: Enhanced/Premium targets in Dutch opening hours;
		// outside them Standard targets (seed 000 4.5, 4.6).
		{"Dutch in Dutch hours", "enhanced", "P1", "nl", "2026-03-02T10:00:00+01:00", "2026-03-02T12:00:00+01:00"},
		{"Dutch in Dutch hours counts Dutch hours only", "enhanced", "P1", "nl", "2026-03-02T16:00:00+01:00", "2026-03-03T10:00:00+01:00"},
		{"Dutch outside Dutch hours: Standard", "enhanced", "P1", "nl", "2026-03-02T18:00:00+01:00", "2026-03-03T13:00:00+01:00"},
		{"Dutch at 17:00 is outside", "premium", "P2", "nl", "2026-03-02T17:00:00+01:00", "2026-03-03T17:00:00+01:00"},
		{"Dutch on Premium's Saturday: Standard", "premium", "P1", "nl", "2026-03-07T12:00:00+01:00", "2026-03-09T13:00:00+01:00"},
		{"English on Premium's Saturday", "premium", "P1", "en", "2026-03-07T12:00:00+01:00", "2026-03-07T13:00:00+01:00"},
		{"Dutch on King's Day: Standard", "premium", "P2", "nl", "2026-04-27T10:00:00+02:00", "2026-04-28T17:00:00+02:00"},
		{"Standard has no language rule", "standard", "P1", "nl", "2026-03-02T18:00:00+01:00", "2026-03-03T13:00:00+01:00"},

		// QiQQ: Direct 1 hour, Hoog 1 workday, Standaard 3 workdays.
		{"workdays over King's Day", "qiqq", "P3", "", "2026-04-23T14:00:00+02:00", "2026-04-29T14:00:00+02:00"},
		{"within workdays: closing time", "qiqq", "P4", "", "2026-04-23T14:00:00+02:00", "2026-04-29T17:00:00+02:00"},
		{"one workday from Friday", "qiqq", "P2", "", "2026-03-06T16:00:00+01:00", "2026-03-09T16:00:00+01:00"},
		{"one workday from Saturday: Monday's closing", "qiqq", "P2", "", "2026-03-07T10:00:00+01:00", "2026-03-09T17:00:00+01:00"},
		// Workdays count after the arrival's date (issue 15, item 1).
		{"within 3 workdays: Monday a minute before closing", "qiqq", "P4", "", "2026-03-02T16:59:00+01:00", "2026-03-05T17:00:00+01:00"},
		{"within 3 workdays: Monday at closing", "qiqq", "P4", "", "2026-03-02T17:00:00+01:00", "2026-03-05T17:00:00+01:00"},
		{"within 3 workdays: Monday before opening", "qiqq", "P4", "", "2026-03-02T07:00:00+01:00", "2026-03-05T17:00:00+01:00"},
		{"within 3 workdays: Friday evening", "qiqq", "P4", "", "2026-03-06T17:30:00+01:00", "2026-03-11T17:00:00+01:00"},
		{"within 3 workdays: Saturday", "qiqq", "P4", "", "2026-03-07T10:00:00+01:00", "2026-03-11T17:00:00+01:00"},
		{"within 3 workdays: Sunday", "qiqq", "P4", "", "2026-03-08T22:00:00+01:00", "2026-03-11T17:00:00+01:00"},
		{"3 workdays: Monday at closing", "qiqq", "P3", "", "2026-03-02T17:00:00+01:00", "2026-03-05T17:00:00+01:00"},
		{"3 workdays: Saturday", "qiqq", "P3", "", "2026-03-07T10:00:00+01:00", "2026-03-11T17:00:00+01:00"},
		{"one workday over Christmas", "qiqq", "P2", "", "2025-12-24T10:00:00+01:00", "2025-12-29T10:00:00+01:00"},
		{"one workday over spring DST", "qiqq", "P2", "", "2026-03-27T10:00:00+01:00", "2026-03-30T10:00:00+02:00"},
		{"one hour on Friday", "qiqq", "P1", "", "2026-03-06T16:30:00+01:00", "2026-03-09T09:30:00+01:00"},
		{"Liberation Day 2025 (lustrum)", "qiqq", "P2", "", "2025-05-02T10:00:00+02:00", "2025-05-06T10:00:00+02:00"},
		{"Liberation Day 2026 (no lustrum)", "qiqq", "P2", "", "2026-05-04T10:00:00+02:00", "2026-05-05T10:00:00+02:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ps.Due(tt.plan, tt.prio, tt.lang, ts(t, tt.at))
			if err != nil {
				t.Fatal(err)
			}
			if got := d.FirstResponse.Format(time.RFC3339); got != tt.want {
				t.Errorf("Due(%s, %s, %q, %s) = %s, want %s (%s)", tt.plan, tt.prio, tt.lang, tt.at, got, tt.want, d.Rule)
			}
			if !d.Resolution.IsZero() {
				t.Errorf("resolution deadline %s without a resolution target", d.Resolution)
			}
		})
	}
}

func TestDueRule(t *testing.T) {
	ps := kwikqy(t)
	d, err := ps.Due("enhanced", "P1", "nl", ts(t, "2026-03-02T18:00:00+01:00"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Calendar.Name() != "nl" || d.Targets.FirstResponse.String() != "4h" || !strings.Contains(d.Rule, `outside its opening hours: plan "standard"`) {
		t.Errorf("fallback rule: calendar %s, targets %v, rule %q", d.Calendar.Name(), d.Targets, d.Rule)
	}
	if want := ts(t, "2026-03-03T09:00:00+01:00"); !d.Start.Equal(want) {
		t.Errorf("Start = %s, want %s", d.Start, want)
	}

	d, err = ps.Due("none", "P1", "", ts(t, "2026-03-02T18:00:00+01:00"))
	if err != nil || !d.FirstResponse.IsZero() || d.Calendar != nil {
		t.Errorf("plan without SLA clock: %+v, %v", d, err)
	}

	for _, c := range []struct{ plan, prio, wantErr string }{
		{"gold", "P1", `unknown plan "gold" (plans: enhanced, none, premium, qiqq, standard)`},
		{"standard", "P5", `unknown priority "P5"`},
		{"standard", "", `unknown priority ""`},
	} {
		if _, err := ps.Due(c.plan, c.prio, "", ts(t, "2026-03-02T18:00:00+01:00")); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("Due(%s, %s): err = %v, want %q", c.plan, c.prio, err, c.wantErr)
		}
	}
}

func TestFromConfigResolution(t *testing.T) {
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	cal := nlOffice
	cal.Location = ams
	first := config.Target("1h")
	res := config.Target("within 2 workdays")
	ps, err := FromConfig(&config.Config{
		Calendars: map[string]config.Calendar{"office": cal},
		Plans:     map[string]config.Plan{"p": {Calendar: "office", Targets: map[string]config.PlanTarget{"P1": {FirstResponse: first, Resolution: res}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := ps.Due("p", "P1", "", ts(t, "2026-03-06T16:30:00+01:00"))
	if err != nil {
		t.Fatal(err)
	}
	if d.FirstResponse.Format(time.RFC3339) != "2026-03-09T09:30:00+01:00" || d.Resolution.Format(time.RFC3339) != "2026-03-10T17:00:00+01:00" {
		t.Errorf("first response %s, resolution %s", d.FirstResponse, d.Resolution)
	}
	// P2 has no targets in this plan: no deadlines, no error.
	if d, err := ps.Due("p", "P2", "", ts(t, "2026-03-06T16:30:00+01:00")); err != nil || !d.FirstResponse.IsZero() {
		t.Errorf("priority without target: %+v, %v", d, err)
	}
}

// A priority change halfway: business time already used counts towards the
// new target.
func TestRecompute(t *testing.T) {
	ps := kwikqy(t)
	tests := []struct {
		name, plan, lang, from, at, to, arrival, want string
	}{
		{"raised with time left", "standard", "", "P4", "2026-03-02T13:00:00+01:00", "P1", "2026-03-02T10:00:00+01:00", "2026-03-02T14:00:00+01:00"},
		{"raised after the new target ran out: overdue at once", "standard", "", "P4", "2026-03-02T15:00:00+01:00", "P1", "2026-03-02T10:00:00+01:00", "2026-03-02T14:00:00+01:00"},
		{"lowered", "standard", "", "P1", "2026-03-02T11:00:00+01:00", "P3", "2026-03-02T10:00:00+01:00", "2026-03-05T10:00:00+01:00"},
		{"across a night", "standard", "", "P4", "2026-03-03T10:00:00+01:00", "P1", "2026-03-02T16:00:00+01:00", "2026-03-03T12:00:00+01:00"},
		{"changed before the clock started", "standard", "", "P4", "2026-03-08T12:00:00+01:00", "P1", "2026-03-07T10:00:00+01:00", "2026-03-09T13:00:00+01:00"},
		{"Dutch fallback stays", "enhanced", "nl", "P3", "2026-03-03T10:00:00+01:00", "P1", "2026-03-02T18:00:00+01:00", "2026-03-03T13:00:00+01:00"},
		{"to workdays", "qiqq", "", "P1", "2026-03-02T10:30:00+01:00", "P3", "2026-03-02T10:00:00+01:00", "2026-03-05T10:00:00+01:00"},
		{"from workdays to hours", "qiqq", "", "P3", "2026-03-03T10:00:00+01:00", "P1", "2026-03-02T16:30:00+01:00", "2026-03-03T09:30:00+01:00"},
		// The arrival's date counts, not the business time since: a
		// Saturday ticket is still due Wednesday.
		{"to within workdays from Saturday", "qiqq", "", "P1", "2026-03-09T10:00:00+01:00", "P4", "2026-03-07T10:00:00+01:00", "2026-03-11T17:00:00+01:00"},
		{"to workdays from Monday before opening", "qiqq", "", "P1", "2026-03-02T10:00:00+01:00", "P3", "2026-03-02T07:00:00+01:00", "2026-03-05T09:00:00+01:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ps.Due(tt.plan, tt.from, tt.lang, ts(t, tt.arrival))
			if err != nil {
				t.Fatal(err)
			}
			n, err := d.Recompute(tt.to, ts(t, tt.at))
			if err != nil {
				t.Fatal(err)
			}
			if got := n.FirstResponse.Format(time.RFC3339); got != tt.want || n.Priority != tt.to {
				t.Errorf("%s -> %s at %s: %s %s, want %s", tt.from, tt.to, tt.at, n.Priority, got, tt.want)
			}
			// Without pauses a recomputed deadline is the one the ticket
			// would have had with the new priority from the start.
			if direct, _ := ps.Due(tt.plan, tt.to, tt.lang, ts(t, tt.arrival)); !direct.FirstResponse.Equal(n.FirstResponse) {
				t.Errorf("recomputed %s, direct %s", n.FirstResponse, direct.FirstResponse)
			}
		})
	}
}

func TestTargetRecomputeWithPause(t *testing.T) {
	c := mustCalendar(t, nlOffice)
	four, _ := ParseTarget("4h")
	// Arrived Monday 10:00, 1h used, then the clock stood still (waiting
	// for the customer) until Tuesday 14:00: 3h are left from there.
	got, err := four.Recompute(c, ts(t, "2026-03-03T14:00:00+01:00"), time.Hour)
	if err != nil || !got.Equal(ts(t, "2026-03-03T17:00:00+01:00")) {
		t.Errorf("Recompute = %s, %v", got, err)
	}
}

func BenchmarkDue(b *testing.B) {
	ps := kwikqy(b)
	plans := []string{"standard", "enhanced", "premium", "qiqq"}
	langs := []string{"", "nl", "en"}
	start := ts(b, "2026-01-01T00:00:00+01:00")
	for i := 0; b.Loop(); i++ {
		// Arrivals spread over a year at odd minutes, every plan, priority
		// and language.
		at := start.Add(time.Duration(i%(365*24*60/7)) * 7 * time.Minute)
		if _, err := ps.Due(plans[i%len(plans)], config.Priorities[i%4], langs[i%3], at); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deadlines/s")
}

// The clock stands still while the desk waits for the customer: resuming
// gives the remaining business time from the moment of resumption, and the
// warning comes at the same share of the target.
func TestAtAfterPauseAndWarnAt(t *testing.T) {
	ps := kwikqy(t)
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	d, err := ps.Due("standard", "P1", "", at("2026-03-02T09:00:00+01:00")) // Monday, 4h
	if err != nil {
		t.Fatal(err)
	}
	if want := at("2026-03-02T13:00:00+01:00"); !d.FirstResponse.Equal(want) {
		t.Fatalf("deadline %v, want %v", d.FirstResponse, want)
	}
	if w, want := d.WarnAt(0.75), at("2026-03-02T12:00:00+01:00"); !w.Equal(want) {
		t.Errorf("warn at %v, want %v", w, want)
	}
	// Paused Monday 10:00 after 1h, resumed Tuesday 09:00: 3h left.
	r, err := d.At("P1", at("2026-03-03T09:00:00+01:00"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := at("2026-03-03T12:00:00+01:00"); !r.FirstResponse.Equal(want) {
		t.Errorf("resumed deadline %v, want %v", r.FirstResponse, want)
	}
	if w, want := r.WarnAt(0.75), at("2026-03-03T11:00:00+01:00"); !w.Equal(want) {
		t.Errorf("resumed warn at %v, want %v", w, want)
	}
	// Re-classified to P3 (24h) at resumption: the same hour counts.
	r3, err := d.At("P3", at("2026-03-03T09:00:00+01:00"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// 23h left from Tuesday 09:00 in 8h days: Tue 8h, Wed 8h, Thu 7h -> Thu 16:00.
	if want := at("2026-03-05T16:00:00+01:00"); !r3.FirstResponse.Equal(want) {
		t.Errorf("re-classified deadline %v, want %v", r3.FirstResponse, want)
	}
	// No SLA clock, no warning.
	none, _ := ps.Due("none", "P1", "", at("2026-03-02T09:00:00+01:00"))
	if !none.WarnAt(0.75).IsZero() {
		t.Error("warning without a clock")
	}
}
