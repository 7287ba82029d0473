package access

import (
	"context"
	"errors"
	"testing"
)

// revokeScript: every link of one ticket goes at once; a replay finds
// none; another ticket's links stay.
func TestRevokeScript(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	var links []string
	for _, m := range [][2]string{{"SD-1", "jan@acme.example"}, {"SD-1", "ann@acme.example"}, {"SD-2", "jan@acme.example"}} {
		l, err := s.Mint(ctx, m[0], m[1])
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, l)
	}
	for _, tc := range []struct {
		name   string
		ticket string
		want   int
		works  []bool // links[i] resolves afterwards
	}{
		{"a ticket without links", "SD-9", 0, []bool{true, true, true}},
		{"SD-1", "SD-1", 2, []bool{false, false, true}},
		{"the replay", "SD-1", 0, []bool{false, false, true}},
		{"SD-2", "SD-2", 1, []bool{false, false, false}},
	} {
		n, err := s.Revoke(ctx, tc.ticket)
		if err != nil || n != tc.want {
			t.Fatalf("%s: revoked %d, %v; want %d", tc.name, n, err, tc.want)
		}
		for i, l := range links {
			_, err := s.Resolve(ctx, l)
			if works := err == nil; works != tc.works[i] || (!works && !errors.Is(err, ErrNotFound)) {
				t.Errorf("%s: link %d resolves: %v (%v), want %v", tc.name, i, works, err, tc.works[i])
			}
		}
		if c, _ := s.Count(ctx, tc.ticket); c != 0 {
			t.Errorf("%s: %d links counted after revoking", tc.name, c)
		}
	}
}
