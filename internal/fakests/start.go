package fakests

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
)

// Start is New for a program that is not a test (the load bench): it
// starts the same strict fake STS on 127.0.0.1 and returns it, or the error
// of listening. The caller stops it with Close.
func Start(opts ...Option) (*Server, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakests: listen on 127.0.0.1: %w", err)
	}
	s := newServer(opts)
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	_ = s.srv.Listener.Close()
	s.srv.Listener = ln
	s.srv.Start()
	return s, nil
}
