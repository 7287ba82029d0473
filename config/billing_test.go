package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseMoney(t *testing.T) {
	for in, want := range map[string]Money{"85": 8500, "85.00": 8500, "32.50": 3250, "32.5": 3250, "0": 0, " 7.05 ": 705, "1000000": 100000000} {
		got, err := ParseMoney(in)
		if err != nil || got != want {
			t.Errorf("ParseMoney(%q) = %d, %v; want %d", in, got, err, want)
		}
		if back, _ := ParseMoney(got.String()); back != got {
			t.Errorf("%q does not round-trip through %q", in, got.String())
		}
	}
	for _, bad := range []string{"", "-5", "+5", "85,00", "€85", "85.", ".50", "1.005", "1e3", "1000000.01", "12345678", "8 5"} {
		if m, err := ParseMoney(bad); err == nil {
			t.Errorf("ParseMoney(%q) = %d, want an error", bad, m)
		}
	}
	if s := Money(-1250).String(); s != "-12.50" {
		t.Errorf("negative: %s", s)
	}
}

func TestParseWhen(t *testing.T) {
	for in, check := range map[string]func(When) bool{
		"office":              func(w When) bool { return w.Office },
		"Holiday":             func(w When) bool { return w.Holiday },
		"standby":             func(w When) bool { return w.Standby },
		"sun":                 func(w When) bool { return len(w.Days) == 1 && w.Days[0] == time.Sunday && w.Hours == nil },
		"22:00-24:00":         func(w When) bool { return w.Days == nil && w.Hours.Start == 22*60 && w.Hours.End == 24*60 },
		"sat-sun 08:30-18:00": func(w When) bool { return len(w.Days) == 2 && w.Hours.Start == 8*60+30 },
	} {
		w, err := ParseWhen(in)
		if err != nil || !check(w) {
			t.Errorf("ParseWhen(%q) = %+v, %v", in, w, err)
		}
	}
	for _, bad := range []string{"", "evening", "22:00", "18:00-08:30", "sat 08:30", "office 09:00-17:00", "sat sun", "mon-fri 09:00-17:00 x"} {
		if w, err := ParseWhen(bad); err == nil {
			t.Errorf("ParseWhen(%q) = %+v, want an error", bad, w)
		}
	}
}

// The billing section as the seeds need it loads, and its accessors say
// what the plan has.
func TestBilling(t *testing.T) {
	cfg, ps := parseWith(t, base+slaSection+qiqqTypes+`    billing:
      currency: EUR
      rate: 65
      rates: {overig: {P1: 125, P2: 85.00}}
      free_types: [beheerd]
      unit: 15m
      fair_use: {up_to: 5m, channels: {functioneel: [mail]}}
      classes:
        - {name: office, when: [office]}
        - {name: night, when: [sun, "22:00-24:00"], at_least: 125}
        - {name: evening, at_least: 85}
      activities: {travel: {percent: 50, minimum_amount: 32.50}, internal: {billable: false}}
      channels: {phone: {extra: 15m, types: [functioneel]}}
      budget: 2h
`, nil, nil)
	if ps != nil {
		t.Fatalf("problems:\n%v", ps)
	}
	x := cfg.Plans["x"]
	b := x.Billing
	if b.Rate != 6500 || b.Rates["overig"]["P2"] != 8500 || b.Activities["travel"].MinimumAmount != 3250 {
		t.Errorf("amounts: %+v", b)
	}
	if got := strings.Join(x.ActivityNames(), ","); got != "internal,on_site,remote,travel" {
		t.Errorf("activities %s", got)
	}
	if x.ActivityBillable("internal") || !x.ActivityBillable("travel") || !x.ActivityBillable("remote") {
		t.Error("ActivityBillable")
	}
	if d, w := x.TimeBudget(); d != 2*time.Hour || w != DefaultBudgetWarnAt {
		t.Errorf("budget %s %d", d, w)
	}
	if d, _ := cfg.Plans["standard"].TimeBudget(); d != 0 {
		t.Error("a plan without billing has a budget")
	}
	if got := strings.Join(cfg.Plans["standard"].ActivityNames(), ","); got != "on_site,remote,travel" {
		t.Errorf("built-in activities %s", got)
	}
	if x.BillingCalendar() != "office" {
		t.Errorf("billing calendar %q", x.BillingCalendar())
	}
}

func TestBillingValidation(t *testing.T) {
	const head = qiqqTypes + "    billing:\n      rate: 65\n"
	tests := []struct {
		name, billing, path, reason string
	}{
		{"currency", "      currency: euro\n", "plans.x.billing.currency", `must be an ISO 4217 code of three capital letters, like EUR (got "euro")`},
		{"no currency", "", "plans.x.billing.currency", "is required"},
		{"currency again", "      currency: EURO\n", "plans.x.billing.currency", `must be an ISO 4217 code of three capital letters, like EUR (got "EURO")`},
		{"bad amount", "      monthly_fee: 27,50\n", "plans.x.billing.monthly_fee", "must be an amount like 85, 85.00 or 32.50"},
		{"rates unknown type", "      rates: {beheer: {P1: 1}}\n", "plans.x.billing.rates.beheer", `unknown type "beheer" (the plan's types: beheerd, functioneel, overig, feature_request)`},
		{"rates priority the type lacks", "      rates: {beheerd: {P3: 1}}\n", "plans.x.billing.rates.beheerd.P3", "type beheerd has no priority P3 (it has P1, P2)"},
		{"rates unknown priority", "      rates: {overig: {P5: 1}}\n", "plans.x.billing.rates.overig.P5", `must be one of P1, P2, P3, P4 (got "P5")`},
		{"free type unknown", "      free_types: [own]\n", "plans.x.billing.free_types[0]", `unknown type "own"`},
		{"unit not whole minutes", "      unit: 90s\n", "plans.x.billing.unit", "must be whole minutes (got 1m30s)"},
		{"minimum too long", "      minimum: 25h\n", "plans.x.billing.minimum", "must be at most 24h"},
		{"fair use channel", "      fair_use: {up_to: 5m, channels: {functioneel: [portal]}}\n", "plans.x.billing.fair_use.channels.functioneel[0]", `unknown channel "portal" (want one of mail, phone, in_person)`},
		{"fair use without up_to", "      fair_use: {channels: {functioneel: [mail]}}\n", "plans.x.billing.fair_use.up_to", "is required with fair_use.channels"},
		{"catch-all class not last", "      classes: [{name: a}, {name: b, when: [office]}]\n", "plans.x.billing.classes[0].when", "is empty, so it applies at all times"},
		{"class name twice", "      classes: [{name: a, when: [sun]}, {name: a}]\n", "plans.x.billing.classes[1].name", `"a" is also the name of entry 0`},
		{"class without name", "      classes: [{when: [sun]}]\n", "plans.x.billing.classes[0].name", "is required"},
		{"bad when", "      classes: [{name: a, when: [evening]}]\n", "plans.x.billing.classes[0].when[0]", "want office, holiday, standby"},
		{"rate and percent", "      classes: [{name: a, rate: 1, percent: 50}]\n", "plans.x.billing.classes[0].percent", "set either rate"},
		{"percent", "      classes: [{name: a, percent: 1001}]\n", "plans.x.billing.classes[0].percent", "must be a percentage from 1 to 1000 (got 1001)"},
		{"activity name", "      activities: {On-Site: {}}\n", "plans.x.billing.activities.On-Site", "activity name must be"},
		{"unbillable activity with a rate", "      activities: {internal: {billable: false, rate: 5}}\n", "plans.x.billing.activities.internal.billable", "is false, so the activity's rate"},
		{"channel unknown", "      channels: {fax: {extra: 15m}}\n", "plans.x.billing.channels.fax", `unknown channel "fax"`},
		{"channel without extra", "      channels: {phone: {types: [functioneel]}}\n", "plans.x.billing.channels.phone.extra", "is required"},
		{"channel unknown type", "      channels: {phone: {extra: 15m, types: [functional]}}\n", "plans.x.billing.channels.phone.types[0]", `unknown type "functional"`},
		{"budget warn without budget", "      budget_warn_at: 50\n", "plans.x.billing.budget_warn_at", "goes with budget"},
		{"budget warn range", "      budget: 2h\n      budget_warn_at: 100\n", "plans.x.billing.budget_warn_at", "must be a percentage from 1 to 99 (got 100)"},
		{"pro rata without fee", "      pro_rata: true\n", "plans.x.billing.pro_rata", "goes with monthly_fee"},
		{"unknown calendar", "      calendar: kantoor\n", "plans.x.billing.calendar", `unknown calendar "kantoor"`},
		{"standby percent", "      standby: {classes: [{name: weekend, when: [sat-sun]}]}\n", "plans.x.billing.standby.classes[0].percent", "is required"},
		{"standby rate without classes", "      standby: {rate: 90}\n", "plans.x.billing.standby.classes", "is required with standby.rate"},
		{"unknown key", "      minimum_per_ticket: 15m\n", "plans.x.billing.minimum_per_ticket", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.billing
			if !strings.Contains(b, "currency") && tt.name != "no currency" {
				b += "      currency: EUR\n"
			}
			_, ps := parseWith(t, base+slaSection+head+b, nil, nil)
			if len(ps) != 1 || ps[0].Path != tt.path || !strings.Contains(ps[0].Reason, tt.reason) || ps[0].Line == 0 {
				t.Errorf("want one problem at %s containing %q; got:\n%v", tt.path, tt.reason, ps)
			}
		})
	}
	// Without a calendar anywhere, the calendar's times cannot be asked.
	_, ps := parseWith(t, base+"plans:\n  standard:\n    billing:\n      currency: EUR\n      rate: 1\n      classes: [{name: a, when: [office]}]\n", nil, nil)
	if len(ps) != 1 || ps[0].Path != "plans.standard.billing.classes[0].when[0]" || !strings.Contains(ps[0].Reason, "needs a calendar") {
		t.Errorf("office without a calendar: %v", ps)
	}
	// rate and currency are required.
	_, ps = parseWith(t, base+"plans:\n  standard:\n    billing: {unit: 15m}\n", nil, nil)
	if len(ps) != 2 || ps[0].Path != "plans.standard.billing.currency" || ps[1].Path != "plans.standard.billing.rate" {
		t.Errorf("empty billing: %v", ps)
	}
}
