//go:build linux

package ingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
)

// These benchmarks run the daemon itself, cmd/maildesk built into a binary
// and started as its own process with a config file, against Dovecot,
// redis-server and an SMTP server in this process: what a deployment runs,
// with every part wired (directory, SLA clock, outbox sending every second,
// metrics, JSON log to a file). They measure its peak memory (the kernel's
// high-water mark of its resident set), its rate on a backlog and the delay
// from delivery to the acknowledgement arriving at the SMTP server.
//
//	go test ./ingest/ -run XXX -bench Daemon -benchtime 1x
//
// MAILDESK_BIN names a binary to use instead of building one.

var (
	// runSeq keeps users and desks apart when a benchmark function runs
	// more than once on the same servers (-count, sub-benchmarks).
	runSeq        atomic.Int64
	daemonBinOnce sync.Once
	daemonBin     string
	daemonBinErr  error
)

// buildDaemon builds cmd/maildesk once per test binary.
func buildDaemon(b *testing.B) string {
	b.Helper()
	if bin := os.Getenv("MAILDESK_BIN"); bin != "" {
		return bin
	}
	daemonBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "maildesk-bench-bin")
		if err != nil {
			daemonBinErr = err
			return
		}
		daemonBin = filepath.Join(dir, "maildesk")
		out, err := exec.Command("go", "build", "-o", daemonBin, "github.com/maildesk/maildesk/cmd/maildesk").CombinedOutput()
		if err != nil {
			daemonBinErr = fmt.Errorf("go build ./cmd/maildesk: %v\n%s", err, out)
		}
	})
	if daemonBinErr != nil {
		b.Fatal(daemonBinErr)
	}
	return daemonBin
}

// daemonProc is one running maildesk.
type daemonProc struct {
	cmd   *exec.Cmd
	log   string
	start time.Time
	done  chan struct{}
}

// startDaemon writes a desk's config for user's mailbox and starts maildesk
// with it. extra is appended to the config (YAML); an extra holding an
// oauth2 section signs in to IMAP with OAuth2 instead of the password.
func startDaemon(b *testing.B, dc *testserver.DovecotServer, rs *testserver.RedisServer, smtpAddr, deskID, user string,
	customers []config.Customer, extra string) *daemonProc {
	b.Helper()
	imapAuth := "password_file: imap-password"
	if strings.Contains(extra, "oauth2:") {
		imapAuth = "auth: oauth2"
	}
	bin := buildDaemon(b)
	dir := b.TempDir()
	var contacts strings.Builder
	contacts.WriteString("customers:\n")
	for _, c := range customers {
		fmt.Fprintf(&contacts, "  - id: %s\n    name: %s\n    plan: standard\n    contacts:\n", c.ID, c.Name)
		for _, p := range c.Contacts {
			fmt.Fprintf(&contacts, "      - {email: %s, name: %q, main: %v, language: %s}\n", p.Email, p.Name, p.Main, p.Language)
		}
	}
	cfg := fmt.Sprintf(`desk:
  id: %s
  name: Bench Servicedesk
  address: %s
  ticket_prefix: SD
  timezone: Europe/Amsterdam
  language: en
redis:
  url: %s
imap:
  address: %s
  security: none
  username: %s
  %s
  command_timeout: 60s
smtp:
  address: %s
  security: none
http:
  listen: ""
log:
  level: info
  format: json
contacts_file: contacts.yaml
%s`, deskID, user, rs.URL, dc.IMAPAddr, user, imapAuth, smtpAddr, extra)
	for name, content := range map[string]string{"maildesk.yaml": cfg, "contacts.yaml": contacts.String(), "imap-password": dc.Password + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	logPath := filepath.Join(dir, "maildesk.log")
	logf, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	d := &daemonProc{log: logPath, done: make(chan struct{})}
	d.cmd = exec.Command(bin, "run", "--config", filepath.Join(dir, "maildesk.yaml"))
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.start = time.Now()
	if err := d.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); logf.Close(); close(d.done) }()
	b.Cleanup(func() { d.stop(b) })
	return d
}

// stop ends the daemon with SIGTERM and returns its peak resident set in
// bytes until then: VmHWM, the kernel's high-water mark of the process's
// resident set. (getrusage's ru_maxrss of a child is no use here: Linux
// folds in the high-water mark of the memory the child had before exec,
// which is this benchmark's, some 100 MB after making large mails.)
func (d *daemonProc) stop(b *testing.B) int64 {
	var hwm int64
	select {
	case <-d.done:
	default:
		hwm = d.status("VmHWM")
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
			b.Errorf("maildesk did not stop within 30s of SIGTERM")
		}
	}
	return hwm
}

// cpu is the daemon's user and system CPU time so far.
func (d *daemonProc) cpu() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name in parentheses; utime and stime are the
	// 14th and 15th of the line, in clock ticks (100 per second on Linux).
	_, rest, _ := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// status returns a value of /proc/PID/status in bytes ("VmRSS", "VmHWM").
func (d *daemonProc) status(key string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// waitLog waits until the daemon's log has a line containing s.
func (d *daemonProc) waitLog(b *testing.B, s string, timeout time.Duration) {
	b.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		data, _ := os.ReadFile(d.log)
		if bytes.Contains(data, []byte(s)) {
			return
		}
		select {
		case <-d.done:
			b.Fatalf("maildesk exited: %v\n%s", d.cmd.ProcessState, tail(data))
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("no %q in maildesk's log after %s\n%s", s, timeout, tail(data))
		}
	}
}

func tail(data []byte) string {
	if len(data) > 3000 {
		data = data[len(data)-3000:]
	}
	return string(data)
}

// waitCounts waits until the mailboxes hold the counts in want.
func (d *daemonProc) waitCounts(b *testing.B, dc *testserver.DovecotServer, user string, want map[string]uint32, timeout time.Duration) {
	b.Helper()
	boxes := slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	})
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		got, err := mailboxCounts(dc.IMAPAddr, user, dc.Password, boxes...)
		if err == nil && func() bool {
			for k, v := range want {
				if got[k] != v {
					return false
				}
			}
			return true
		}() {
			return
		}
		exited := false
		select {
		case <-d.done:
			exited = true
		default:
		}
		if exited || time.Now().After(deadline) {
			data, _ := os.ReadFile(d.log)
			b.Fatalf("maildesk exited: %v; mailboxes %v (%v) after %s, want %v; log:\n%s", exited, got, err, timeout, want, tail(data))
		}
	}
}

// bigMail is a mail of about size bytes from a contact: a short text and
// either one base64 attachment (attachment) or a text body making up the
// rest.
func bigMail(from, desk, id string, size int, attachment bool) []byte {
	var h bytes.Buffer
	fmt.Fprintf(&h, "From: %s\r\nTo: %s\r\nSubject: Logs of the crash\r\nMessage-ID: <%s>\r\nDate: %s\r\nMIME-Version: 1.0\r\n",
		from, desk, id, time.Now().Format(time.RFC1123Z))
	if !attachment {
		h.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\nHello, the log is below.\r\n\r\n")
		line := []byte("2026-11-21T10:00:00Z app[1234]: request failed: upstream timeout after 30s, retrying\r\n")
		for h.Len()+len(line) < size {
			h.Write(line)
		}
		return h.Bytes()
	}
	h.WriteString("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Hello, the crash dump is attached.\r\n--b1\r\nContent-Type: application/octet-stream; name=\"dump.bin\"\r\n" +
		"Content-Disposition: attachment; filename=\"dump.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	raw := make([]byte, 57*1024)
	for h.Len() < size-200 {
		_, _ = rand.Read(raw)
		enc := base64.StdEncoding.EncodeToString(raw)
		for len(enc) > 0 && h.Len() < size-200 {
			n := min(76, len(enc))
			h.WriteString(enc[:n] + "\r\n")
			enc = enc[n:]
		}
	}
	h.WriteString("--b1--\r\n")
	return h.Bytes()
}

// BenchmarkDaemonMemory measures the daemon's peak resident set while it
// handles one large mail (delivered over LMTP to the idle daemon, which
// takes it from IDLE), and the resident set it had when idle before. Under
// the 25 MB limit (imap.max_message_size's default) the mail is parsed,
// streamed off the socket, and becomes a ticket; over it, it is quarantined
// after reading its head.
func BenchmarkDaemonMemory(b *testing.B) {
	dc := testserver.Dovecot(b)
	rs := testserver.Redis(b)
	smtp := testserver.SMTP(b)
	customers, contacts := benchDirectory()
	for _, tc := range []struct {
		name       string
		size       int
		attachment bool
		box        string
	}{
		{"mail=25MB-attachment", 24_900_000, true, "Processed"},
		{"mail=25MB-text", 24_900_000, false, "Processed"},
		{"mail=30MB-over-limit", 30_000_000, true, "Quarantine"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var peak, idle, hwmBefore int64
			for i := range b.N {
				run := runSeq.Add(1)
				user := fmt.Sprintf("mem%d-%s@%s", run, strings.ToLower(strings.Split(tc.name, "=")[1]), benchDomain)
				raw := bigMail(contacts[0].Email, user, fmt.Sprintf("big%d.%d@acme.example", i, time.Now().UnixNano()), tc.size, tc.attachment)
				// Deliver a first small mail so that the user exists.
				dc.Deliver(b, user, testMail(contacts[0].Email, "first", fmt.Sprintf("first%d.%d@acme.example", i, time.Now().UnixNano())))
				d := startDaemon(b, dc, rs, smtp.Addr, fmt.Sprintf("mem%d-%s", run, strings.ToLower(strings.Split(tc.name, "=")[1])), user, customers, "")
				d.waitCounts(b, dc, user, map[string]uint32{"INBOX": 0, "Processed": 1}, time.Minute)
				d.waitLog(b, `"msg":"imap connected"`, time.Minute)
				time.Sleep(2 * time.Second) // settle: the first outbox and directory jobs ran
				idle, hwmBefore = d.status("VmRSS"), d.status("VmHWM")
				dc.Deliver(b, user, raw)
				want := map[string]uint32{"INBOX": 0, "Processed": 1, "Quarantine": 0}
				want[tc.box]++
				d.waitCounts(b, dc, user, want, 2*time.Minute)
				peak = max(peak, d.stop(b))
			}
			b.ReportMetric(float64(peak)/1e6, "peak-rss-MB")
			b.ReportMetric(float64(idle)/1e6, "idle-rss-MB")
			b.ReportMetric(float64(hwmBefore)/1e6, "peak-before-mail-MB")
			b.ReportMetric(float64(tc.size)/1e6, "mail-MB")
		})
	}
}

// BenchmarkDaemonBacklog starts the daemon on a backlog (default 10,000
// mails of the ingest benchmark's mix, MAILDESK_BENCH_MAILS) and measures
// how fast it drains it, from process start to the mailbox being empty,
// and its peak resident set. The outbox sends acknowledgements meanwhile,
// within the default desk limit of 1,000 an hour. It runs once signing in
// with a password and once with OAuth2 (client credentials from an
// authorization server in this process, checked by Dovecot's oauth2
// passdb), and reports the time from process start to the first fetch.
func BenchmarkDaemonBacklog(b *testing.B) {
	for _, signIn := range []string{"password", "oauth2"} {
		b.Run("signin="+signIn, func(b *testing.B) { benchDaemonBacklog(b, signIn == "oauth2") })
	}
}

func benchDaemonBacklog(b *testing.B, oauth bool) {
	n := benchCount(b, "MAILDESK_BENCH_MAILS", 10000)
	var as *testserver.OAuthServer
	var dc *testserver.DovecotServer
	if oauth {
		as = testserver.NewOAuthServer(b)
		dc = testserver.DovecotWith(b, testserver.DovecotOptions{OAuth: as})
	} else {
		dc = testserver.Dovecot(b)
	}
	rs := testserver.Redis(b)
	smtp := testserver.SMTP(b)
	customers, contacts := benchDirectory()
	var elapsed, cpu, toFetch time.Duration
	var peak int64
	for i := range b.N {
		run := runSeq.Add(1)
		user := fmt.Sprintf("dbacklog%d@%s", run, benchDomain)
		gen := newMailGen(uint64(100+i), contacts, user)
		mails := make([][]byte, n)
		authorised := 0
		for j := range mails {
			var ok bool
			if mails[j], _, ok = gen.next(); ok {
				authorised++
			}
		}
		dc.DeliverMaildir(b, user, mails)
		if got, err := indexMailbox(dc.IMAPAddr, user, dc.Password, "INBOX"); err != nil || got != uint32(n) {
			b.Fatalf("fill mailbox: %d of %d mails: %v", got, n, err)
		}
		extra := ""
		if oauth {
			secret := filepath.Join(b.TempDir(), "client-secret")
			if err := os.WriteFile(secret, []byte("bench-secret\n"), 0o600); err != nil {
				b.Fatal(err)
			}
			as.AddClient("bench"+strconv.FormatInt(run, 10), "bench-secret", user)
			extra = fmt.Sprintf("oauth2:\n  provider: microsoft\n  tenant: bench\n  grant: client_credentials\n  client_id: bench%d\n  client_secret_file: %s\n  token_url: %s\n",
				run, secret, as.TokenURL)
		}
		syscall.Sync()
		d := startDaemon(b, dc, rs, smtp.Addr, fmt.Sprintf("dbacklog%d", run), user, customers, extra)
		d.waitCounts(b, dc, user, map[string]uint32{"INBOX": 0, "Processed": uint32(authorised), "Rejected": uint32(n - authorised)}, benchTimeout)
		elapsed += time.Since(d.start)
		cpu += d.cpu()
		toFetch += d.logged(b, "imap connected").Sub(d.start)
		peak = max(peak, d.stop(b))
	}
	total := float64(n * b.N)
	b.ReportMetric(total/elapsed.Seconds(), "daemon-mails/s")
	b.ReportMetric(float64(cpu.Microseconds())/total, "daemon-cpu-us/mail")
	b.ReportMetric(float64(peak)/1e6, "peak-rss-MB")
	b.ReportMetric(float64(toFetch.Microseconds())/1000/float64(b.N), "start-to-fetch-ms")
}

// logged returns the time of the first line of the daemon's JSON log whose
// message is msg.
func (d *daemonProc) logged(b *testing.B, msg string) time.Time {
	b.Helper()
	data, err := os.ReadFile(d.log)
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		var rec struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == msg {
			return rec.Time
		}
	}
	b.Fatalf("no %q in maildesk's log\n%s", msg, tail(data))
	return time.Time{}
}

var inReplyTo = regexp.MustCompile(`(?mi)^In-Reply-To:\s*<([^>]+)>`)

// BenchmarkDaemonLatency delivers mails over LMTP to the idle daemon one at
// a time, 20-50 ms apart, all from contacts (each is acknowledged), and
// measures for each the delay from the return of the delivery to its
// ticket being in Redis (polled every 2 ms) and to its acknowledgement
// arriving at the SMTP server (which includes however the daemon schedules
// its outbox: a drain every second, and one asked for by each commit that
// queued an acknowledgement). The desk's recipient and desk limits are
// raised for the run so that no acknowledgement waits for a rate limit.
func BenchmarkDaemonLatency(b *testing.B) {
	m := benchCount(b, "MAILDESK_BENCH_LATENCY_MAILS", 200)
	dc := testserver.Dovecot(b)
	rs := testserver.Redis(b)
	smtp := testserver.SMTP(b)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	b.Cleanup(func() { rdb.Close() })
	customers, contacts := benchDirectory()
	rng := newMailGen(99, contacts, "x").rng
	var toTicket, toAck []time.Duration
	for i := range b.N {
		run := runSeq.Add(1)
		user := fmt.Sprintf("dlat%d@%s", run, benchDomain)
		deskID := fmt.Sprintf("dlat%d", run)
		before := len(smtp.Messages())
		// The user's mailbox exists before the daemon logs in.
		dc.Deliver(b, user, testMail(contacts[0].Email, "first", fmt.Sprintf("lat-first%d.%d@acme.example", i, time.Now().UnixNano())))
		d := startDaemon(b, dc, rs, smtp.Addr, deskID, user, customers,
			"outbox:\n  recipient_limits: [{max: 100000, per: 1h}]\n  desk_limits: [{max: 100000, per: 1h}]\n")
		d.waitCounts(b, dc, user, map[string]uint32{"INBOX": 0, "Processed": 1}, time.Minute)
		d.waitLog(b, `"msg":"imap connected"`, time.Minute)
		// Wait for the first mail's acknowledgement: the outbox is set up.
		base := len(smtp.WaitFor(b, before+1, time.Minute))

		var mu sync.Mutex
		sent := map[string]time.Time{}
		ticketAt, ackAt := map[string]time.Time{}, map[string]time.Time{}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		// Acknowledgements as they arrive.
		wg.Go(func() {
			for seen := base; ctx.Err() == nil; {
				msgs := smtp.Messages()
				now := time.Now()
				for _, msg := range msgs[seen:] {
					if id := inReplyTo.FindSubmatch(msg.Data); id != nil {
						mu.Lock()
						ackAt[string(id[1])] = now
						mu.Unlock()
					}
				}
				seen = len(msgs)
				time.Sleep(time.Millisecond)
			}
		})
		// Tickets as they are committed.
		seenKey := config.KeyPrefix(deskID) + "seen"
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				var ids []string
				for id := range sent {
					if _, ok := ticketAt[id]; !ok {
						ids = append(ids, id)
					}
				}
				mu.Unlock()
				if len(ids) > 0 {
					vals, err := rdb.HMGet(ctx, seenKey, ids...).Result()
					now := time.Now()
					if err == nil {
						mu.Lock()
						for j, v := range vals {
							if v != nil {
								ticketAt[ids[j]] = now
							}
						}
						mu.Unlock()
					}
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
		gen := newMailGen(uint64(2000+i), contacts, user)
		var ids []string
		for len(ids) < m {
			raw, id, authorised := gen.next()
			if !authorised {
				continue
			}
			dc.Deliver(b, user, raw)
			mu.Lock()
			sent[id] = time.Now()
			mu.Unlock()
			ids = append(ids, id)
			time.Sleep(time.Duration(20+rng.IntN(31)) * time.Millisecond)
		}
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			done := len(ackAt) >= len(ids) && len(ticketAt) >= len(ids)
			mu.Unlock()
			if done {
				break
			}
			if time.Now().After(deadline) {
				cancel()
				wg.Wait()
				b.Fatalf("after 2 minutes %d tickets and %d acknowledgements of %d mails", len(ticketAt), len(ackAt), len(ids))
			}
		}
		cancel()
		wg.Wait()
		for _, id := range ids {
			toTicket = append(toTicket, ticketAt[id].Sub(sent[id]))
			toAck = append(toAck, ackAt[id].Sub(sent[id]))
		}
		d.stop(b)
	}
	for _, s := range []struct {
		name string
		lat  []time.Duration
	}{{"ticket", toTicket}, {"ack", toAck}} {
		slices.Sort(s.lat)
		pct := func(p float64) float64 {
			k := int(p*float64(len(s.lat))+0.999999) - 1
			return float64(s.lat[max(0, min(k, len(s.lat)-1))].Microseconds()) / 1000
		}
		b.ReportMetric(pct(0.50), s.name+"-p50-ms")
		b.ReportMetric(pct(0.99), s.name+"-p99-ms")
		b.ReportMetric(float64(s.lat[len(s.lat)-1].Microseconds())/1000, s.name+"-max-ms")
	}
}
