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

// A contact's list of links (what erasure ends) loses what revoking a
// ticket or forgetting a link ends, so that it lists only links that work;
// RevokeContact ends the rest, whatever the address's spelling.
func TestContactLinks(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	mint := func(number, contact string) string {
		t.Helper()
		l, err := s.Mint(ctx, number, contact)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	jan1, ann1, jan2, jan3 := mint("SD-1", "Jan@Acme.example"), mint("SD-1", "ann@acme.example"), mint("SD-2", "jan@acme.example"), mint("SD-3", "jan@ACME.example")
	listed := func(addr string) int64 {
		t.Helper()
		return rdb.ZCard(ctx, s.contactLinks(addr)).Val()
	}
	steps := []struct {
		name     string
		do       func() (int, error)
		want     int
		jan, ann int64
		works    []bool // jan1, ann1, jan2, jan3 resolve afterwards
	}{
		{"minted", func() (int, error) { return 0, nil }, 0, 3, 1, []bool{true, true, true, true}},
		{"SD-1 revoked", func() (int, error) { return s.Revoke(ctx, "SD-1") }, 2, 2, 0, []bool{false, false, true, true}},
		{"jan3 forgotten", func() (int, error) {
			l, err := s.Resolve(ctx, jan3)
			if err != nil {
				return 0, err
			}
			return 1, s.Forget(ctx, l)
		}, 1, 1, 0, []bool{false, false, true, false}},
		{"jan erased", func() (int, error) { return s.RevokeContact(ctx, "JAN@acme.example", []string{"SD-1", "SD-2"}) }, 1, 0, 0, []bool{false, false, false, false}},
		{"again", func() (int, error) { return s.RevokeContact(ctx, "jan@acme.example", []string{"SD-2"}) }, 0, 0, 0, []bool{false, false, false, false}},
	}
	for _, st := range steps {
		n, err := st.do()
		if err != nil || n != st.want {
			t.Fatalf("%s: %d, %v; want %d", st.name, n, err, st.want)
		}
		if j, a := listed("jan@acme.example"), listed("ann@acme.example"); j != st.jan || a != st.ann {
			t.Errorf("%s: jan's list has %d, ann's %d; want %d, %d", st.name, j, a, st.jan, st.ann)
		}
		for i, l := range []string{jan1, ann1, jan2, jan3} {
			_, err := s.Resolve(ctx, l)
			if works := err == nil; works != st.works[i] {
				t.Errorf("%s: link %d resolves: %v (%v)", st.name, i, works, err)
			}
		}
	}
	if c, _ := s.Count(ctx, "SD-2"); c != 0 {
		t.Errorf("SD-2 still lists %d links", c)
	}
}
