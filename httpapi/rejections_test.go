package httpapi

import (
	"context"
	"testing"
	"time"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/ticket"
)

func TestAPIRejections(t *testing.T) {
	f := newFixture(t, testTokens)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second)
	for i, s := range []string{"spam@evil.example", "who@else.example"} {
		_, err := f.store.Reject(ctx, "r"+s, ticket.Rejection{Sender: s, Reason: string(authz.UnknownSender), MessageID: "r" + s,
			Subject: "hello", At: at.Add(time.Duration(i) * time.Second)}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	run(t, f, []step{
		{name: "list newest first", method: "GET", path: "/api/v1/rejections", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				rs := decode[[]rejectionView](t, b)
				if len(rs) != 2 || rs[0].Sender != "who@else.example" || rs[1].Reason != "unknown sender" || !rs[1].At.Equal(at) {
					t.Errorf("rejections %s", b)
				}
			}},
		{name: "no parameters", method: "GET", path: "/api/v1/rejections?since=1", code: 400, want: []string{"takes none"}},
	})
}
