package ticket

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/internal/testserver"
)

// scriptErr turns each code the scripts answer with into its typed error,
// keeps the script's detail in the text (quoted by logs and the API), and
// leaves every other error as it is.
func TestScriptErr(t *testing.T) {
	srv := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	reply := func(msg string) error {
		return redis.NewScript(`return redis.error_reply(ARGV[1])`).Run(context.Background(), rdb, nil, msg).Err()
	}
	other := errors.New("dial tcp: connection refused")
	for _, tc := range []struct {
		in     error
		is     error
		text   string
		detail string
	}{
		{in: reply("NOTICKET SD-4"), is: ErrNotFound, text: "ticket not found: SD-4", detail: "SD-4"},
		{in: reply("NORECORD 1a2b"), is: ErrNoRecord, text: "no such time record: 1a2b", detail: "1a2b"},
		{in: reply("CONFLICT in_progress"), is: ErrConflict, text: "ticket changed meanwhile: in_progress", detail: "in_progress"},
		{in: reply("BEHIND sequence 3 is below 5"), is: ErrBehind, text: "redis is behind the mailbox journal: sequence 3 is below 5", detail: "sequence 3 is below 5"},
		{in: reply("TAKEN SD-7 belongs to another mail"), is: ErrNumberTaken, text: "ticket number taken: SD-7 belongs to another mail", detail: "SD-7 belongs to another mail"},
		// Not one of ours: as it came.
		{in: reply("NOTICKETS SD-4"), text: "NOTICKETS SD-4"},
		{in: reply("OOM command not allowed when used memory > 'maxmemory'."), text: "OOM command not allowed when used memory > 'maxmemory'."},
		{in: reply("NOTICKET"), text: "ERR NOTICKET"}, // Redis's own reading of a lone word
		{in: other, is: other, text: other.Error()},
		{in: redis.Nil, is: redis.Nil, text: "redis: nil"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			got := scriptErr(tc.in)
			if got.Error() != tc.text {
				t.Errorf("scriptErr(%v) says %q, want %q", tc.in, got, tc.text)
			}
			if tc.is != nil && !errors.Is(got, tc.is) {
				t.Errorf("scriptErr(%v) = %v, not %v", tc.in, got, tc.is)
			}
			if tc.is == nil && got != tc.in {
				t.Errorf("scriptErr(%v) = %v, want it unchanged", tc.in, got)
			}
			if d := scriptDetail(got); d != tc.detail {
				t.Errorf("detail %q, want %q", d, tc.detail)
			}
		})
	}
	if scriptErr(nil) != nil {
		t.Error("scriptErr(nil) != nil")
	}
}
