package httpapi

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// GET /tickets reads a page at a time: limit and cursor walk the whole
// list, the Link and X-Next-Cursor headers name the next page, and the
// filters of the indexes (contact, since) and subject search combine with
// the others.
func TestAPITicketPages(t *testing.T) {
	f := newFixture(t, testTokens)
	var got []string
	path := "/api/v1/tickets?limit=1"
	for range 5 {
		res, b := f.do("GET", path, "")
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
		}
		got = append(got, numbers(t, b))
		link := res.Header.Get("Link")
		if link == "" {
			if c := res.Header.Get(NextCursorHeader); c != "" {
				t.Errorf("cursor %q without a Link", c)
			}
			break
		}
		next, ok := strings.CutPrefix(link, "<")
		next, _, _ = strings.Cut(next, ">")
		if !ok || !strings.HasSuffix(link, `>; rel="next"`) {
			t.Fatalf("Link %q", link)
		}
		u, err := url.Parse(next)
		if err != nil || u.Query().Get("cursor") != res.Header.Get(NextCursorHeader) || u.Query().Get("limit") != "1" {
			t.Fatalf("next page %q, cursor header %q", next, res.Header.Get(NextCursorHeader))
		}
		path = next
	}
	if strings.Join(got, " ") != "SD-3 SD-2 SD-1" {
		t.Errorf("pages = %q", got)
	}

	run(t, f, []step{
		{name: "contact is contact or participant", method: "GET", path: "/api/v1/tickets?contact=PIET@acme.example", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if got := numbers(t, b); got != "SD-2,SD-1" {
					t.Errorf("numbers %s", got)
				}
			}},
		{name: "since a time", method: "GET", path: "/api/v1/tickets?since=2026-11-23T09:30:00Z", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if got := numbers(t, b); got != "SD-3,SD-2" {
					t.Errorf("numbers %s", got)
				}
			}},
		{name: "since a date", method: "GET", path: "/api/v1/tickets?since=2026-11-24", code: 200, want: []string{"[]"}},
		{name: "subject search", method: "GET", path: "/api/v1/tickets?q=MAIL", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if got := numbers(t, b); got != "SD-2" {
					t.Errorf("numbers %s", got)
				}
			}},
		{name: "search and filter", method: "GET", path: "/api/v1/tickets?q=r&customer=globex", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if got := numbers(t, b); got != "SD-3" {
					t.Errorf("numbers %s", got)
				}
			}},
		{name: "bad limit", method: "GET", path: "/api/v1/tickets?limit=0", code: 400, want: []string{"limit must be a whole number from 1 to 1000"}},
		{name: "bad cursor", method: "GET", path: "/api/v1/tickets?cursor=SD-2", code: 400, want: []string{"invalid cursor"}},
		{name: "bad since", method: "GET", path: "/api/v1/tickets?since=yesterday", code: 400, want: []string{"since: want a date"}},
	})
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	ams := mustLoc("Europe/Amsterdam")
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2026-11-01T08:00:00Z", time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)},
		{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, ams)},
		{"7d", now.AddDate(0, 0, -7)},
		{"36h", now.Add(-36 * time.Hour)},
	} {
		got, err := ParseSince(tc.in, ams, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "-3d", "soon", "2026-13-01"} {
		if _, err := ParseSince(bad, ams, now); err == nil {
			t.Errorf("ParseSince(%q) took it", bad)
		}
	}
}
