package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

const (
	aliceToken = "alice-0123456789abcdef0123456789"
	bobToken   = "bob-0123456789abcdef0123456789ab"
)

// The daemon hands the API these concrete types.
var (
	_ Tickets  = (*ticket.Store)(nil)
	_ Workflow = (*workflow.Service)(nil)
	_ Contacts = (*authz.Store)(nil)
	_ Outbox   = (*notify.Outbox)(nil)
)

var testTokens = []Token{{Name: "alice", Secret: aliceToken}, {Name: "bob", Secret: bobToken}}

// raceHook changes a ticket's status behind the API's back just before the
// next script runs: between the workflow's read and its write.
type raceHook struct {
	armed atomic.Bool
	do    func()
}

func (h *raceHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *raceHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *raceHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := cmd.Name(); (n == "evalsha" || n == "eval") && h.armed.CompareAndSwap(true, false) {
			h.do()
		}
		return next(ctx, cmd)
	}
}

type fixture struct {
	t         *testing.T
	srv       *httptest.Server
	rdb       *redis.Client // unhooked, for looking behind the API's back
	store     *ticket.Store
	outbox    *notify.Outbox
	logs      *testserver.Buffer
	race      *raceHook
	refreshed atomic.Int32
}

var testPlans = map[string]config.Plan{"standard": {}, "small": {MaxContacts: 1}}

func yes() *bool { b := true; return &b }

// newFixture serves the API (with tokens, unless none) over a fresh Redis
// holding three tickets and a directory with customers acme and globex.
func newFixture(t *testing.T, tokens []Token) *fixture {
	t.Helper()
	ctx := context.Background()
	srv := testserver.Redis(t)
	f := &fixture{t: t, logs: &testserver.Buffer{}, race: &raceHook{}}
	f.rdb = redis.NewClient(&redis.Options{Addr: srv.Addr})
	hooked := redis.NewClient(&redis.Options{Addr: srv.Addr})
	hooked.AddHook(f.race)
	t.Cleanup(func() { f.rdb.Close(); hooked.Close() })

	f.outbox = notify.NewOutbox(hooked, "acme-it")
	if err := f.outbox.Init(ctx); err != nil {
		t.Fatal(err)
	}
	f.store = ticket.NewStore(hooked, ticket.Options{DeskID: "acme-it", TicketPrefix: "SD", OutboxKey: f.outbox.Key()})
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for i, n := range []ticket.New{
		{Subject: "Printer on fire", Priority: "P3", Customer: "acme", Contact: "jan@acme.example", ContactName: "Jan",
			Participants: []string{"piet@acme.example"}, Language: "nl", MessageID: "m1@acme.example", Text: "It burns", Quoted: "> old"},
		{Subject: "Mail down", Priority: "P1", Customer: "acme", Contact: "piet@acme.example", Language: "en", MessageID: "m2@acme.example"},
		{Subject: "Dark mode", Type: ticket.TypeFeatureRequest, Status: ticket.StatusClosed, Priority: "P4", Customer: "globex",
			Contact: "ann@globex.example", Language: "en", MessageID: "m3@globex.example"},
	} {
		n.CreatedAt = at.Add(time.Duration(i) * time.Hour)
		if _, err := f.store.Create(ctx, n.MessageID, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	dir := authz.NewStore(hooked, "acme-it")
	customers := []config.Customer{
		{ID: "acme", Name: "Acme BV", Plan: "standard", Contacts: []config.Contact{
			{Email: "jan@acme.example", Name: "Jan", Main: true, ReceivesProgress: yes()},
			{Email: "piet@acme.example", Name: "Piet", ReceivesProgress: yes()},
		}},
		{ID: "globex", Name: "Globex", Plan: "small", Contacts: []config.Contact{
			{Email: "ann@globex.example", Name: "Ann", Main: true, ReceivesProgress: yes()},
		}},
	}
	_, err := dir.Replace(ctx, customers, authz.Origin{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	directory := authz.NewDirectory(customers)
	api := NewAPI(APIConfig{
		Tickets: f.store,
		Workflow: &workflow.Service{Store: f.store, Language: "en", Log: log,
			Authz: directory, Customer: directory.Customer, Plans: testPlans, Priority: "P3"},
		Contacts: dir,
		Outbox:   f.outbox,
		Plans:    testPlans,
		Refresh:  func(context.Context) error { f.refreshed.Add(1); return nil },
		Tokens:   tokens,
		Log:      log,
	})
	f.srv = httptest.NewServer(Handler(nil, nil, Mount{Pattern: APIPrefix, Handler: api}))
	t.Cleanup(f.srv.Close)
	return f
}

// do sends a request as alice unless hdr sets Authorization ("" = none);
// a body is sent as JSON.
func (f *fixture) do(method, path, body string, hdr ...string) (*http.Response, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+aliceToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return res, b
}

func (f *fixture) outboxLen() int64 {
	f.t.Helper()
	n, err := f.rdb.XLen(context.Background(), f.outbox.Key()).Result()
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func numbers(t *testing.T, b []byte) string {
	t.Helper()
	var ns []string
	for _, tk := range decode[[]ticket.Ticket](t, b) {
		ns = append(ns, tk.Number)
	}
	return strings.Join(ns, ",")
}

func errorOf(t *testing.T, b []byte) string {
	t.Helper()
	e := decode[map[string]any](t, b)
	s, _ := e["error"].(string)
	if s == "" {
		t.Fatalf("no error message in %s", b)
	}
	return s
}

// step is one request of a table-driven test; steps of one table run in
// order against one desk.
type step struct {
	name         string
	method, path string
	body         string
	hdr          []string
	code         int
	// want: substrings of the body (for errors, of the message).
	want  []string
	check func(t *testing.T, f *fixture, b []byte)
}

func run(t *testing.T, f *fixture, steps []step) {
	t.Helper()
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			res, b := f.do(s.method, s.path, s.body, s.hdr...)
			if res.StatusCode != s.code {
				t.Fatalf("%s %s: status %d, want %d: %s", s.method, s.path, res.StatusCode, s.code, b)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			text := string(b)
			if res.StatusCode >= 400 {
				text = errorOf(t, b)
			}
			for _, w := range s.want {
				if !strings.Contains(text, w) {
					t.Errorf("response lacks %q: %s", w, b)
				}
			}
			if s.check != nil {
				s.check(t, f, b)
			}
		})
	}
}

// TestOpenAPIMatchesRoutes keeps docs/openapi.yaml in step with the route
// table: the same set of "METHOD path", and every path parameter declared.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	data, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type param struct {
		Ref  string `yaml:"$ref"`
		Name string `yaml:"name"`
		In   string `yaml:"in"`
	}
	type operation struct {
		Parameters []param         `yaml:"parameters"`
		Responses  map[string]any  `yaml:"responses"`
		Body       *map[string]any `yaml:"requestBody"`
	}
	var doc struct {
		OpenAPI    string                    `yaml:"openapi"`
		Paths      map[string]map[string]any `yaml:"paths"`
		Components struct {
			Parameters map[string]param `yaml:"parameters"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	resolve := func(p param) param {
		if name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
			r, found := doc.Components.Parameters[name]
			if !found {
				t.Errorf("unknown parameter %s", p.Ref)
			}
			return r
		}
		return p
	}
	var documented []string
	for path, item := range doc.Paths {
		var common []param
		if raw, ok := item["parameters"]; ok {
			b, _ := yaml.Marshal(raw)
			if err := yaml.Unmarshal(b, &common); err != nil {
				t.Fatal(err)
			}
		}
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			b, _ := yaml.Marshal(raw)
			var op operation
			if err := yaml.Unmarshal(b, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			key := strings.ToUpper(method) + " " + path
			documented = append(documented, key)
			declared := map[string]bool{}
			for _, p := range append(append([]param(nil), common...), op.Parameters...) {
				if p = resolve(p); p.In == "path" {
					declared[p.Name] = true
				}
			}
			for _, seg := range strings.Split(path, "/") {
				if name, ok := strings.CutPrefix(seg, "{"); ok && !declared[strings.TrimSuffix(name, "}")] {
					t.Errorf("%s: path parameter %s not declared", key, seg)
				}
			}
			for _, code := range []string{"200", "401"} {
				if _, ok := op.Responses[code]; !ok && !(code == "200" && op.Responses["201"] != nil) {
					t.Errorf("%s documents no %s response", key, code)
				}
			}
			if (method == "patch" || key == "POST /api/v1/contacts" || strings.HasSuffix(path, "/reply") || strings.HasSuffix(path, "/notes")) && op.Body == nil {
				t.Errorf("%s documents no request body", key)
			}
		}
	}
	routes := NewAPI(APIConfig{}).Routes()
	slices.Sort(documented)
	slices.Sort(routes)
	if !slices.Equal(documented, routes) {
		for _, r := range routes {
			if !slices.Contains(documented, r) {
				t.Errorf("route %s is not in docs/openapi.yaml", r)
			}
		}
		for _, d := range documented {
			if !slices.Contains(routes, d) {
				t.Errorf("docs/openapi.yaml documents %s, which NewAPI does not serve", d)
			}
		}
	}
}
