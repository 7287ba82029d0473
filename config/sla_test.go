package config

// slaSection is appended to base, so it starts on line 13.
const slaSection = `calendars:
  office:
    timezone: Europe/Amsterdam
    hours:
      mon-fri: ["09:00-17:00"]
      sat: ["11:00-15:00"]
    holidays: nl
    liberation_day: lustrum
    extra_holidays: [2025-12-24]
  plain:
    hours: {mon-fri: ["8:30-12:00", "13:00-18:00"]}
plans:
  standard:
    calendar: office
    targets:
      P1: {first_response: 4h, resolution: within 3 workdays}
      P3: {first_response: 3 workdays}
  enhanced:
    calendar: plain
    targets:
      P1: {first_response: 1h30m}
    languages:
      nl: {calendar: office, outside_hours_plan: standard}
  none: {}
`
