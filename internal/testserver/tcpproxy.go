package testserver

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
)

// TCPProxy forwards connections to a server and misbehaves on request, as
// a network or a server can: it freezes (a stopped server: nothing is read
// or forwarded, new connections are accepted and never answered), it
// blackholes (a dropped route: everything sent is read and lost, nothing
// comes back), it cuts a connection in the middle of what the server sends,
// and it lets a test act between a client's command and the server seeing
// it.
type TCPProxy struct {
	Addr   string
	target string
	ln     net.Listener

	mu   sync.Mutex
	cond *sync.Cond
	mode proxyMode
	// conns are the open connections (both ends); swallowed the ones
	// accepted while not passing, never connected to the server.
	conns     map[net.Conn]bool
	swallowed map[net.Conn]bool
	onClient  func(chunk []byte)
	cut       []byte
	cutAfter  int
}

type proxyMode int

const (
	proxyPass proxyMode = iota
	proxyFrozen
	proxyBlackhole
)

// NewTCPProxy listens on a loopback port and forwards to target until the
// test ends.
func NewTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: tcp proxy: %v", err)
	}
	p := &TCPProxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]bool{}, swallowed: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// Close stops the proxy and closes every connection.
func (p *TCPProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.mode = proxyPass
	p.cond.Broadcast()
}

// Freeze stops all forwarding, as a stopped (SIGSTOP) server: the open
// connections stay open and silent, what is sent waits unread, and new
// connections are accepted and never answered.
func (p *TCPProxy) Freeze() { p.setMode(proxyFrozen) }

// Blackhole drops everything, as a route that loses every packet: what
// clients send is read and thrown away, nothing reaches them, and new
// connections are accepted and never answered.
func (p *TCPProxy) Blackhole() { p.setMode(proxyBlackhole) }

// Restore forwards again. Frozen connections go on where they stopped;
// blackholed ones, and those accepted while not forwarding, are closed
// (their data is lost; a client gives them up anyway).
func (p *TCPProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == proxyBlackhole {
		for c := range p.conns {
			c.Close()
		}
	}
	for c := range p.swallowed {
		c.Close()
	}
	p.mode = proxyPass
	p.cond.Broadcast()
}

// OnClient calls f with every chunk a client sends, before the server gets
// it; the server gets it when f returns. nil removes the hook.
func (p *TCPProxy) OnClient(f func(chunk []byte)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onClient = f
}

// CutServer makes the proxy, once the server sends marker to a client,
// forward n more bytes and then close that connection (both ends). It
// happens once.
func (p *TCPProxy) CutServer(marker []byte, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut, p.cutAfter = bytes.Clone(marker), n
}

func (p *TCPProxy) setMode(m proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	p.cond.Broadcast()
}

func (p *TCPProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.conns[c] = true
		if mode != proxyPass {
			p.swallowed[c] = true
		}
		p.mu.Unlock()
		if mode != proxyPass {
			if mode == proxyBlackhole {
				go func() { _, _ = io.Copy(io.Discard, c) }()
			}
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[s] = true
		p.mu.Unlock()
		go p.forward(c, s, true)
		go p.forward(s, c, false)
	}
}

// wait blocks while the proxy is frozen and reports whether it drops data.
func (p *TCPProxy) wait() (blackhole bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.mode == proxyFrozen {
		p.cond.Wait()
	}
	return p.mode == proxyBlackhole
}

func (p *TCPProxy) forward(from, to net.Conn, fromClient bool) {
	defer func() {
		from.Close()
		to.Close()
		p.mu.Lock()
		delete(p.conns, from)
		delete(p.conns, to)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	var seen []byte // the tail of what the server sent, for the marker
	left := -1      // bytes to forward before the cut; -1: no cut pending
	for {
		p.wait()
		n, err := from.Read(buf)
		if err != nil {
			return
		}
		chunk := buf[:n]
		if p.wait() {
			continue
		}
		p.mu.Lock()
		hook := p.onClient
		cut, after := p.cut, p.cutAfter
		p.mu.Unlock()
		if fromClient && hook != nil {
			hook(chunk)
		}
		if !fromClient && cut != nil && left < 0 {
			seen = append(seen, chunk...)
			if i := bytes.Index(seen, cut); i >= 0 {
				p.mu.Lock()
				p.cut = nil
				p.mu.Unlock()
				// From the start of this chunk to the marker's end, and n more.
				left = i + len(cut) + after - (len(seen) - len(chunk))
			} else if len(seen) > len(cut) {
				seen = seen[len(seen)-len(cut):]
			}
		}
		if left >= 0 {
			k := min(left, len(chunk))
			_, _ = to.Write(chunk[:k])
			if left -= k; left == 0 {
				return
			}
			continue
		}
		if _, err := to.Write(chunk); err != nil {
			return
		}
	}
}
