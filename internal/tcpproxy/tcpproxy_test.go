package tcpproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// A silenced connection: the server sees it closed, the client sees it
// open and silent; other connections, new ones included, pass through.
func TestSilenceDropsTheServerSideAndKeepsTheClientSideOpen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serverSaw := make(chan error, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // echo lines; report how the connection ended
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						serverSaw <- err
						return
					}
					_, _ = c.Write([]byte(line))
				}
			}()
		}
	}()
	p := New(t, ln.Addr().String())
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c, bufio.NewReader(c)
	}
	echo := func(c net.Conn, r *bufio.Reader, line string) error {
		if _, err := c.Write([]byte(line + "\n")); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		got, err := r.ReadString('\n')
		if err == nil && got != line+"\n" {
			t.Fatalf("echo of %q = %q", line, got)
		}
		return err
	}
	sub, subR := dial()
	other, otherR := dial()
	if err := echo(sub, subR, "SUBSCRIBE feed:x"); err != nil {
		t.Fatal(err)
	}
	if err := echo(other, otherR, "GET k"); err != nil {
		t.Fatal(err)
	}
	if n := p.Silence(Contains("SUBSCRIBE", "feed:")); n != 1 {
		t.Fatalf("silenced %d connections, want 1", n)
	}
	select {
	case err := <-serverSaw:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("the server side ended with %v, want EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server side of the silenced connection stayed open")
	}
	// The client writes without error and waits in vain: no reply, no EOF.
	if err := echo(sub, subR, "PING"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("on the silenced connection: %v, want a read timeout", err)
	}
	if err := echo(other, otherR, "GET k"); err != nil {
		t.Fatalf("another connection: %v", err)
	}
	// A new connection that sends the match later is silenced as well.
	late, lateR := dial()
	if err := echo(late, lateR, "PUBLISH feed:y"); err != nil { // one part alone is no match
		t.Fatal(err)
	}
	if err := echo(late, lateR, "GET j"); err != nil {
		t.Fatal(err)
	}
	if err := echo(late, lateR, "SUBSCRIBE feed:y"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a later subscriber: %v, want a read timeout", err)
	}
	// Lifted: new connections pass again; the silenced ones stay silent.
	p.Silence(nil)
	again, againR := dial()
	if err := echo(again, againR, "SUBSCRIBE feed:z"); err != nil {
		t.Fatalf("after lifting: %v", err)
	}
	if err := echo(sub, subR, "PING"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after lifting, the silenced connection: %v, want a read timeout", err)
	}
}
