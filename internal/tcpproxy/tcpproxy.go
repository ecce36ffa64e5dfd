// Package tcpproxy is a loopback TCP proxy for tests that need a connection
// to fail the way a network does: one side gone while the other still looks
// open. Silence(match) drops the server side of every connection whose
// client has sent bytes that match, and keeps the client side open,
// swallowing what it sends: the server (Redis, say) sees a closed
// connection, the client sees a silent one and notices nothing until a
// reply it waits for does not come.
package tcpproxy

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards connections on a loopback port to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  map[*conn]struct{}
	match  Match // silence connections whose client's bytes match; nil: none
	closed bool
	wg     sync.WaitGroup
}

type conn struct {
	client, server net.Conn
	mu             sync.Mutex
	seen           []byte // what the client sent, up to seenMax
	silenced       bool
}

// seenMax bounds what a connection remembers of its client's bytes.
const seenMax = 64 << 10

// New starts a proxy to target that stops when t ends.
func New(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("tcpproxy: listen: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[*conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Match tells from what a client has sent so far (its first 64 KiB)
// whether its connection is to be silenced.
type Match func(sent []byte) bool

// Contains matches a client that has sent every one of parts.
func Contains(parts ...string) Match {
	return func(sent []byte) bool {
		for _, part := range parts {
			if !bytes.Contains(sent, []byte(part)) {
				return false
			}
		}
		return true
	}
}

// Silence drops, from now on, the server side of every connection whose
// client's bytes match (now or later), keeping the client side open and
// silent. It returns how many connections it silenced at once. A nil match
// lets new connections through again (silenced ones stay silent).
func (p *Proxy) Silence(match Match) int {
	p.mu.Lock()
	p.match = match
	if match == nil {
		p.mu.Unlock()
		return 0
	}
	conns := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	n := 0
	for _, c := range conns {
		if c.silenceIf(match) {
			n++
		}
	}
	return n
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		c := &conn{client: client, server: server}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = client.Close()
			_ = server.Close()
			return
		}
		p.conns[c] = struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.up(c)
		go p.down(c)
	}
}

// up copies client to server, unless silenced: then it swallows.
func (p *Proxy) up(c *conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			p.mu.Lock()
			match := p.match
			p.mu.Unlock()
			c.mu.Lock()
			if len(c.seen) < seenMax {
				c.seen = append(c.seen, buf[:n]...)
			}
			c.mu.Unlock()
			if match != nil {
				c.silenceIf(match)
			}
			c.mu.Lock()
			silenced := c.silenced
			c.mu.Unlock()
			if !silenced {
				if _, werr := c.server.Write(buf[:n]); werr != nil && !silencedNow(c) {
					p.drop(c)
					return
				}
			}
		}
		if err != nil {
			p.drop(c)
			return
		}
	}
}

// down copies server to client; a silenced connection's server side is
// gone, and its client side stays open.
func (p *Proxy) down(c *conn) {
	defer p.wg.Done()
	_, _ = io.Copy(c.client, c.server)
	if !silencedNow(c) {
		p.drop(c)
	}
}

func silencedNow(c *conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.silenced
}

// silenceIf silences c when its client's bytes match; true when it did now.
func (c *conn) silenceIf(match Match) bool {
	c.mu.Lock()
	if c.silenced || !match(c.seen) {
		c.mu.Unlock()
		return false
	}
	c.silenced = true
	c.mu.Unlock()
	_ = c.server.Close()
	return true
}

// drop closes both sides of c.
func (p *Proxy) drop(c *conn) {
	_ = c.client.Close()
	_ = c.server.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	conns := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	_ = p.ln.Close()
	for _, c := range conns {
		p.drop(c)
	}
	p.wg.Wait()
}
