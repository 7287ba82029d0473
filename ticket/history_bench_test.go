package ticket_test

// Benchmarks of a desk with years of tickets (issue 19): what people look
// at must cost what it shows, not what the desk has held. They print their
// figures; nothing is asserted about time.
//
//	go test ./ticket/ -run '^$' -bench 'BenchmarkHistory$' -benchtime 20x -timeout 60m
//	MAILDESK_BENCH_HISTORY=10000,100000 go test ./ticket/ -run '^$' -bench 'BenchmarkHistory$' -benchtime 20x
//	go test ./ticket/ -run '^$' -bench 'BenchmarkTicketMemory$' -benchtime 1x
//	go test ./ticket/ -run '^$' -bench 'BenchmarkErasure$' -benchtime 5x

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/httpapi"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

const benchDesk = "bench"

var benchKP = config.KeyPrefix(benchDesk)

// benchNow is the end of the desk's history.
var benchNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// Words of the synthetic subjects; rareWord is in one subject in 10,000.
var subjectWords = strings.Fields(`printer mail vpn laptop invoice password backup server network phone screen license
	account teams outlook wifi scanner update firewall website domain certificate storage database login excel word
	calendar sharepoint onedrive token badge camera headset monitor keyboard mouse dock cable router switch printer2
	antivirus spam migration upgrade install access folder archive`)

const rareWord = "kernelpanic"

// loadSrc is the bench's bulk loader: count tickets numbered from first,
// made the way commit.lua makes them (same fields, same index code), in
// one script call per chunk. The newest `open` tickets are open; of the
// rest one in ten is resolved, the others closed (their text packed, as
// the retention run leaves it). Created times are spread evenly over span
// ending at now: unique scores by construction.
const loadSrc = `
local kp, first, count, total, open = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now, step, window = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local z, text, quoted, sla = ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local nwords = #ARGV - 14
local statuses = {'new', 'acknowledged', 'in_progress', 'waiting_customer'}
for i = first, first + count - 1 do
  local number = 'SD-' .. i
  local created = now - (total - i) * step
  local cu = 'c' .. (i % 200)
  local contact = 'p' .. (i % 1000) .. '@' .. cu .. '.example'
  local w1, w2, w3 = ARGV[14 + (i % nwords)], ARGV[14 + ((i * 7) % nwords)], ARGV[14 + ((i * 13) % nwords)]
  local subject = 'Re: ' .. w1 .. ' ' .. w2 .. ' problem with ' .. w3
  if i % 10000 == 4321 then subject = subject .. ' ' .. ARGV[13] end
  local status = 'closed'
  if i > total - open then status = statuses[(i % 4) + 1] elseif i % 10 == 0 then status = 'resolved' end
  local t = kp .. 't:' .. number
  local iso = ARGV[13 + nwords + 1]
  redis.call('HSET', t, 'number', number, 'subject', subject, 'status', status, 'type', 'incident', 'priority', 'P' .. ((i % 4) + 1),
    'requested_priority', '', 'priority_reason', '', 'participants', '', 'customer', cu, 'contact', contact,
    'contact_name', 'Person ' .. (i % 1000), 'language', 'nl', 'created_at', iso, 'message_id', 'CA' .. i .. 'x7f3@mail.' .. cu .. '.example',
    'src_mailbox', 'INBOX', 'src_uidvalidity', '1', 'src_uid', tostring(i), 'people', contact, 'sla', sla, 'updated_at', iso)
  if status == 'closed' then
    redis.call('HSET', t, 'z', z)
  else
    redis.call('HSET', t, 'text', text, 'quoted', quoted)
  end
  redis.call('ZADD', kp .. 'tickets', i, number)
  redis.call('ZADD', kp .. 'idx:created', created, number)
  reindex(kp, number, {}, created + 3600000)
  redis.call('ZREM', kp .. 'compact:todo', number) -- packed already
  if i > total - tonumber(window) then
    idx_subject(kp, number, created, string.lower(subject), window)
  end
  redis.call('HSET', kp .. 'seen', 'CA' .. i .. 'x7f3@mail.' .. cu .. '.example', number)
end
redis.call('SET', kp .. 'seq', first + count - 1)
return count
`

var loadScript = redis.NewScript(ticket.IndexSrc + loadSrc)

const (
	benchText   = "Hallo servicedesk,\n\nSinds vanochtend kan ik niet meer printen naar de printer op de tweede verdieping. Ik krijg de melding dat de printer offline is, maar hij staat aan en het scherm geeft geen fout. Collega's hebben hetzelfde probleem. Kunnen jullie ernaar kijken?\n\nMet vriendelijke groet,\nJan"
	benchQuoted = "-- \nJan Jansen | Facilitair medewerker | Acme BV\nT +31 20 123 4567 | M +31 6 1234 5678\nKeizersgracht 123, 1015 CJ Amsterdam\n\nDit bericht is uitsluitend bestemd voor de geadresseerde. Als u dit bericht onterecht ontvangt, wordt u verzocht de inhoud niet te gebruiken en de afzender direct te informeren door het bericht te retourneren. Aan dit bericht kunnen geen rechten worden ontleend.\n\n> Op 12 november schreef Servicedesk:\n> Uw melding is in behandeling.\n"
)

// load builds a desk of total tickets, the newest open of them open.
func load(b *testing.B, rdb *redis.Client, total, open int) {
	b.Helper()
	ctx := context.Background()
	span := 3 * 365 * 24 * time.Hour
	step := max(span.Milliseconds()/int64(total), 1)
	clk := ticket.Clock{Plan: "standard", Language: "nl", Arrival: benchNow, Priority: "P3", Target: "8h", Start: benchNow,
		FirstResponseDue: benchNow.Add(8 * time.Hour), WarnAt: benchNow.Add(6 * time.Hour)}
	sla, _ := jsonOf(clk)
	z, err := ticket.PackTextForBench(benchText, benchQuoted)
	if err != nil {
		b.Fatal(err)
	}
	if err := loadScript.Load(ctx, rdb).Err(); err != nil {
		b.Fatal(err)
	}
	const chunk = 2000
	iso := benchNow.Add(-span).Format(time.RFC3339Nano)
	for first := 1; first <= total; first += chunk * 4 {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for f := first; f < min(first+chunk*4, total+1); f += chunk {
				args := []any{benchKP, f, min(chunk, total-f+1), total, open, benchNow.UnixMilli(), step, ticket.DefaultSearchWindow,
					z, benchText, benchQuoted, sla, rareWord}
				for _, w := range subjectWords {
					args = append(args, w)
				}
				args = append(args, iso)
				loadScript.EvalSha(ctx, p, []string{benchKP + "tickets"}, args...)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func jsonOf(c ticket.Clock) (string, error) {
	b, err := json.Marshal(c)
	return string(b), err
}

func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("no used_memory in INFO")
	return 0
}

// timed runs op b.N times and reports the median, fastest and slowest run
// in ms of wall time, so that one run of the benchmark gives the median and
// range; and, as the wall time on a shared machine is mostly waiting for a
// core, the CPU time per run of this process (maildesk's side, GC
// included) and of redis-server.
func timed(b *testing.B, rdb *redis.Client, op func(b *testing.B)) {
	b.Helper()
	ds := make([]time.Duration, 0, b.N)
	redis0, self0 := redisCPU(b, rdb), selfCPU()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		op(b)
		ds = append(ds, time.Since(t0))
	}
	b.StopTimer()
	self, rcpu := selfCPU()-self0, redisCPU(b, rdb)-redis0
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(ds[len(ds)/2]), "ms-median")
	b.ReportMetric(ms(ds[0]), "ms-min")
	b.ReportMetric(ms(ds[len(ds)-1]), "ms-max")
	b.ReportMetric(ms(self)/float64(b.N), "ms-cpu-maildesk")
	b.ReportMetric(ms(rcpu)/float64(b.N), "ms-cpu-redis")
	b.ReportMetric(0, "ns/op")
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is redis-server's CPU time so far (INFO cpu).
func redisCPU(b *testing.B, rdb *redis.Client) time.Duration {
	b.Helper()
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var sec float64
	for _, line := range strings.Split(info, "\r\n") {
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				sec += f
			}
		}
	}
	return time.Duration(sec * float64(time.Second))
}

func historySizes(b *testing.B) []int {
	v := os.Getenv("MAILDESK_BENCH_HISTORY")
	if v == "" {
		return []int{10_000, 1_000_000}
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2000 {
			b.Fatalf("MAILDESK_BENCH_HISTORY=%q: want sizes of at least 2000, comma-separated", v)
		}
		out = append(out, n)
	}
	return out
}

// BenchmarkHistory: the dashboard, GET /api/v1/tickets (open, first page),
// a customer's tickets (first page) and subject search (a word in one
// subject in ten thousand, so the whole search window is read) on desks of
// 10,000 and 1,000,000 tickets of which 1,000 are open. The figures should
// be close: the cost grows with what is shown, not with the history.
func BenchmarkHistory(b *testing.B) {
	const open = 1000
	for _, total := range historySizes(b) {
		b.Run(fmt.Sprintf("tickets=%d", total), func(b *testing.B) {
			srv := testserver.Redis(b)
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: time.Minute})
			defer rdb.Close()
			ctx := context.Background()
			before := usedMemory(b, rdb)
			t0 := time.Now()
			load(b, rdb, total, open)
			used := usedMemory(b, rdb) - before
			fmt.Printf("history tickets=%d open=%d: built in %.1fs; Redis used_memory %.1f MB (%.0f bytes per ticket, indexes and seen included)\n",
				total, open, time.Since(t0).Seconds(), float64(used)/1e6, float64(used)/float64(total))

			store := ticket.NewStore(rdb, ticket.Options{DeskID: benchDesk, TicketPrefix: "SD", OutboxKey: benchKP + "outbox"})
			if total <= 100_000 {
				// The loader keeps the indexes as the scripts do (checked
				// on the smaller desks: the check reads everything).
				if ok, err := store.CheckIndexes(ctx, false); err != nil || ok.Missing+ok.Stale != 0 {
					b.Fatalf("the loaded desk's indexes: %+v, %v", ok, err)
				}
			}
			customers := map[string]*config.Customer{}
			for i := range 200 {
				id := "c" + strconv.Itoa(i)
				customers[id] = &config.Customer{ID: id, Name: "Customer " + strconv.Itoa(i), Plan: "standard"}
			}
			dash := httpapi.NewDashboard(store, func(id string) *config.Customer { return customers[id] }, "Bench desk",
				func() time.Time { return benchNow }, time.UTC)
			ob := notify.NewOutbox(rdb, benchDesk)
			api := httpapi.NewAPI(httpapi.APIConfig{Tickets: store, Workflow: &workflow.Service{Store: store},
				Contacts: authz.NewStore(rdb, benchDesk), Outbox: ob})
			get := func(h http.Handler, path string, want string, rows int) func(b *testing.B) {
				return func(b *testing.B) {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1"+path, nil))
					body := rec.Body.String()
					if rec.Code != 200 || !strings.Contains(body, want) || rows >= 0 && strings.Count(body, `"number":`) != rows {
						b.Fatalf("GET %s: %d, %d rows, %.300s", path, rec.Code, strings.Count(body, `"number":`), body)
					}
				}
			}
			b.Run("dashboard", func(b *testing.B) {
				timed(b, rdb, get(dash, "/", fmt.Sprintf("SD-%d", total), -1))
			})
			b.Run("api-open-first-page", func(b *testing.B) {
				timed(b, rdb, get(api, "/api/v1/tickets?open=true", fmt.Sprintf(`"number":"SD-%d"`, total), 100))
			})
			b.Run("api-customer-first-page", func(b *testing.B) {
				timed(b, rdb, get(api, "/api/v1/tickets?customer=c17", `"customer":"c17"`, min(100, total/200)))
			})
			b.Run("api-search-rare", func(b *testing.B) {
				timed(b, rdb, get(api, "/api/v1/tickets?q="+rareWord, rareWord, -1))
			})
			b.Run("api-search-common-first-page", func(b *testing.B) {
				timed(b, rdb, get(api, "/api/v1/tickets?q=printer", "printer", 100))
			})
		})
	}
}

// BenchmarkTicketMemory: Redis memory per ticket (used_memory, indexes,
// history and Message-IDs included), made, changed and retired by the real
// scripts: 10,000 tickets from mails of 300 characters above 460 of
// signature and history, each with one follow-up of 200 characters; then
// answered (the SLA clock stops) and closed, packed by the retention run, anonymised (retention.closed_after),
// its Message-IDs aged out (retention.seen) and deleted (retention.keep).
// It also times the retention run.
func BenchmarkTicketMemory(b *testing.B) {
	const n = 10_000
	for range b.N {
		srv := testserver.Redis(b)
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: time.Minute})
		ctx := context.Background()
		s := ticket.NewStore(rdb, ticket.Options{DeskID: benchDesk, TicketPrefix: "SD", OutboxKey: benchKP + "outbox"})
		base := usedMemory(b, rdb)
		at := benchNow.Add(-30 * 24 * time.Hour)
		var cs []ticket.Commit
		for i := range n {
			created := at.Add(time.Duration(i) * time.Minute)
			clk := &ticket.Clock{Plan: "standard", Language: "nl", Arrival: created, Priority: "P3", Target: "8h", Start: created,
				FirstResponseDue: created.Add(8 * time.Hour), WarnAt: created.Add(6 * time.Hour)}
			cu := "c" + strconv.Itoa(i%200)
			id := fmt.Sprintf("CAF%08dx7f3e9@mail.%s.example", i, cu)
			cs = append(cs, ticket.Commit{Dedupe: id, Ticket: &ticket.New{Subject: "Printer op de tweede verdieping doet het niet " + strconv.Itoa(i),
				Priority: "P3", Customer: cu, Contact: fmt.Sprintf("p%d@%s.example", i%1000, cu), ContactName: "Jan Jansen", Language: "nl",
				MessageID: id, Text: benchText, Quoted: benchQuoted, CreatedAt: created, Clock: clk,
				Source: ticket.Source{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(i + 1)}}})
			if len(cs) == 500 || i == n-1 {
				for _, r := range s.CommitBatch(ctx, cs) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
				cs = cs[:0]
			}
		}
		for i := range n {
			number := "SD-" + strconv.Itoa(i+1)
			id := fmt.Sprintf("CAG%08dx7f3e9@mail.example", i)
			if _, err := s.Append(ctx, id, number, ticket.Event{At: at.Add(time.Duration(i)*time.Minute + time.Hour), Kind: ticket.EventReply,
				From: fmt.Sprintf("p%d@c%d.example", i%1000, i%200), MessageID: id, Subject: "Re: [SD-1] Printer", Text: benchText[:200],
				Quoted: "> Uw melding is in behandeling."}); err != nil {
				b.Fatal(err)
			}
		}
		open := usedMemory(b, rdb) - base
		for i := range n {
			number := "SD-" + strconv.Itoa(i+1)
			// Answered, as an agent's reply does (the clock stops and the
			// due-time sets forget the ticket), then closed.
			created := at.Add(time.Duration(i) * time.Minute)
			clk := &ticket.Clock{Plan: "standard", Language: "nl", Arrival: created, Priority: "P3", Target: "8h", Start: created,
				FirstResponseDue: created.Add(8 * time.Hour), WarnAt: created.Add(6 * time.Hour), RespondedAt: created.Add(2 * time.Hour)}
			if err := s.SetClock(ctx, number, clk); err != nil {
				b.Fatal(err)
			}
			ev := &ticket.Event{At: at.Add(48 * time.Hour), Kind: ticket.EventChange, From: "Alice",
				Changes: []ticket.FieldChange{{Field: "status", Old: "new", New: "closed"}}}
			if _, err := s.Apply(ctx, number, ticket.Change{At: at.Add(48 * time.Hour), Status: ticket.StatusClosed, Event: ev}, nil); err != nil {
				b.Fatal(err)
			}
		}
		closed := usedMemory(b, rdb) - base
		later := at.Add(30 * 24 * time.Hour)
		for {
			r, err := s.RunRetention(ctx, ticket.RetentionPolicy{Batch: 2000}, nil, later, false)
			if err != nil {
				b.Fatal(err)
			}
			if r.Compacted == 0 {
				break
			}
		}
		packed := usedMemory(b, rdb) - base
		t0 := time.Now()
		for {
			r, err := s.RunRetention(ctx, ticket.RetentionPolicy{ClosedAfter: 24 * time.Hour, Batch: 1000}, nil, later, false)
			if err != nil {
				b.Fatal(err)
			}
			if !r.More {
				break
			}
		}
		took := time.Since(t0)
		// The mails' Message-IDs wait in purge:mail for the mailbox; here
		// there is none: they are counted apart.
		queue, _ := rdb.MemoryUsage(ctx, benchKP+"purge:mail", 0).Result()
		anon := usedMemory(b, rdb) - base - queue
		rdb.Del(ctx, benchKP+"purge:mail")
		// Two retention.seen periods later the Message-IDs are gone too.
		rdb.Del(ctx, benchKP+"seen")
		anonAged := usedMemory(b, rdb) - base
		if r, err := s.RunRetention(ctx, ticket.RetentionPolicy{ClosedAfter: 24 * time.Hour, Keep: 48 * time.Hour, Batch: n}, nil, later, false); err != nil || len(r.Tickets) != n {
			b.Fatalf("keep: %d, %v", len(r.Tickets), err)
		}
		rdb.Del(ctx, benchKP+"purge:mail")
		gone := usedMemory(b, rdb) - base
		per := func(v int64) float64 { return float64(v) / n }
		b.ReportMetric(per(open), "B/open-ticket")
		b.ReportMetric(per(closed), "B/closed-ticket")
		b.ReportMetric(per(packed), "B/closed-packed")
		b.ReportMetric(per(anon), "B/anonymised")
		b.ReportMetric(per(anonAged), "B/anonymised-ids-aged")
		b.ReportMetric(per(gone), "B/deleted")
		b.ReportMetric(float64(took.Microseconds())/1000/(n/1000), "ms/1000-anonymised")
		b.ReportMetric(0, "ns/op")
		rdb.Close()
		srv.Stop()
	}
}

// BenchmarkErasure: erasing a contact with 1,000 tickets (each with a
// follow-up of theirs) on a desk of 10,000 other tickets.
func BenchmarkErasure(b *testing.B) {
	srv := testserver.Redis(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: time.Minute})
	defer rdb.Close()
	ctx := context.Background()
	load(b, rdb, 10_000, 1000)
	s := ticket.NewStore(rdb, ticket.Options{DeskID: benchDesk, TicketPrefix: "SD", OutboxKey: benchKP + "outbox"})
	ds := make([]time.Duration, 0, b.N)
	for i := range b.N {
		who := fmt.Sprintf("big%d@acme.example", i)
		var cs []ticket.Commit
		for j := range 1000 {
			id := fmt.Sprintf("big%d-%d@acme.example", i, j)
			cs = append(cs, ticket.Commit{Dedupe: id, Ticket: &ticket.New{Subject: "Printer " + strconv.Itoa(j), Customer: "acme", Contact: who,
				ContactName: "Big Contact", MessageID: id, Text: benchText, Quoted: benchQuoted, CreatedAt: benchNow}})
		}
		var numbers []string
		for c := range slices.Chunk(cs, 500) {
			for _, r := range s.CommitBatch(ctx, c) {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
				numbers = append(numbers, r.Number)
			}
		}
		for j, n := range numbers {
			id := fmt.Sprintf("big%d-r%d@acme.example", i, j)
			if _, err := s.Append(ctx, id, n, ticket.Event{At: benchNow, Kind: ticket.EventReply, From: who, MessageID: id, Text: "Any news?"}); err != nil {
				b.Fatal(err)
			}
		}
		t0 := time.Now()
		r, err := s.ErasePerson(ctx, who)
		ds = append(ds, time.Since(t0))
		if err != nil || r.Tickets != 1000 || r.Events != 1000 {
			b.Fatalf("erasure = %+v, %v", r, err)
		}
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(ds[0].Microseconds())/1000, "ms-min")
	b.ReportMetric(float64(ds[len(ds)-1].Microseconds())/1000, "ms-max")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkIndexBuild: the index build of a desk upgraded from a version
// without indexes (EnsureIndexes on start), on 100,000 tickets.
func BenchmarkIndexBuild(b *testing.B) {
	const total = 100_000
	srv := testserver.Redis(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: time.Minute})
	defer rdb.Close()
	ctx := context.Background()
	load(b, rdb, total, 1000)
	var ds []time.Duration
	for range b.N {
		keys, err := rdb.Keys(ctx, benchKP+"idx:*").Result()
		if err != nil {
			b.Fatal(err)
		}
		for k := range slices.Chunk(keys, 500) {
			rdb.Del(ctx, k...)
		}
		s := ticket.NewStore(rdb, ticket.Options{DeskID: benchDesk, TicketPrefix: "SD", OutboxKey: benchKP + "outbox"})
		t0 := time.Now()
		if err := s.EnsureIndexes(ctx, nil); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	b.ReportMetric(float64(total)/ds[len(ds)/2].Seconds(), "tickets/s")
	b.ReportMetric(0, "ns/op")
}
