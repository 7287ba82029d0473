package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// chromiumNames are the browser binaries tried, in order.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// findChromium returns a headless-capable browser. Without one the test is
// skipped, except in CI (CI=true) or with MAILDESK_REQUIRE_CHROMIUM=1, where
// a missing browser is a failure: scripts/test installs Debian's chromium.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("no browser found (tried %s in PATH): run ./scripts/test, which installs it, or apt-get install chromium",
		strings.Join(chromiumNames, ", "))
	if os.Getenv("CI") == "true" || os.Getenv("MAILDESK_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(msg + " (required: CI=true or MAILDESK_REQUIRE_CHROMIUM=1)")
	}
	t.Skip(msg)
	return ""
}

// chromium runs the browser headless on url with args, each run with its
// own profile, and returns its standard output.
func chromium(t *testing.T, bin, target string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	home := t.TempDir()
	all := append([]string{
		"--headless=new",
		"--no-sandbox", // needed as root and in most containers; the page is our own
		"--disable-gpu",
		"--disable-dev-shm-usage",
		"--no-first-run",
		"--no-default-browser-check",
		"--disable-extensions",
		"--disable-background-networking",
		"--user-data-dir=" + filepath.Join(home, "profile"),
	}, args...)
	all = append(all, target)
	cmd := exec.CommandContext(ctx, bin, all...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v (context: %v)\nstderr:\n%s", bin, strings.Join(args, " "), err, ctx.Err(), stderr.String())
	}
	return stdout.Bytes()
}

var (
	styleRE = regexp.MustCompile(`(?is)<(style|head)\b.*?</(style|head)>`)
	tagRE   = regexp.MustCompile(`<[^>]*>`)
	spaceRE = regexp.MustCompile(`\s+`)
)

// visibleText is the text of a dumped DOM as a person reads it: no
// markup, no style sheet, one space between words.
func visibleText(dom string) string {
	s := styleRE.ReplaceAllString(dom, " ")
	s = tagRE.ReplaceAllString(s, " ")
	return strings.TrimSpace(spaceRE.ReplaceAllString(html.UnescapeString(s), " "))
}

// TestDashboardChromium opens the dashboard in headless Chromium, served
// over a real Redis with sample tickets behind an API token, checks what a
// person sees and saves a screenshot as the test artifact dashboard.png
// (kept with go test -artifacts; the path is logged).
func TestDashboardChromium(t *testing.T) {
	bin := findChromium(t)
	ctx := t.Context()

	rs := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	st := ticket.NewStore(rdb, ticket.Options{DeskID: "demo", TicketPrefix: "SD", OutboxKey: "md:{demo}:outbox"})

	// Deadlines relative to now, in wall time: the page shows them
	// against the real clock.
	now := time.Now()
	clock := func(start, warn, due time.Duration) *ticket.Clock {
		return &ticket.Clock{Plan: "standard", Arrival: now.Add(start), Start: now.Add(start),
			WarnAt: now.Add(warn), FirstResponseDue: now.Add(due), Target: (due - start).String()}
	}
	paused := clock(-3*time.Hour, time.Hour, 2*time.Hour)
	paused.PausedAt = now.Add(-time.Hour)
	samples := []ticket.New{
		// SD-1
		{Subject: "Mail is slow", Priority: "P2", Customer: "acme", Contact: "jan@acme.example", ContactName: "Jan de Vries",
			Status: ticket.StatusInProgress, Clock: clock(-200*time.Minute, 3*time.Hour, 250*time.Minute)},
		// SD-2
		{Subject: "VPN down for everyone", Priority: "P1", Customer: "globex", Contact: "ann@globex.example",
			Clock: clock(-2*time.Hour, -30*time.Minute, 20*time.Minute)},
		// SD-3
		{Subject: "Feature: dark mode <script>alert(1)</script>", Type: ticket.TypeFeatureRequest, Priority: "P4",
			Customer: "initech", Contact: "bob@initech.example", CreatedAt: now.Add(-50 * time.Hour)},
		// SD-4
		{Subject: "Need the logs", Priority: "P3", Customer: "initech", Contact: "bob@initech.example",
			Status: ticket.StatusWaitingCustomer, Clock: paused},
		// SD-5
		{Subject: "Done already", Priority: "P1", Customer: "acme", Contact: "jan@acme.example", Status: ticket.StatusClosed,
			Clock: clock(-5*time.Hour, -4*time.Hour, -3*time.Hour)},
		// SD-6: made last, shown first
		{Subject: "Printer on fire", Priority: "P1", Customer: "acme", Contact: "jan@acme.example", ContactName: "Jan de Vries",
			Clock: clock(-275*time.Minute, -95*time.Minute, -35*time.Minute)},
	}
	for i, s := range samples {
		if s.CreatedAt.IsZero() {
			s.CreatedAt = now
			if s.Clock != nil {
				s.CreatedAt = s.Clock.Start
			}
		}
		s.MessageID = fmt.Sprintf("<sample-%d@example>", i)
		s.Language = "en"
		if _, err := st.Create(ctx, s.MessageID, s, nil); err != nil {
			t.Fatal(err)
		}
	}

	customers := map[string]*config.Customer{
		"acme": {ID: "acme", Name: "Acme BV"}, "globex": {ID: "globex", Name: "Globex Corporation"},
		"initech": {ID: "initech", Name: "Initech"},
	}
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	dash := NewDashboard(st, func(id string) *config.Customer { return customers[id] }, "Demo servicedesk", time.Now, ams)
	// As deployed off loopback: behind the API's tokens, which a browser
	// sends as the password of HTTP Basic authentication.
	srv := httptest.NewServer(RequireToken([]Token{{Name: "wallboard", Secret: "s3cret-token"}}, dash))
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a token: %s, want 401", resp.Status)
	}

	u, err := url.Parse(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("wallboard", "s3cret-token")

	dom := string(chromium(t, bin, u.String(), "--dump-dom"))
	text := visibleText(dom)
	t.Logf("what a person sees: %s", text)
	if strings.Contains(dom, "<script") {
		t.Errorf("the DOM has a script element:\n%s", dom)
	}
	// The clock texts are floored to minutes and the browser renders
	// a little after now: allow a minute.
	for _, want := range []string{
		`SD-6 Printer on fire P1 new Jan de Vries nobody 4h overdue 3[56]m due `,
		`SD-2 VPN down for everyone P1 new ann@globex\.example nobody 2h (20|19)m left due `,
	} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("the page does not show %s", want)
		}
	}
	for _, want := range []string{
		"Demo servicedesk: open tickets",
		"5 open 1 at risk 1 breached",
		"Acme BV 2 open, 1 breached",
		"Globex Corporation 1 open, 1 at risk",
		"Initech 2 open",
		"SD-4 Need the logs P3 waiting for customer bob@initech.example nobody 3h paused SD-3",
		"Feature: dark mode <script>alert(1)</script>",
		"no SLA",
		"paused",
		"times in Europe/Amsterdam",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
	for _, hidden := range []string{"SD-5", "Done already"} {
		if strings.Contains(text, hidden) {
			t.Errorf("the page shows closed ticket text %q", hidden)
		}
	}
	// Breached first: Acme (SD-6 overdue, then SD-1), Globex, Initech
	// (paused before no SLA).
	order := regexp.MustCompile(`\bSD-\d+\b`).FindAllString(text, -1)
	if got := strings.Join(order, " "); got != "SD-6 SD-1 SD-2 SD-4 SD-3" {
		t.Errorf("tickets in order %s, want SD-6 SD-1 SD-2 SD-4 SD-3", got)
	}

	shot := filepath.Join(t.ArtifactDir(), "dashboard.png")
	chromium(t, bin, u.String(), "--screenshot="+shot, "--window-size=1280,900", "--hide-scrollbars")
	t.Logf("screenshot: %s (kept with go test -artifacts)", shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 900 {
		t.Errorf("screenshot is %dx%d, want 1280x900", b.Dx(), b.Dy())
	}
	// The bars are drawn in their colours (see the style sheet).
	for name, c := range map[string][3]int{"red": {0xc6, 0x28, 0x28}, "amber": {0xe6, 0x95, 0x00}, "green": {0x2e, 0x7d, 0x32}} {
		if n := countColour(img, c, 12); n < 50 {
			t.Errorf("screenshot has %d %s pixels, want a %s bar", n, name, name)
		}
	}
}

// countColour counts the pixels within tol (per channel) of c.
func countColour(img image.Image, c [3]int, tol int) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if abs(int(r>>8)-c[0]) <= tol && abs(int(g>>8)-c[1]) <= tol && abs(int(bl>>8)-c[2]) <= tol {
				n++
			}
		}
	}
	return n
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// noOpener is an Opener for a form that is only looked at.
type noOpener struct{}

func (noOpener) Open(context.Context, workflow.Agent, workflow.Opening, string) (*ticket.Ticket, bool, error) {
	return nil, false, errors.New("not in this test")
}

// TestOpenFormChromium shows the form for a ticket taken by phone in
// headless Chromium, under the page's own Content-Security-Policy, and
// saves a screenshot as the artifact open-form.png.
func TestOpenFormChromium(t *testing.T) {
	bin := findChromium(t)
	customers := []config.Customer{
		{ID: "korenschoof", Name: "Bakkerij De Korenschoof", Contacts: []config.Contact{{Email: "anna@korenschoof.example", Name: "Anna de Wit"}}},
		{ID: "smit", Name: "Notariaat Smit", Contacts: []config.Contact{{Email: "kantoor@notariaatsmit.example"}}},
	}
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	dash := NewDashboard(fakeLister{}, nil, "QiQQ Servicedesk", time.Now, ams,
		WithOpenForm(noOpener{}, func() []config.Customer { return customers }))
	srv := httptest.NewServer(RequireToken([]Token{{Name: "agent", Secret: "s3cret-token"}}, dash))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL + OpenPath)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("agent", "s3cret-token")
	text := visibleText(string(chromium(t, bin, u.String(), "--dump-dom")))
	t.Logf("what a person sees: %s", text)
	for _, want := range []string{"QiQQ Servicedesk: open a ticket for a call", "Customer", "Choose… Bakkerij De Korenschoof Notariaat Smit",
		"Taken by phone by in person", "Time of the call (Europe/Amsterdam", "the plan's default P1 P2 P3 P4", "Open the ticket"} {
		if !strings.Contains(text, want) {
			t.Errorf("the form does not show %q", want)
		}
	}
	shot := filepath.Join(t.ArtifactDir(), "open-form.png")
	chromium(t, bin, u.String(), "--screenshot="+shot, "--window-size=1000,900", "--hide-scrollbars")
	if _, err := os.Stat(shot); err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	t.Logf("screenshot: %s (kept with go test -artifacts)", shot)
}
