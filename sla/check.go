package sla

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/maildesk/maildesk/config"
)

// Check reads and checks what the SLA grammar covers in cfg, as loaded by
// config.Load: the calendars (time zone, opening hours, holidays and their
// exceptions, closed, open and standby periods) and every target, reporting
// each problem at its field's file and line into out. It completes the
// calendars as FromConfig wants them: the time zone loaded (the desk's
// when none is given) and liberation_day's default. configload runs it.
func Check(cfg *config.Config, out *config.Problems) {
	c := cfg.Reporter(out)
	for _, name := range slices.Sorted(maps.Keys(cfg.Calendars)) {
		cal, path := cfg.Calendars[name], "calendars."+name
		if !config.ValidID(name) {
			c.Addf(path, "calendar name %s (got %q)", config.IDRule, name)
		}
		switch cal.Timezone {
		case "":
			cal.Timezone, cal.Location = cfg.Desk.Timezone, cfg.Desk.Location
		case "Local":
			c.Add(path+".timezone", "must name a time zone such as Europe/Amsterdam, not Local")
		default:
			loc, err := time.LoadLocation(cal.Timezone)
			if err != nil {
				c.Addf(path+".timezone", "unknown time zone %q (want e.g. Europe/Amsterdam or UTC)", cal.Timezone)
			}
			cal.Location = loc
		}
		checkHours(c, path+".hours", cal)
		if cal.Holidays != "" && cal.Holidays != "nl" {
			c.Addf(path+".holidays", "must be nl (the Dutch national holidays) or left out (got %q)", cal.Holidays)
		}
		if cal.Holidays == "nl" {
			if cal.LiberationDay == "" {
				cal.LiberationDay = "yearly"
			}
			if ways := []string{"yearly", "lustrum", "none"}; !slices.Contains(ways, cal.LiberationDay) {
				c.Addf(path+".liberation_day", "must be one of %s (got %q)", strings.Join(ways, ", "), cal.LiberationDay)
			}
		} else if cal.Holidays == "" && cal.LiberationDay != "" {
			c.Add(path+".liberation_day", `applies only with holidays: nl`)
		}
		for i, s := range cal.ExtraHolidays {
			if _, err := ParseDate(s); err != nil {
				c.Add(fmt.Sprintf("%s.extra_holidays[%d]", path, i), err.Error())
			}
		}
		_, _, problems := exceptionsOf(cal)
		for _, p := range problems {
			c.Add(path+"."+p.Field, p.Reason)
		}
		cfg.Calendars[name] = cal
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Plans)) {
		p, path := cfg.Plans[name], "plans."+name
		checkTargets(c, path+".targets", p.Targets)
		for _, lang := range slices.Sorted(maps.Keys(p.Languages)) {
			checkTargets(c, path+".languages."+lang+".targets", p.Languages[lang].Targets)
		}
		for _, typ := range slices.Sorted(maps.Keys(p.Types)) {
			checkTargets(c, path+".types."+typ+".targets", p.Types[typ].Targets)
		}
	}
}

// checkHours reports each bad key and range at its own line, and what
// only the whole week shows (overlaps, no hours at all) at hours.
func checkHours(c *config.Reporter, path string, cal config.Calendar) {
	if len(cal.Hours) == 0 {
		c.Add(path, `is required: opening hours like mon-fri: ["09:00-17:00"]`)
		return
	}
	bad := false
	for _, k := range slices.Sorted(maps.Keys(cal.Hours)) {
		kpath := path + "." + k
		if _, err := config.ParseDays(k); err != nil {
			c.Add(kpath, err.Error())
			bad = true
		}
		for i, s := range cal.Hours[k] {
			if _, err := config.ParseClockRange(s); err != nil {
				c.Add(fmt.Sprintf("%s[%d]", kpath, i), err.Error())
				bad = true
			}
		}
	}
	if !bad {
		if _, err := weekOf(cal); err != nil {
			c.Add(path, err.Error())
		}
	}
}

// checkTargets reads each target given (an empty one written in the file
// too, which is no target).
func checkTargets(c *config.Reporter, path string, targets map[string]config.PlanTarget) {
	for _, prio := range slices.Sorted(maps.Keys(targets)) {
		t, ppath := targets[prio], path+"."+prio
		for _, f := range []struct {
			key string
			t   config.Target
		}{{"first_response", t.FirstResponse}, {"resolution", t.Resolution}} {
			fpath := ppath + "." + f.key
			if f.t.IsZero() && !c.Set(fpath) {
				continue
			}
			if _, err := ParseTarget(string(f.t)); err != nil {
				c.Addf(fpath, "must be %s (got %q)", targetForms, string(f.t))
			}
		}
	}
}
