package rediserr_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/internal/rediserr"
	"github.com/maildesk/maildesk/internal/testserver"
)

// The replies come from a real redis-server, so that the test fails if
// Redis words them otherwise than Code expects (a prefix of its own, a
// script's reply decorated).
func TestCode(t *testing.T) {
	srv := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	if err := rdb.XGroupCreateMkStream(ctx, "s", "g", "0").Err(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		err    func() error
		code   string
		detail string
		ok     bool
	}{
		{name: "nil", err: func() error { return nil }},
		{name: "not a reply", err: func() error { return errors.New("NOTICKET SD-1") }},
		{name: "nothing found is no error reply", err: func() error { return rdb.Get(ctx, "none").Err() }},
		{name: "context", err: func() error { return context.Canceled }},
		{name: "script error_reply", err: func() error {
			return redis.NewScript(`return redis.error_reply('NOTICKET ' .. ARGV[1])`).Run(ctx, rdb, nil, "SD-4").Err()
		}, code: "NOTICKET", detail: "SD-4", ok: true},
		// Redis takes a first word as the code only when text follows it:
		// scripts always give a detail.
		{name: "script code alone", err: func() error {
			return redis.NewScript(`return redis.error_reply('CONFLICT')`).Run(ctx, rdb, nil).Err()
		}, code: "ERR", detail: "CONFLICT", ok: true},
		{name: "script detail of several words", err: func() error {
			return redis.NewScript(`return redis.error_reply('BEHIND sequence 3 is below 5')`).Run(ctx, rdb, nil).Err()
		}, code: "BEHIND", detail: "sequence 3 is below 5", ok: true},
		{name: "wrapped", err: func() error {
			err := redis.NewScript(`return redis.error_reply('TAKEN SD-2 belongs to another mail')`).Run(ctx, rdb, nil).Err()
			return fmt.Errorf("commit ticket for %q: %w", "m1", err)
		}, code: "TAKEN", detail: "SD-2 belongs to another mail", ok: true},
		{name: "BUSYGROUP", err: func() error { return rdb.XGroupCreateMkStream(ctx, "s", "g", "0").Err() },
			code: rediserr.BusyGroup, detail: "Consumer Group name already exists", ok: true},
		{name: "NOGROUP", err: func() error {
			return rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "lost", Consumer: "c", Streams: []string{"s", ">"}, Block: -1}).Err()
		}, code: rediserr.NoGroup, ok: true},
		{name: "NOSCRIPT", err: func() error {
			return rdb.EvalSha(ctx, "0000000000000000000000000000000000000000", nil).Err()
		}, code: rediserr.NoScript, detail: "No matching script. Please use EVAL.", ok: true},
		{name: "ERR", err: func() error { return rdb.Do(ctx, "NOSUCHCOMMAND").Err() }, code: "ERR", ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			code, detail, ok := rediserr.Code(err)
			if code != tc.code || ok != tc.ok || (tc.detail != "" && detail != tc.detail) {
				t.Fatalf("Code(%v) = %q, %q, %v; want %q, %q, %v", err, code, detail, ok, tc.code, tc.detail, tc.ok)
			}
			if tc.ok && !rediserr.Is(err, tc.code) {
				t.Fatalf("Is(%v, %q) = false", err, tc.code)
			}
			if rediserr.Is(err, "NO") {
				t.Fatalf("Is(%v, %q): a code matched by its prefix", err, "NO")
			}
		})
	}
}
