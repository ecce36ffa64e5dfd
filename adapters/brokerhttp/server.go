package brokerhttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Timeouts of the listener, as the local credential server's.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	readTimeout              = 30 * time.Second
	// writeTimeout leaves room for an STS AssumeRole inside the service.
	writeTimeout = 60 * time.Second
	idleTimeout  = 90 * time.Second
	// maxHeaderBytes holds a proof of MaxProofLength with room to spare.
	maxHeaderBytes = MaxProofLength + 16<<10
)

// ServerConfig configures Start.
type ServerConfig struct {
	// Listen is host:port; port 0 picks a free one.
	Listen string
	// TLSCert and TLSKey are PEM files; both or neither. Without them the
	// listener is plain HTTP, which Start refuses unless AllowPlainLoopback
	// is set and Listen is a loopback address.
	TLSCert, TLSKey    string
	AllowPlainLoopback bool
	// Handler serves every request (NewHandler, possibly wrapped).
	Handler http.Handler
	// Logger receives the listener's events. Nil discards.
	Logger *slog.Logger
	// ReadHeaderTimeout cuts off slow clients; zero is DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration
	// ConnState, when set, is told of every connection's state changes
	// (http.Server.ConnState), e.g. for a gauge of open connections.
	ConnState func(net.Conn, http.ConnState)
}

// Server is a running broker listener.
type Server struct {
	srv  *http.Server
	url  string
	log  *slog.Logger
	done chan struct{}
}

// Start binds cfg.Listen and serves until Shutdown.
func Start(cfg ServerConfig) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("brokerhttp: Handler is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tlsConfig, err := serverTLS(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("brokerhttp: listen on %s: %w", cfg.Listen, err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	scheme := "https"
	if tlsConfig == nil {
		// Checked before binding by name, and again on the bound address.
		if !addr.IP.IsLoopback() {
			_ = ln.Close()
			return nil, plainRefused(cfg.Listen)
		}
		scheme = "http"
		log.Warn("THE BROKER IS SERVING PLAIN HTTP (no --tls-cert/--tls-key): for tests and local trials only; callers' proofs and credentials cross the wire unencrypted",
			slog.String("addr", addr.String()))
	}
	readHeaderTimeout := cfg.ReadHeaderTimeout
	if readHeaderTimeout <= 0 {
		readHeaderTimeout = DefaultReadHeaderTimeout
	}
	s := &Server{
		srv: &http.Server{
			Handler:           cfg.Handler,
			TLSConfig:         tlsConfig,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       max(readTimeout, readHeaderTimeout),
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ConnState:         cfg.ConnState,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
		url:  scheme + "://" + addr.String(),
		log:  log,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		serve := s.srv.Serve
		if tlsConfig != nil {
			// ServeTLS, unlike Serve on a TLS listener, also offers HTTP/2.
			serve = func(ln net.Listener) error { return s.srv.ServeTLS(ln, "", "") }
		}
		if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("broker listener stopped", slog.String("error", err.Error()))
		}
	}()
	log.Info("broker listening", slog.String("url", s.url))
	return s, nil
}

// serverTLS loads the key pair (TLS 1.2 and later), or returns nil for a
// plain listener after checking that one is allowed on cfg.Listen.
func serverTLS(cfg ServerConfig) (*tls.Config, error) {
	switch {
	case cfg.TLSCert != "" && cfg.TLSKey != "":
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("brokerhttp: load --tls-cert %s and --tls-key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	case cfg.TLSCert != "" || cfg.TLSKey != "":
		return nil, errors.New("brokerhttp: pass both --tls-cert and --tls-key, or neither")
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("brokerhttp: listen address %q: %w", cfg.Listen, err)
	}
	if !cfg.AllowPlainLoopback || !isLoopbackName(host) {
		return nil, plainRefused(cfg.Listen)
	}
	return nil, nil
}

func plainRefused(listen string) error {
	return fmt.Errorf("brokerhttp: refusing plain HTTP on %s: callers send proofs of identity and receive credentials; "+
		"pass --tls-cert and --tls-key (plain HTTP is allowed only on a loopback address such as 127.0.0.1, for tests)", listen)
}

// URL is the broker's base URL: https://HOST:PORT (http:// on loopback).
func (s *Server) URL() string { return s.url }

// Shutdown stops accepting, lets in-flight requests finish until ctx ends
// (then closes them), and returns once the listener's goroutine has exited.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	s.log.Info("broker listener closed")
	return err
}
