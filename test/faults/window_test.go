package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// redisProxy sits between the desk (daemon and CLI) and Redis, to put a
// fault at an exact point of the daemon's conversation with Redis: once a
// client write contains every one of the trip strings, the proxy forwards
// that write, holds the next write of any connection, calls onTrip (which
// kills the daemon, or starts an outage), and then closes every connection
// it had: the held write never reaches Redis. During an outage it closes
// new connections at once.
type redisProxy struct {
	ln     net.Listener
	target string

	mu        sync.Mutex
	trip      [][]byte
	onTrip    func()
	state     int // 0 pass, 1 armed, 2 tripped: the next write trips, 3 done
	gen       int // connections of an older generation are dropped
	tripped   string
	conns     []net.Conn
	downUntil time.Time
}

func newRedisProxy(t *testing.T, target string) *redisProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &redisProxy{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		p.closeAll()
		p.mu.Unlock()
	})
	go p.serve()
	return p
}

func (p *redisProxy) addr() string { return p.ln.Addr().String() }

// arm makes the next write containing all of trip (case-insensitively)
// the trigger.
func (p *redisProxy) arm(onTrip func(), trip ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trip, p.onTrip, p.state = nil, onTrip, 1
	for _, s := range trip {
		p.trip = append(p.trip, bytes.ToLower([]byte(s)))
	}
}

// outage makes Redis unreachable through the proxy for d (call it from
// onTrip, which holds the lock).
func (p *redisProxy) outage(d time.Duration) { p.downUntil = time.Now().Add(d) }

func (p *redisProxy) closeAll() {
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *redisProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := time.Now().Before(p.downUntil)
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		gen := p.gen
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(c, s); c.Close() }()
		go p.clientToServer(c, s, gen)
	}
}

func (p *redisProxy) clientToServer(c, s net.Conn, gen int) {
	defer c.Close()
	defer s.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		chunk := buf[:n]
		p.mu.Lock()
		if gen < p.gen {
			p.mu.Unlock()
			return // a connection from before the fault
		}
		switch p.state {
		case 1:
			all := true
			for _, t := range p.trip {
				all = all && bytes.Contains(bytes.ToLower(chunk), t)
			}
			if all {
				p.state = 2
				p.tripped = fmt.Sprintf("%q", chunk)
			}
		case 2:
			// Hold this write; give Redis a moment to execute the one
			// that tripped (already forwarded), then the fault.
			time.Sleep(100 * time.Millisecond)
			p.onTrip()
			p.state, p.gen = 3, p.gen+1
			p.closeAll()
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		if _, err := s.Write(chunk); err != nil {
			return
		}
	}
}

// TestFaultAfterDeliveryRecorded puts a fault at one exact moment: right
// after Redis recorded that the acknowledgement of SD-1 was delivered (the
// SET of md:{desk}:sent:SD-1/ack), before the daemon's next Redis command,
// the first of what a
// delivered notification means for its ticket (Delivery.Delivered in
// cmd/maildesk/daemon.go: RecordSent, MarkAcknowledged). The fault is a
// kill of the daemon, or Redis unreachable for 5 s while the daemon runs
// on. Either way SD-1 must end up acknowledged, and the desk must know the
// acknowledgement's Message-ID, so that a reply naming only it threads.
//
// The kill and outage tests hit this window now and then; here it is hit
// every time.
func TestFaultAfterDeliveryRecorded(t *testing.T) {
	skipShort(t)
	t.Parallel()
	for _, fault := range []string{"daemon killed", "Redis unreachable"} {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			d := newDesk(t, deskOptions{Proxy: true})
			tripped := make(chan struct{})
			onTrip := func() { d.proxy.outage(5 * time.Second); close(tripped) }
			if fault == "daemon killed" {
				onTrip = func() { d.daemon.Kill(); close(tripped) }
			}
			d.proxy.arm(onTrip, "set", "sent:SD-1/ack")
			faultAfterDeliveryRecorded(t, d, fault, tripped)
		})
	}
}

func faultAfterDeliveryRecorded(t *testing.T, d *desk, fault string, tripped chan struct{}) {
	c := &corpus{run: "window"}
	m := testMail{Seq: 1, Kind: kindTicket, From: contacts[0].email, ID: "window1@mail.acme.example"}
	m.Raw = []byte(c.header(m, contacts[0].name, "Printer kapot", nil) + "The printer is broken.\r\n")
	d.dc.DeliverMaildir(t, deskAddr, [][]byte{m.Raw})
	d.start()
	select {
	case <-tripped:
	case <-time.After(30 * time.Second):
		t.Fatalf("the daemon never recorded the delivery of SD-1/ack")
	}
	d.proxy.mu.Lock()
	t.Logf("%s right after Redis got %s", fault, d.proxy.tripped)
	d.proxy.mu.Unlock()
	if fault == "daemon killed" {
		d.start()
	} else {
		time.Sleep(5 * time.Second)
	}
	d.waitQuiet(1, 60*time.Second)
	time.Sleep(3 * time.Second) // a few outbox rounds: whatever is to be redone is redone

	sent := d.sent()
	if len(sent) != 1 || sent[0].ticket != "SD-1" {
		t.Fatalf("sent %d mails, want the one acknowledgement of SD-1", len(sent))
	}
	ackID := sent[0].messageID
	out, err := d.cli("tickets", "show", "SD-1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var shown struct {
		Status         string     `json:"status"`
		AcknowledgedAt *time.Time `json:"acknowledged_at"`
	}
	if err := json.Unmarshal(out, &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Status != "acknowledged" || shown.AcknowledgedAt == nil {
		t.Errorf("BUG: SD-1's acknowledgement was delivered (1 mail to %s, <%s>), but after the fault (%s) the ticket "+
			"has status %q and acknowledged_at %v, want acknowledged: the fault came between recording the delivery "+
			"(which also deletes the outbox entry) and Delivery.Delivered, whose failure is only logged, and nothing "+
			"runs Delivered again", contacts[0].email, ackID, fault, shown.Status, shown.AcknowledgedAt)
	}

	// Jan answers the acknowledgement; his mail program names only the
	// acknowledgement in In-Reply-To and References.
	r := testMail{Seq: 2, From: contacts[0].email, ID: "window2@mail.acme.example"}
	r.Raw = []byte(c.header(r, contacts[0].name, "Re: your request", []string{
		"In-Reply-To: <" + ackID + ">", "References: <" + ackID + ">",
	}) + "It works again, thanks.\r\n")
	d.dc.DeliverMaildir(t, deskAddr, [][]byte{r.Raw})
	d.waitQuiet(2, 60*time.Second)
	if ts := d.tickets(); len(ts) != 1 {
		var ns []string
		for _, tk := range ts {
			ns = append(ns, tk.Number+" <"+tk.MessageID+">")
		}
		t.Errorf("BUG: a reply to SD-1's acknowledgement <%s> made a new ticket (tickets: %v): the acknowledgement's "+
			"Message-ID was never recorded (ticket.Store.RecordSent, in Delivery.Delivered) because of the same fault", ackID, ns)
	}
}
