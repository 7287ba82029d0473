package sla_test

import (
	"fmt"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/sla"
)

// A desk open 09:00-17:00 on weekdays in Amsterdam, closed on the Dutch
// national holidays, gets a mail late on the Friday before King's Day
// (Monday 27 April 2026). Business time counts only while the desk is
// open; a workday target counts whole workdays.
func ExampleTarget_Deadline() {
	cal, err := sla.NewCalendar("office", config.Calendar{
		Timezone: "Europe/Amsterdam",
		Hours:    map[string][]string{"mon-fri": {"09:00-17:00"}},
		Holidays: "nl",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	arrival := time.Date(2026, 4, 24, 16, 0, 0, 0, cal.Location())
	for _, s := range []string{"30m", "4h", "1 workday", "within 3 workdays"} {
		target, err := sla.ParseTarget(s)
		if err != nil {
			fmt.Println(err)
			return
		}
		due, err := target.Deadline(cal, arrival)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-17s due %s\n", s, due.Format("Mon 2 Jan 15:04"))
	}
	// Output:
	// 30m               due Fri 24 Apr 16:30
	// 4h                due Tue 28 Apr 12:00
	// 1 workday         due Tue 28 Apr 16:00
	// within 3 workdays due Thu 30 Apr 17:00
}
