package escalation

import (
	"fmt"
	"time"
)

// digestDays are the days the managers' digest goes out (cron
// day-of-week): workdays, Monday to Friday.
const digestDays = "1-5"

// DigestSpec is the cron spec (with seconds) of the managers' digest at
// at ("15:04", escalation.digest_time) on digestDays.
func DigestSpec(at string) (string, error) {
	t, err := time.Parse("15:04", at)
	if err != nil {
		return "", fmt.Errorf("digest time %q: %w", at, err)
	}
	return fmt.Sprintf("0 %d %d * * %s", t.Minute(), t.Hour(), digestDays), nil
}
