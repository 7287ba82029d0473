// Getrusage (the CPU time of this process) exists on unix only; the
// benchmarks need Dovecot and redis-server, which run there anyway.

//go:build unix

package ingest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/mailparse"
	"github.com/maildesk/maildesk/ticket"
)

// The benchmarks run the real ingest path (Watcher, Pipeline, ticket.Store)
// against a real Dovecot and a real redis-server. How to run them and the
// figures they gave are in docs/performance.md.

const (
	benchDomain = "desk.example"
	benchBatch  = 100 // the daemon's default batch size
	// benchTimeout bounds a phase, so that a watcher that stalls fails the
	// benchmark with a message instead of hanging until go test's -timeout.
	benchTimeout = 10 * time.Minute
)

// benchCount reads a positive mail count from env, or returns def.
func benchCount(b *testing.B, env string, def int) int {
	b.Helper()
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number of mails", env, v)
	}
	return n
}

// benchDirectory is ten contacts at three customers: the senders of the
// authorised 80% of the mail.
func benchDirectory() ([]config.Customer, []config.Contact) {
	var customers []config.Customer
	var contacts []config.Contact
	for i, c := range []struct {
		id, domain string
		people     []string
	}{
		{"acme", "acme.example", []string{"Jan Jansen", "Piet Pieters", "Marie de Vries", "Kees Bakker"}},
		{"globex", "globex.example", []string{"Anna Visser", "Tom Smit", "Eva Mulder"}},
		{"initech", "initech.example", []string{"Lotte de Boer", "Bram Meijer", "Sanne Bos"}},
	} {
		cust := config.Customer{ID: c.id, Name: strings.ToUpper(c.id[:1]) + c.id[1:] + " BV", Plan: "standard"}
		for j, name := range c.people {
			email := strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@" + c.domain
			lang := "nl"
			if (i+j)%3 == 0 {
				lang = "en"
			}
			cust.Contacts = append(cust.Contacts, config.Contact{Email: email, Name: name, Main: j == 0, Language: lang})
		}
		customers = append(customers, cust)
		contacts = append(contacts, cust.Contacts...)
	}
	return customers, contacts
}

// benchPipeline is the pipeline as the daemon wires it. The log is JSON
// (the daemon's format when stderr is not a terminal) at Info, so that the
// cost of formatting the per-mail log lines is measured, written to
// io.Discard so that the cost of a log sink is not.
func benchPipeline(store Committer, customers []config.Customer, desk string) (*Pipeline, *slog.Logger) {
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p := &Pipeline{
		Store:    store,
		Authz:    authz.NewDirectory(customers),
		Limits:   mailparse.Limits{MaxSize: 25 << 20},
		Own:      Own{Address: desk, MessageIDDomain: benchDomain, LoopHeader: "X-Maildesk-Loop", DeskID: "bench"},
		Language: "en", Priority: "P3", Log: log, TicketPrefix: "SD",
	}
	// Threading on, as in the daemon (the backlog's mails follow up on
	// nothing, but every mail is checked).
	if th, ok := store.(Threads); ok {
		p.Threads = th
	}
	return p, log
}

func benchWatcherConfig(addr, user, password string) WatcherConfig {
	return WatcherConfig{
		Address: addr, Security: "none", Username: user, Password: password, Mailbox: "INBOX",
		Processed: "Processed", Rejected: "Rejected", Quarantine: "Quarantine",
		CommandTimeout: time.Minute, BatchSize: benchBatch, MaxMessageSize: 25 << 20,
	}
}

// mailGen makes realistic servicedesk mail: 2-5 KB, one in four multipart
// with a small attachment, 80% from contacts and 20% from strangers. It is
// deterministic for a seed, so runs are comparable.
type mailGen struct {
	rng      *rand.Rand
	contacts []config.Contact
	desk     string
	run      string // keeps Message-IDs unique across runs and desks
	n        int
}

func newMailGen(seed uint64, contacts []config.Contact, desk string) *mailGen {
	return &mailGen{rng: rand.New(rand.NewPCG(seed, 0x6d61696c6465736b)), contacts: contacts, desk: desk,
		run: strconv.FormatUint(seed, 36) + "." + strconv.FormatInt(time.Now().UnixNano(), 36)}
}

var (
	benchSubjects = []string{
		"Printer on the %d floor does not print", "VPN drops every %d minutes", "Cannot log in to the portal (error %d)",
		"Request: new laptop for employee %d", "Outlook keeps asking for my password (%d times today)",
		"Shared drive full? %d GB left", "Phone extension %d not working", "Invoice %d: access to the finance app",
	}
	benchWords = strings.Fields("the printer network laptop screen user account password server backup mail " +
		"since yesterday morning again please could you have a look when error message shows after restart " +
		"colleagues also same problem urgent meeting tomorrow thanks regards installed update version")
)

// next returns the raw mail (CRLF line ends), its Message-ID without angle
// brackets, and whether the sender is a contact.
func (g *mailGen) next() (raw []byte, id string, authorised bool) {
	g.n++
	authorised = g.rng.IntN(5) != 0
	from, name := fmt.Sprintf("someone%d@elsewhere%d.example", g.rng.IntN(200), g.rng.IntN(20)), "Some One"
	if authorised {
		c := g.contacts[g.rng.IntN(len(g.contacts))]
		from, name = c.Email, c.Name
	}
	id = fmt.Sprintf("%d.%s@mail.%s", g.n, g.run, strings.Split(from, "@")[1])
	date := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC).Add(time.Duration(g.n) * time.Second)
	target := 2000 + g.rng.IntN(3001)

	var h strings.Builder
	fmt.Fprintf(&h, "Return-Path: <%s>\r\n", from)
	fmt.Fprintf(&h, "Received: from mx%d.%s (mx.%s [192.0.2.%d])\r\n\tby mx.%s (Postfix) with ESMTPS id 4Xb%dQ\r\n\tfor <%s>; %s\r\n",
		g.rng.IntN(3), strings.Split(from, "@")[1], strings.Split(from, "@")[1], 1+g.rng.IntN(250), benchDomain, g.n, g.desk,
		date.Format(time.RFC1123Z))
	fmt.Fprintf(&h, "Authentication-Results: mx.%s; spf=pass smtp.mailfrom=%s; dkim=pass header.d=%s\r\n",
		benchDomain, from, strings.Split(from, "@")[1])
	fmt.Fprintf(&h, "From: %s <%s>\r\nTo: Servicedesk <%s>\r\n", name, from, g.desk)
	fmt.Fprintf(&h, "Subject: "+benchSubjects[g.rng.IntN(len(benchSubjects))]+"\r\n", 1+g.rng.IntN(40))
	fmt.Fprintf(&h, "Date: %s\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\n", date.Format(time.RFC1123Z), id)

	multipart := g.rng.IntN(4) == 0
	var attachment string
	if multipart {
		blob := make([]byte, 600+g.rng.IntN(600))
		for i := range blob {
			blob[i] = byte(g.rng.Uint32())
		}
		enc := base64.StdEncoding.EncodeToString(blob)
		var a strings.Builder
		for len(enc) > 76 {
			a.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		a.WriteString(enc + "\r\n")
		attachment = a.String()
	}
	text := g.text(max(300, target-h.Len()-len(attachment)-300))
	if !multipart {
		h.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
		h.WriteString(text)
		return []byte(h.String()), id, authorised
	}
	boundary := fmt.Sprintf("=_bench_%d", g.n)
	fmt.Fprintf(&h, "Content-Type: multipart/mixed; boundary=%q\r\n\r\nThis is a multi-part message in MIME format.\r\n", boundary)
	fmt.Fprintf(&h, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s", boundary, text)
	fmt.Fprintf(&h, "--%s\r\nContent-Type: application/pdf; name=\"log-%d.pdf\"\r\nContent-Disposition: attachment; filename=\"log-%d.pdf\"\r\n"+
		"Content-Transfer-Encoding: base64\r\n\r\n%s--%s--\r\n", boundary, g.n, g.n, attachment, boundary)
	return []byte(h.String()), id, authorised
}

// text is about size bytes of prose in lines of at most 72 characters.
func (g *mailGen) text(size int) string {
	var b, line strings.Builder
	b.WriteString("Hello servicedesk,\r\n\r\n")
	for b.Len() < size {
		w := benchWords[g.rng.IntN(len(benchWords))]
		if line.Len()+1+len(w) > 72 {
			b.WriteString(line.String() + "\r\n")
			line.Reset()
		}
		if line.Len() > 0 {
			line.WriteByte(' ')
		}
		line.WriteString(w)
	}
	b.WriteString(line.String() + "\r\n\r\nKind regards\r\n")
	return b.String()
}

// dialBench logs in to Dovecot with a watchdog that closes the connection
// after benchTimeout: go-imap has no timeouts of its own. The caller stops
// the returned watchdog and closes the client.
func dialBench(addr, user, password string) (*imapclient.Client, *time.Timer, error) {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return nil, nil, err
	}
	wd := time.AfterFunc(benchTimeout, func() { c.Close() })
	if err := c.Login(user, password).Wait(); err != nil {
		wd.Stop()
		c.Close()
		return nil, nil, fmt.Errorf("login %s: %w", user, err)
	}
	return c, wd, nil
}

// indexMailbox SELECTs mailbox once, so that Dovecot takes the mail files
// written by DeliverMaildir into its index (assigns UIDs, moves them from
// new/ to cur/) before anything is measured, and returns the message count.
func indexMailbox(addr, user, password, mailbox string) (uint32, error) {
	c, wd, err := dialBench(addr, user, password)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	defer wd.Stop()
	sel, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("select: %w", err)
	}
	return sel.NumMessages, c.Logout().Wait()
}

// bareFetch is the baseline: what it costs just to get the mails off the
// server. It logs in, selects the mailbox and UID FETCHes BODY.PEEK[] in
// batches of benchBatch, one command at a time like the watcher, reading
// each literal off the socket and discarding it. It returns the number of
// bodies and their bytes.
func bareFetch(addr, user, password, mailbox string) (n int, size int64, err error) {
	c, wd, err := dialBench(addr, user, password)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	defer wd.Stop()
	sel, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		return 0, 0, fmt.Errorf("select: %w", err)
	}
	// The mailbox is fresh and only appended to, so its UIDs are
	// 1..UIDNext-1 and ranges need no SEARCH.
	opts := &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}
	for start := imap.UID(1); start < sel.UIDNext; start += benchBatch {
		cmd := c.Fetch(imap.UIDSet{{Start: start, Stop: min(start+benchBatch-1, sel.UIDNext-1)}}, opts)
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			for item := msg.Next(); item != nil; item = msg.Next() {
				if body, ok := item.(imapclient.FetchItemDataBodySection); ok && body.Literal != nil {
					m, rerr := io.Copy(io.Discard, body.Literal)
					if rerr != nil && err == nil {
						err = rerr
					}
					n++
					size += m
				}
			}
		}
		if cerr := cmd.Close(); cerr != nil {
			return n, size, fmt.Errorf("fetch: %w", cerr)
		}
		if err != nil {
			return n, size, fmt.Errorf("fetch: %w", err)
		}
	}
	return n, size, c.Logout().Wait()
}

// runFetchmail is the classic first step of a fetchmail-to-helpdesk
// pipeline: Debian's fetchmail downloads every mail of user's INBOX over
// plain IMAP and hands each to an MDA, here one that reads and discards it
// (so this is fetchmail's part alone). --keep leaves the mails for the
// next measurement. It returns how many mails fetchmail delivered.
func runFetchmail(b *testing.B, bin, addr, user, password string) (int, error) {
	b.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	dir := b.TempDir()
	// fetchmail refuses an rc file others can read.
	rc := filepath.Join(dir, "fetchmailrc")
	conf := fmt.Sprintf("set no bouncemail\npoll %s port %s protocol IMAP auth password\n"+
		"  user %q there with password %q\n  options keep fetchall limit 0 batchlimit 0 fetchlimit 0 no sslcertck sslproto \"\"\n  mda \"cat >/dev/null\"\n",
		host, port, user, password)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		return 0, err
	}
	cmd := exec.Command(bin, "--fetchmailrc", rc, "--nodetach", "--nosyslog", "--idfile", filepath.Join(dir, "ids"),
		"--pidfile", filepath.Join(dir, "pid"))
	cmd.Env = append(os.Environ(), "HOME="+dir, "FETCHMAILHOME="+dir, "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	// Exit 0: mail was retrieved. Every mail gives one "reading message" line.
	n := strings.Count(string(out), "reading message ")
	if err != nil {
		tail := string(out)
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return n, fmt.Errorf("fetchmail: %v\n%s", err, tail)
	}
	return n, nil
}

// machineCPU returns the busy and total time of all CPUs (/proc/stat), to
// tell how loaded the machine was, whoever loaded it.
func machineCPU() (busy, total float64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		x, _ := strconv.ParseFloat(v, 64)
		total += x
		if i != 3 && i != 4 { // idle, iowait
			busy += x
		}
	}
	return busy, total
}

// redisCPU is the CPU time redis-server reports for itself.
func redisCPU(rdb *redis.Client) time.Duration {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		return 0
	}
	var sec float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			x, _ := strconv.ParseFloat(v, 64)
			sec += x
		}
	}
	return time.Duration(sec * float64(time.Second))
}

// mailboxCounts returns the number of messages in each mailbox.
func mailboxCounts(addr, user, password string, mailboxes ...string) (map[string]uint32, error) {
	c, wd, err := dialBench(addr, user, password)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	defer wd.Stop()
	out := map[string]uint32{}
	for _, mb := range mailboxes {
		st, err := c.Status(mb, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			return nil, fmt.Errorf("status %s: %w", mb, err)
		}
		out[mb] = *st.NumMessages
	}
	return out, c.Logout().Wait()
}

// processCPU is the CPU time (user + system) this process has used. The
// servers run in other processes, so it tells maildesk's share of the work
// from Dovecot's and Redis's.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runWatcherLabelled runs w until the returned stop is called; stop waits
// for Run to return. The watcher's goroutines (and the go-imap reader
// goroutine it starts) carry the pprof label bench=ingest, so that
// `go tool pprof -tagfocus bench=ingest` shows the ingest path without the
// benchmark's own filling and bare fetching.
func runWatcherLabelled(w *Watcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go pprof.Do(ctx, pprof.Labels("bench", "ingest"), func(ctx context.Context) {
		defer close(done)
		_ = w.Run(ctx)
	})
	return func() { cancel(); <-done }
}

// BenchmarkIngestBacklog measures draining a backlog already waiting in a
// Dovecot mailbox: fetch, parse, decide, commit to Redis, move. For the
// same mails it first measures a bare UID FETCH, the ceiling set by
// Dovecot and the IMAP round trips. Each iteration uses a fresh mailbox and
// desk. ns/op is the end-to-end time of one backlog; filling and the bare
// fetch are outside the timer.
//
//	MAILDESK_BENCH_MAILS=10000 go test ./ingest/ -run XXX -bench IngestBacklog -benchtime 1x
func BenchmarkIngestBacklog(b *testing.B) {
	n := benchCount(b, "MAILDESK_BENCH_MAILS", 2000)
	dc := testserver.Dovecot(b)
	rs := testserver.Redis(b)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	b.Cleanup(func() { rdb.Close() })
	customers, contacts := benchDirectory()

	var ingestTime, fetchTime, fillTime, cpuTime, commitTime, firstTenthTime, lastTenthTime, redisTime time.Duration
	var fetchmailTime time.Duration
	var fetchBytes, tenthMails int64
	var busyJiffies, allJiffies float64
	fetchmail, _ := exec.LookPath("fetchmail")
	if fetchmail == "" || os.Getenv("MAILDESK_BENCH_FETCHMAIL") == "0" {
		b.Log("fetchmail not installed (or MAILDESK_BENCH_FETCHMAIL=0): no fetchmail figure")
		fetchmail = ""
	}
	b.StopTimer()
	for i := range b.N {
		desk := fmt.Sprintf("desk%d@%s", i, benchDomain)
		deskID := fmt.Sprintf("bench%d", i)
		gen := newMailGen(uint64(i+1), contacts, desk)
		mails := make([][]byte, n)
		authorised := 0
		for j := range mails {
			var ok bool
			if mails[j], _, ok = gen.next(); ok {
				authorised++
			}
		}
		// Pipelined IMAP APPEND filled about 200 mails/s on the 2-core test
		// machine: writing the Maildir and letting Dovecot index it, 1,100
		// to 3,500 mails/s.
		t0 := time.Now()
		dc.DeliverMaildir(b, desk, mails)
		if got, err := indexMailbox(dc.IMAPAddr, desk, dc.Password, "INBOX"); err != nil || got != uint32(n) {
			b.Fatalf("fill mailbox: %d of %d mails: %v\n%s", got, n, err, dc.LogTail())
		}
		fillTime += time.Since(t0)
		// Flush the files just written now, so that their writeback does not
		// land in the measured phases.
		syscall.Sync()

		t0 = time.Now()
		got, size, err := bareFetch(dc.IMAPAddr, desk, dc.Password, "INBOX")
		fetchTime += time.Since(t0)
		fetchBytes += size
		if err != nil || got != n {
			b.Fatalf("bare fetch: %d of %d mails: %v\n%s", got, n, err, dc.LogTail())
		}
		if fetchmail != "" {
			t0 = time.Now()
			got, err := runFetchmail(b, fetchmail, dc.IMAPAddr, desk, dc.Password)
			fetchmailTime += time.Since(t0)
			if err != nil || got != n {
				b.Fatalf("fetchmail: %d of %d mails: %v", got, n, err)
			}
		}

		tc := newTimedCommitter(ticket.NewStore(rdb, ticket.Options{DeskID: deskID, TicketPrefix: "SD", OutboxKey: config.KeyPrefix(deskID) + "outbox"}))
		pipe, log := benchPipeline(tc, customers, desk)
		w := NewWatcher(benchWatcherConfig(dc.IMAPAddr, desk, dc.Password), pipe, log)
		// The clock includes connecting, LOGIN, LIST/CREATE of the folders
		// and SELECT: the daemon pays them too when it starts on a backlog.
		cpu0, redis0 := processCPU(), redisCPU(rdb)
		busy0, total0 := machineCPU()
		b.StartTimer()
		t0 = time.Now()
		stop := runWatcherLabelled(w)
		// Processed counts a mail when its outcome is committed; the state
		// turns idle only after the last batch has been moved and a SEARCH
		// found the inbox empty, so both together mean the backlog is gone.
		// The times at which the first and the last tenth of the backlog were
		// done show whether the rate holds up as the backlog drains.
		tenth := max(1, int64(n)/10)
		var firstTenth, lastTenthStart time.Time
		for st := w.Status(); st.Processed < int64(n) || st.State != "idle"; st = w.Status() {
			now := time.Now()
			if firstTenth.IsZero() && st.Processed >= tenth {
				firstTenth = now
			}
			if lastTenthStart.IsZero() && st.Processed >= int64(n)-tenth {
				lastTenthStart = now
			}
			if now.Sub(t0) > benchTimeout {
				stop()
				b.Fatalf("backlog not drained after %s: status %+v", benchTimeout, st)
			}
			time.Sleep(5 * time.Millisecond)
		}
		end := time.Now()
		ingestTime += end.Sub(t0)
		// Includes connecting; ends when the tenth is committed, not moved.
		firstTenthTime += firstTenth.Sub(t0)
		// From the commit of mail n-tenth to the end, including the last move.
		lastTenthTime += end.Sub(lastTenthStart)
		tenthMails += tenth
		b.StopTimer()
		cpuTime += processCPU() - cpu0
		redisTime += redisCPU(rdb) - redis0
		busy1, total1 := machineCPU()
		busyJiffies, allJiffies = busyJiffies+busy1-busy0, allJiffies+total1-total0
		commitTime += tc.busyTime()
		stop()

		// Not timing assertions: proof that the run did the whole job.
		counts, err := mailboxCounts(dc.IMAPAddr, desk, dc.Password, "INBOX", "Processed", "Rejected", "Quarantine")
		if err != nil {
			b.Fatal(err)
		}
		want := map[string]uint32{"INBOX": 0, "Processed": uint32(authorised), "Rejected": uint32(n - authorised), "Quarantine": 0}
		for mb, c := range want {
			if counts[mb] != c {
				b.Fatalf("after the run %s holds %d mails, want %d (all: %v)", mb, counts[mb], c, counts)
			}
		}
		kp := config.KeyPrefix(deskID)
		if tickets, err := rdb.ZCard(context.Background(), kp+"tickets").Result(); err != nil || tickets != int64(authorised) {
			b.Fatalf("Redis holds %d tickets, want %d: %v", tickets, authorised, err)
		}
		if rej, err := rdb.XLen(context.Background(), kp+"rejections").Result(); err != nil || rej != int64(n-authorised) {
			b.Fatalf("Redis holds %d rejections, want %d: %v", rej, n-authorised, err)
		}
	}
	total := float64(n * b.N)
	ingestRate := total / ingestTime.Seconds()
	fetchRate := total / fetchTime.Seconds()
	b.ReportMetric(ingestRate, "ingest-mails/s")
	b.ReportMetric(fetchRate, "bare-fetch-mails/s")
	b.ReportMetric(ingestRate/fetchRate, "ingest/bare")
	if fetchmail != "" {
		fetchmailRate := total / fetchmailTime.Seconds()
		b.ReportMetric(fetchmailRate, "fetchmail-mails/s")
		b.ReportMetric(ingestRate/fetchmailRate, "ingest/fetchmail")
	}
	b.ReportMetric(total/fillTime.Seconds(), "fill-mails/s")
	b.ReportMetric(float64(fetchBytes)/total, "bytes/mail")
	// CPU of this process per mail while ingesting: the rest of the wall
	// time is spent waiting for Dovecot and Redis.
	b.ReportMetric(float64(cpuTime.Microseconds())/total, "maildesk-cpu-us/mail")
	b.ReportMetric(float64(redisTime.Microseconds())/total, "redis-cpu-us/mail")
	// Share of all CPUs busy during the end-to-end phase: maildesk,
	// Dovecot, Redis and whatever else ran.
	if allJiffies > 0 {
		b.ReportMetric(busyJiffies/allJiffies, "machine-busy")
	}
	// Share of the wall time spent waiting for the Redis commit, during
	// which the mail's IMAP literal is not being read.
	b.ReportMetric(commitTime.Seconds()/ingestTime.Seconds(), "commit-share")
	b.ReportMetric(float64(tenthMails)/firstTenthTime.Seconds(), "first10%-mails/s")
	b.ReportMetric(float64(tenthMails)/lastTenthTime.Seconds(), "last10%-mails/s")
}

// timedCommitter records when the outcome of each mail was committed (the
// moment the Lua script returned, before the mail is moved) and how long
// the commits took in all.
type timedCommitter struct {
	next Committer
	mu   sync.Mutex
	at   map[string]time.Time // by dedupe key, here the Message-ID
	busy time.Duration
}

func newTimedCommitter(next Committer) *timedCommitter {
	return &timedCommitter{next: next, at: map[string]time.Time{}}
}

func (tc *timedCommitter) mark(key string, start time.Time) {
	now := time.Now()
	tc.mu.Lock()
	if _, ok := tc.at[key]; !ok {
		tc.at[key] = now
	}
	tc.busy += now.Sub(start)
	tc.mu.Unlock()
}

// markAll is mark for the commits of one round trip.
func (tc *timedCommitter) markAll(keys []string, start time.Time) {
	now := time.Now()
	tc.mu.Lock()
	for _, key := range keys {
		if _, ok := tc.at[key]; !ok {
			tc.at[key] = now
		}
	}
	tc.busy += now.Sub(start)
	tc.mu.Unlock()
}

func (tc *timedCommitter) committed(key string) (time.Time, bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	t, ok := tc.at[key]
	return t, ok
}

func (tc *timedCommitter) busyTime() time.Duration {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.busy
}

func (tc *timedCommitter) Create(ctx context.Context, dedupe string, t ticket.New, note []string) (ticket.Result, error) {
	start := time.Now()
	r, err := tc.next.Create(ctx, dedupe, t, note)
	if err == nil {
		tc.mark(dedupe, start)
	}
	return r, err
}

// CommitBatch marks every commit of a batch at the moment the batch's
// round trip returned.
func (tc *timedCommitter) CommitBatch(ctx context.Context, cs []ticket.Commit) []ticket.CommitResult {
	start := time.Now()
	rs := tc.next.(BatchCommitter).CommitBatch(ctx, cs)
	keys := make([]string, 0, len(rs))
	for i, r := range rs {
		if r.Err == nil {
			keys = append(keys, cs[i].Dedupe)
		}
	}
	tc.markAll(keys, start)
	return rs
}

func (tc *timedCommitter) Reject(ctx context.Context, dedupe string, r ticket.Rejection, note []string) (ticket.Result, error) {
	start := time.Now()
	res, err := tc.next.Reject(ctx, dedupe, r, note)
	if err == nil {
		tc.mark(dedupe, start)
	}
	return res, err
}

// BenchmarkIngestLatency measures how long a mail delivered to an idle
// desk takes to become a ticket (or a rejection): from the moment Dovecot's
// LMTP accepted it to the moment its Redis commit returned. Mails arrive
// one at a time, 20-50 ms apart, like a busy desk, not as a backlog.
//
//	go test ./ingest/ -run XXX -bench IngestLatency -benchtime 1x
func BenchmarkIngestLatency(b *testing.B) {
	m := benchCount(b, "MAILDESK_BENCH_LATENCY_MAILS", 200)
	dc := testserver.Dovecot(b)
	rs := testserver.Redis(b)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	b.Cleanup(func() { rdb.Close() })
	customers, contacts := benchDirectory()
	rng := rand.New(rand.NewPCG(42, 42))

	var lat []time.Duration
	for i := range b.N {
		desk := fmt.Sprintf("idle%d@%s", i, benchDomain)
		deskID := fmt.Sprintf("idle%d", i)
		tc := newTimedCommitter(ticket.NewStore(rdb, ticket.Options{DeskID: deskID, TicketPrefix: "SD", OutboxKey: config.KeyPrefix(deskID) + "outbox"}))
		pipe, log := benchPipeline(tc, customers, desk)
		// The first delivery creates the user's Maildir; the watcher must be
		// able to log in and SELECT INBOX before, which Dovecot allows.
		w := NewWatcher(benchWatcherConfig(dc.IMAPAddr, desk, dc.Password), pipe, log)
		stop := runWatcherLabelled(w)
		for t0 := time.Now(); w.Status().State != "idle"; time.Sleep(5 * time.Millisecond) {
			if time.Since(t0) > time.Minute {
				stop()
				b.Fatalf("watcher not idle after a minute: %+v", w.Status())
			}
		}

		gen := newMailGen(uint64(1000+i), contacts, desk)
		ids := make([]string, m)
		sent := make([]time.Time, m)
		for j := range m {
			raw, id, _ := gen.next()
			dc.Deliver(b, desk, raw)
			ids[j], sent[j] = id, time.Now()
			time.Sleep(time.Duration(20+rng.IntN(31)) * time.Millisecond)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for j, id := range ids {
			for {
				at, ok := tc.committed(id)
				if ok {
					lat = append(lat, at.Sub(sent[j]))
					break
				}
				if time.Now().After(deadline) {
					stop()
					b.Fatalf("mail %d of %d (%s) not committed 2 minutes after the last delivery: status %+v", j+1, m, id, w.Status())
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		stop()
	}
	slices.Sort(lat)
	// Nearest-rank percentiles.
	pct := func(p float64) float64 {
		k := int(p*float64(len(lat))+0.999999) - 1
		return float64(lat[max(0, min(k, len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(lat[0].Microseconds())/1000, "min-ms")
}

// nopCommitter accepts every commit without storing it.
type nopCommitter struct{}

func (nopCommitter) Create(context.Context, string, ticket.New, []string) (ticket.Result, error) {
	return ticket.Result{Number: "SD-1", Created: true, Notified: true}, nil
}

func (nopCommitter) Reject(context.Context, string, ticket.Rejection, []string) (ticket.Result, error) {
	return ticket.Result{Number: "rejected", Created: true}, nil
}

// BenchmarkProcess is maildesk's own CPU work per mail, without IMAP or
// Redis: parse, classify, authorise, detect the language, build the
// commit (against a store that does nothing), for the backlog benchmark's
// mix of mail.
//
//	go test ./ingest/ -run XXX -bench Process -benchmem
func BenchmarkProcess(b *testing.B) {
	customers, contacts := benchDirectory()
	desk := "desk@" + benchDomain
	gen := newMailGen(1, contacts, desk)
	mails := make([][]byte, 1000)
	for i := range mails {
		mails[i], _, _ = gen.next()
	}
	pipe, _ := benchPipeline(nopCommitter{}, customers, desk)
	ctx := context.Background()
	i := 0
	cpu0 := processCPU()
	for b.Loop() {
		if _, err := pipe.Process(ctx, bytes.NewReader(mails[i%len(mails)]), ticket.Source{Mailbox: "INBOX", UID: uint32(i + 1)}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	// CPU time, GC included, rather than wall time: other load on the
	// machine does not count.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/mail")
}
