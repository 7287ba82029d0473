package authz

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
)

func newTestStore(t *testing.T) (*Store, redis.UniversalClient) {
	t.Helper()
	s, rdb, _ := newTestStoreServer(t)
	return s, rdb
}

func newTestStoreServer(t *testing.T) (*Store, redis.UniversalClient, *testserver.RedisServer) {
	t.Helper()
	srv := testserver.Redis(t)
	opt, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return NewStore(rdb, "acme-it"), rdb, srv
}

var plans = map[string]config.Plan{"standard": {}, "oxineo": {MaxContacts: 2}}

// validCustomers are customers as config validation leaves them.
func validCustomers(t *testing.T) []config.Customer {
	t.Helper()
	cs := []config.Customer{
		{ID: "acme", Name: "Acme BV", Domains: []string{"acme.example"}, Contacts: []config.Contact{
			{Email: "jan@acme.example", Name: "Jan", Main: true, Language: "nl", MaxPriority: "P2"},
		}},
		{ID: "oxi", Plan: "oxineo", Contacts: []config.Contact{{Email: "a@oxi.example", Main: true}, {Email: "b@oxi.example"}}},
	}
	if ps := ValidateCustomers(cs, plans); ps != nil {
		t.Fatal(ps)
	}
	return cs
}

func TestStoreEmpty(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	cs, v, err := s.Load(ctx)
	if err != nil || v != 0 || cs != nil {
		t.Errorf("Load = %v, %d, %v", cs, v, err)
	}
	if v, err := s.Version(ctx); err != nil || v != 0 {
		t.Errorf("Version = %d, %v", v, err)
	}
	if h, err := s.ImportedHash(ctx); err != nil || h != "" {
		t.Errorf("ImportedHash = %q, %v", h, err)
	}
	if err := s.Add(ctx, "acme", config.Contact{Email: "x@acme.example"}, plans); !errors.Is(err, ErrNoDirectory) {
		t.Errorf("Add = %v, want ErrNoDirectory", err)
	}
	if err := s.Remove(ctx, "x@acme.example"); !errors.Is(err, ErrNoDirectory) {
		t.Errorf("Remove = %v, want ErrNoDirectory", err)
	}
}

func TestStoreReplaceLoad(t *testing.T) {
	s, rdb := newTestStore(t)
	ctx := context.Background()
	want := validCustomers(t)
	v, err := s.Replace(ctx, want, Origin{Source: "contacts.yaml sha256:aa", FileSum: "sha256:aa"})
	if err != nil || v != 1 {
		t.Fatalf("Replace = %d, %v", v, err)
	}
	got, v, err := s.Load(ctx)
	if err != nil || v != 1 {
		t.Fatalf("Load = %d, %v", v, err)
	}
	if fmt.Sprintf("%+v", deref(got)) != fmt.Sprintf("%+v", deref(want)) {
		t.Errorf("round trip:\n got %+v\nwant %+v", deref(got), deref(want))
	}
	if h, _ := s.ImportedHash(ctx); h != "sha256:aa" {
		t.Errorf("ImportedHash = %q", h)
	}
	in, err := s.Info(ctx)
	if err != nil || in.Version != 1 || in.Source != "contacts.yaml sha256:aa" || in.UpdatedAt.IsZero() {
		t.Errorf("Info = %+v, %v", in, err)
	}
	// The desk's hash tag, shared with the ticket store.
	if n, _ := rdb.Exists(ctx, "md:{acme-it}:directory").Result(); n != 1 {
		t.Error("directory not at md:{acme-it}:directory")
	}
	if v, _ := s.Replace(ctx, nil, Origin{Source: "empty.csv"}); v != 2 {
		t.Errorf("second Replace version = %d", v)
	}
	if got, v, err := s.Load(ctx); err != nil || v != 2 || len(got) != 0 {
		t.Errorf("empty directory: %v, %d, %v", got, v, err)
	}
}

// deref makes pointers comparable by value in %+v.
func deref(cs []config.Customer) []string {
	var out []string
	for _, c := range cs {
		for _, ct := range c.Contacts {
			out = append(out, fmt.Sprintf("%s %s %s %v %s %s %v", c.ID, c.Plan, ct.Email, ct.Main, ct.Language, ct.MaxPriority, *ct.ReceivesProgress))
		}
		out = append(out, fmt.Sprintf("%s %s %v", c.ID, c.Name, c.Domains))
	}
	return out
}

func TestStoreImportIfChanged(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	cs := validCustomers(t)
	steps := []struct {
		name     string
		sum      string
		edit     bool // a CLI edit before this step
		imported bool
		version  int64
	}{
		{name: "no directory yet", sum: "sha256:1", imported: true, version: 1},
		{name: "same file", sum: "sha256:1", version: 1},
		{name: "same file after an edit keeps the edit", sum: "sha256:1", edit: true, version: 2},
		{name: "changed file", sum: "sha256:2", imported: true, version: 3},
		{name: "unreadable sum always imports", sum: "", imported: true, version: 4},
	}
	for _, st := range steps {
		if st.edit {
			if err := s.Add(ctx, "acme", config.Contact{Email: "piet@acme.example"}, plans); err != nil {
				t.Fatal(err)
			}
		}
		imported, v, err := s.ImportIfChanged(ctx, cs, Origin{Source: "contacts.yaml", FileSum: st.sum})
		if err != nil || imported != st.imported || v != st.version {
			t.Errorf("%s: ImportIfChanged = %v, %d, %v; want %v, %d", st.name, imported, v, err, st.imported, st.version)
		}
		got, _, _ := s.Load(ctx)
		hasPiet := NewDirectory(got).Decide("piet@acme.example").Authorised
		if hasPiet != (st.edit && !st.imported) {
			t.Errorf("%s: edit present = %v", st.name, hasPiet)
		}
	}
}

func TestStoreAddRemove(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	if _, err := s.Replace(ctx, validCustomers(t), Origin{Source: "test", FileSum: "sha256:x"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		customer string
		contact  config.Contact
		err      string // "" = success
	}{
		{"add", "acme", config.Contact{Email: "Piet@ACME.example", Name: "Piet"}, ""},
		{"duplicate address", "oxi", config.Contact{Email: "piet@acme.example"}, "piet@acme.example is already a contact of customer acme"},
		{"duplicate by IDNA", "acme", config.Contact{Email: "x@bücher.example"}, ""},
		{"duplicate by IDNA 2", "acme", config.Contact{Email: "X@xn--bcher-kva.example"}, "already a contact of customer acme"},
		{"plan limit", "oxi", config.Contact{Email: "c@oxi.example"}, "customer oxi has 3 contacts; plan oxineo allows at most 2"},
		{"second main contact", "acme", config.Contact{Email: "boss@acme.example", Main: true}, "already has a main contact"},
		{"bad address", "acme", config.Contact{Email: "nobody"}, "not a valid e-mail address"},
		{"bad language", "acme", config.Contact{Email: "kees@acme.example", Language: "de"}, "must be empty or one of nl, en"},
		{"bad max priority", "acme", config.Contact{Email: "kees@acme.example", MaxPriority: "P7"}, "P1, P2, P3, P4"},
		{"unknown customer", "nobody", config.Contact{Email: "kees@acme.example"}, "customer nobody: not found"},
	}
	version := int64(1)
	for _, tt := range tests {
		err := s.Add(ctx, tt.customer, tt.contact, plans)
		v, _ := s.Version(ctx)
		if tt.err == "" {
			version++
			if err != nil || v != version {
				t.Errorf("%s: Add = %v, version %d, want %d", tt.name, err, v, version)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: Add = %v, want error containing %q", tt.name, err, tt.err)
		}
		if v != version {
			t.Errorf("%s: a refused Add changed the version to %d", tt.name, v)
		}
	}
	var ps config.Problems
	if err := s.Add(ctx, "oxi", config.Contact{Email: "c@oxi.example"}, plans); !errors.As(err, &ps) {
		t.Errorf("validation error %v does not wrap config.Problems", err)
	}

	cs, _, _ := s.Load(ctx)
	d := NewDirectory(cs)
	if c := d.Decide("piet@acme.example"); !c.Authorised || c.Contact.Name != "Piet" || !*c.Contact.ReceivesProgress {
		t.Errorf("added contact: %+v", c)
	}
	if !d.Decide("x@xn--bcher-kva.example").Authorised {
		t.Error("address not normalised on Add")
	}

	if err := s.Remove(ctx, "PIET@acme.example"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "piet@acme.example"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
	cs, _, _ = s.Load(ctx)
	if NewDirectory(cs).Decide("piet@acme.example").Reason != DomainNotAuthorised {
		t.Error("removed contact still authorised")
	}
	// Edits keep the import's origin: the file-vs-Redis rule depends on it.
	if h, _ := s.ImportedHash(ctx); h != "sha256:x" {
		t.Errorf("ImportedHash after edits = %q", h)
	}
}

// Concurrent adds are serialised by WATCH: an add that reports success is
// never lost, and the plan limit holds however they interleave. (An add may
// give up after losing the race too often; it then changed nothing.)
func TestStoreConcurrentAdds(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	if _, err := s.Replace(ctx, []config.Customer{{ID: "acme", Plan: "standard"}, {ID: "oxi", Plan: "oxineo"}}, Origin{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok = map[string]int{}
	)
	add := func(customer string, i int) {
		err := s.Add(ctx, customer, config.Contact{Email: fmt.Sprintf("c%d@%s.example", i, customer)}, plans)
		switch {
		case err == nil:
			mu.Lock()
			ok[customer]++
			mu.Unlock()
		case customer == "oxi" && strings.Contains(err.Error(), "allows at most 2"):
		case strings.Contains(err.Error(), "try again"):
		default:
			t.Errorf("add %s %d: %v", customer, i, err)
		}
	}
	for i := range 6 {
		wg.Go(func() { add("acme", i) })
	}
	for i := range 4 {
		wg.Go(func() { add("oxi", i) })
	}
	wg.Wait()
	cs, v, _ := s.Load(ctx)
	total := 0
	for _, c := range cs {
		total += ok[c.ID]
		if len(c.Contacts) != ok[c.ID] {
			t.Errorf("%s has %d contacts, %d adds succeeded", c.ID, len(c.Contacts), ok[c.ID])
		}
	}
	if ok["oxi"] > 2 || ok["acme"] == 0 || v != int64(1+total) {
		t.Errorf("succeeded: %v, version %d", ok, v)
	}
}

func TestLiveRefresh(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	file := validCustomers(t)
	l := NewLive(s, NewDirectory(file, PlusAddressing(true)), PlusAddressing(true))
	if !l.Decide("jan+x@acme.example").Authorised || l.Version() != 0 {
		t.Fatal("initial directory not in use")
	}
	r, err := l.Refresh(ctx)
	if err != nil || r.Imported || r.Loaded {
		t.Errorf("Refresh with nothing queued and nothing stored = %+v, %v", r, err)
	}

	l.QueueFile(file, Origin{Source: "contacts.yaml", FileSum: "sha256:1"})
	r, err = l.Refresh(ctx)
	if err != nil || !r.Imported || !r.Loaded || r.Version != 1 || l.Version() != 1 {
		t.Errorf("first Refresh = %+v, %v", r, err)
	}
	if r, _ := l.Refresh(ctx); r.Imported || r.Loaded {
		t.Errorf("Refresh without changes = %+v", r)
	}

	// An edit by the CLI (or another replica's import) is picked up.
	if err := s.Add(ctx, "acme", config.Contact{Email: "piet@acme.example"}, plans); err != nil {
		t.Fatal(err)
	}
	before := l.Directory()
	if r, err := l.Refresh(ctx); err != nil || r.Imported || !r.Loaded || r.Version != 2 {
		t.Errorf("Refresh after edit = %+v, %v", r, err)
	}
	if !l.Decide("piet+x@acme.example").Authorised || before.Decide("piet@acme.example").Authorised {
		t.Error("edit not in the new directory, or the old one changed (plus addressing must carry over)")
	}

	// The unchanged file queued again (SIGHUP) keeps the edit.
	l.QueueFile(file, Origin{Source: "contacts.yaml", FileSum: "sha256:1"})
	if r, _ := l.Refresh(ctx); r.Imported || !l.Decide("piet@acme.example").Authorised {
		t.Errorf("unchanged file re-imported: %+v", r)
	}

	// Redis lost its data: the last file is imported again.
	if err := s.rdb.Del(ctx, s.key).Err(); err != nil {
		t.Fatal(err)
	}
	if r, err := l.Refresh(ctx); err != nil || !r.Imported || !r.Loaded || r.Version != 1 {
		t.Errorf("Refresh after data loss = %+v, %v", r, err)
	}
	if l.Decide("piet@acme.example").Authorised {
		t.Error("the re-imported file should not have the lost edit")
	}
}

// Redis down when the file is read: the file's customers stay in use, and
// the file is imported once Redis is back.
func TestLiveRedisDown(t *testing.T) {
	s, _, srv := newTestStoreServer(t)
	ctx := context.Background()
	srv.Stop()
	l := NewLive(s, NewDirectory(validCustomers(t)))
	l.QueueFile(validCustomers(t), Origin{Source: "contacts.yaml", FileSum: "sha256:1"})
	down, cancel := context.WithTimeout(ctx, time.Second) // the client would retry for long
	defer cancel()
	if _, err := l.Refresh(down); err == nil {
		t.Error("Refresh with Redis down succeeded")
	}
	if !l.Decide("jan@acme.example").Authorised {
		t.Error("a failed Refresh lost the initial directory")
	}
	srv.Restart(t)
	if r, err := l.Refresh(ctx); err != nil || !r.Imported || !r.Loaded {
		t.Errorf("Refresh after Redis came back = %+v, %v", r, err)
	}
	if h, _ := s.ImportedHash(ctx); h != "sha256:1" {
		t.Errorf("ImportedHash = %q", h)
	}
}
