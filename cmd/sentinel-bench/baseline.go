package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sentinel-gw/sentinel/internal/cpuprofile"
)

// baselineCommand is the hidden subcommand that runs the baseline server.
const baselineCommand = "baseline-server"

// baselineProfileEnv names a file that receives the baseline server's CPU
// profile (the last baseline of the run overwrites the earlier ones).
const baselineProfileEnv = "SENTINEL_BENCH_BASELINE_PROFILE"

// baselineHandler is the server that checks nothing: the same body, the same
// JSON headers, no token, no policy, no store.
func baselineHandler(body []byte) http.Handler {
	contentType, noStore := []string{"application/json"}, []string{"no-store"}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Content-Type"] = contentType
		h["Cache-Control"] = noStore
		_, _ = w.Write(body)
	})
}

// baselineMain serves the body file on a free 127.0.0.1 port, prints the
// URL on stdout and runs until SIGTERM or SIGINT.
func baselineMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(baselineCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	bodyFile := fs.String("body", "", "file holding the response body")
	certFile := fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM; with -tls-key)")
	keyFile := fs.String("tls-key", "", "the certificate's key (PEM)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", baselineCommand, err)
		return 2
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", baselineCommand, err)
		return 1
	}
	// The baseline's profile beside sentinel's (SENTINEL_CPU_PROFILE): what
	// the two spend differently is what sentinel adds.
	stopProfile, err := cpuprofile.Start(os.Getenv(baselineProfileEnv))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s: %v\n", baselineCommand, baselineProfileEnv, err)
		return 1
	}
	defer stopProfile()
	srv := &http.Server{Handler: baselineHandler(body), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	serve := srv.Serve
	scheme := "http"
	if *certFile != "" {
		// ServeTLS, as the broker does: TLS 1.2 and later, HTTP/2 offered.
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		serve = func(ln net.Listener) error { return srv.ServeTLS(ln, *certFile, *keyFile) }
		scheme = "https"
	}
	fmt.Fprintf(stdout, "%s://%s/creds/baseline\n", scheme, ln.Addr())
	if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "%s: %v\n", baselineCommand, err)
		return 1
	}
	return 0
}

// baselineProc is the baseline server running as a separate process.
type baselineProc struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
}

// startBaseline re-executes this binary as the baseline server.
func startBaseline(ctx context.Context, self, dir string, body []byte, extra ...string) (*baselineProc, error) {
	bodyFile := filepath.Join(dir, "baseline-body.json")
	if err := os.WriteFile(bodyFile, body, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{baselineCommand, "-body", bodyFile}, extra...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the baseline server: %w", err)
	}
	p := &baselineProc{cmd: cmd, exited: make(chan struct{})}
	urlLine := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		urlLine <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.url = <-urlLine:
	case <-time.After(startTimeout):
		p.stop()
		return nil, errors.New("the baseline server printed no URL")
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
	if !strings.HasPrefix(p.url, "http://") && !strings.HasPrefix(p.url, "https://") {
		p.stop()
		return nil, fmt.Errorf("the baseline server failed to start (printed %q)", p.url)
	}
	return p, nil
}

func (p *baselineProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}
