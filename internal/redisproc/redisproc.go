// Package redisproc starts real redis-server processes on loopback for
// tests that a container cannot serve: a server with a TLS port, a
// certificate the test made and an ACL user (StartTLS), and a Redis Cluster
// of three masters (StartCluster). Each process runs in a temp folder of
// its own and is stopped when the test ends. Without redis-server (and,
// for a cluster, redis-cli) the test fails under CI and skips elsewhere;
// scripts/provision.sh installs both.
package redisproc

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/internal/testca"
	"github.com/sentinel-gw/sentinel/internal/testenv"
)

// Bounds, generous for a loaded 2-core machine.
const (
	readyTimeout = 20 * time.Second
	stopTimeout  = 10 * time.Second
	pollEvery    = 20 * time.Millisecond
	// startAttempts: a free port picked here can be taken before
	// redis-server binds it; it is then started again on others.
	startAttempts = 3
)

// TLSServer is a redis-server that speaks only TLS.
type TLSServer struct {
	// Addr is 127.0.0.1:PORT, the TLS port.
	Addr string
	// CA signed the server's certificate (SAN IP:127.0.0.1); CAFile holds it.
	CA     *testca.CA
	CAFile string
	// User and Password are an ACL user allowed only keys and channels
	// under the hash tags "{tls-*}" (store prefixes "tls-..."), and no
	// @dangerous command but CONFIG GET; the default user is off, so
	// nothing gets in without them.
	User, Password string
	// ClientCertFile and ClientKeyFile are a client certificate the CA
	// signed, for a server started with ClientCerts.
	ClientCertFile, ClientKeyFile string

	client testca.Leaf
}

// TLSOptions shape StartTLS's server.
type TLSOptions struct {
	// ClientCerts makes the server refuse clients without a certificate
	// its CA signed (--tls-auth-clients yes); otherwise it asks for none.
	ClientCerts bool
}

// StorePrefix is a prefix whose keys the TLS server's ACL user may touch.
func (s *TLSServer) StorePrefix(name string) string { return "tls-" + name }

// StartTLS starts a redis-server with --port 0 and a TLS port on loopback,
// and waits until it answers PING over TLS as the ACL user.
func StartTLS(t testing.TB, opts TLSOptions) *TLSServer {
	t.Helper()
	bin := need(t, "redis-server")
	dir := t.TempDir()
	ca := testca.New(t, "sentinel test redis CA")
	server := ca.Server(t, "127.0.0.1")
	client := ca.Client(t, "sentinel")
	s := &TLSServer{
		CA: ca, CAFile: testca.WriteFile(t, dir, "ca.pem", ca.PEM),
		User: "sentinel", Password: "pw-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		ClientCertFile: testca.WriteFile(t, dir, "client.pem", client.CertPEM),
		ClientKeyFile:  testca.WriteFile(t, dir, "client-key.pem", client.KeyPEM),
		client:         client,
	}
	certFile := testca.WriteFile(t, dir, "server.pem", server.CertPEM)
	keyFile := testca.WriteFile(t, dir, "server-key.pem", server.KeyPEM)
	authClients := "no"
	if opts.ClientCerts {
		authClients = "yes"
	}
	var errs []error
	for range startAttempts {
		port := freePort(t)
		args := append(baseArgs(dir),
			"--port", "0", "--tls-port", strconv.Itoa(port),
			"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", s.CAFile,
			"--tls-auth-clients", authClients,
			// The ACL docs/stores.md recommends: the store's keys and
			// channels ("{tls-...}"), no @dangerous command but CONFIG GET.
			"--user", s.User, "on", ">"+s.Password, "resetkeys", "~{tls-*}:*", "resetchannels", "&{tls-*}:*",
			"+@all", "-@dangerous", "+config|get",
			"--user", "default", "off",
		)
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p, err := start(t, bin, dir, "tls", args)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rc := redis.NewClient(&redis.Options{
			Addr: s.Addr, Username: s.User, Password: s.Password, TLSConfig: s.ClientTLS(), DialerRetries: 1, MaxRetries: -1,
		})
		err = p.waitFor(func(ctx context.Context) error { return rc.Ping(ctx).Err() })
		_ = rc.Close()
		if err == nil {
			return s
		}
		errs = append(errs, err)
		p.stop(t)
	}
	t.Fatalf("redisproc: start a TLS redis-server: %v", errors.Join(errs...))
	return nil
}

// Cluster is a Redis Cluster of three masters on loopback, no replicas.
type Cluster struct {
	// Addrs are the masters' 127.0.0.1:PORT; a client needs any one.
	Addrs []string
}

// StartCluster starts three redis-server --cluster-enabled yes, joins them
// with redis-cli --cluster create, and waits until every node reports
// cluster_state:ok and knows all three masters.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	server := need(t, "redis-server")
	cli := need(t, "redis-cli")
	const masters = 3
	c := &Cluster{}
	var nodes []*proc
	for i := range masters {
		dir := filepath.Join(t.TempDir(), "node"+strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		var errs []error
		for range startAttempts {
			port, bus := freePort(t), freePort(t)
			args := append(baseArgs(dir), "--port", strconv.Itoa(port), "--cluster-enabled", "yes",
				"--cluster-port", strconv.Itoa(bus), "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
				"--cluster-node-timeout", "5000")
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			p, err := start(t, server, dir, "node"+strconv.Itoa(i), args)
			if err == nil {
				rc := redis.NewClient(&redis.Options{Addr: addr, DialerRetries: 1, MaxRetries: -1})
				err = p.waitFor(func(ctx context.Context) error { return rc.Ping(ctx).Err() })
				_ = rc.Close()
				if err == nil {
					nodes = append(nodes, p)
					c.Addrs = append(c.Addrs, addr)
					break
				}
				p.stop(t)
			}
			errs = append(errs, err)
		}
		if len(c.Addrs) != i+1 {
			t.Fatalf("redisproc: start cluster node %d: %v", i, errors.Join(errs...))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	create := exec.CommandContext(ctx, cli, append(append([]string{"--cluster", "create"}, c.Addrs...),
		"--cluster-replicas", "0", "--cluster-yes")...)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("redisproc: redis-cli --cluster create %s: %v\n%s%s", strings.Join(c.Addrs, " "), err, out, logs(nodes))
	}
	for i, addr := range c.Addrs {
		rc := redis.NewClient(&redis.Options{Addr: addr, DialerRetries: 1, MaxRetries: -1})
		err := nodes[i].waitFor(func(ctx context.Context) error { return clusterReady(ctx, rc, masters) })
		_ = rc.Close()
		if err != nil {
			t.Fatalf("redisproc: cluster node %s: %v%s", addr, err, logs(nodes))
		}
	}
	return c
}

// clusterReady is nil once the node reports cluster_state:ok and knows
// masters masters with every slot assigned.
func clusterReady(ctx context.Context, rc *redis.Client, masters int) error {
	info, err := rc.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	fields := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		fields[k] = v
	}
	if fields["cluster_state"] != "ok" || fields["cluster_slots_assigned"] != "16384" || fields["cluster_known_nodes"] != strconv.Itoa(masters) {
		return fmt.Errorf("cluster not ready: state %s, %s slots assigned, %s nodes known",
			fields["cluster_state"], fields["cluster_slots_assigned"], fields["cluster_known_nodes"])
	}
	return nil
}

// ClientTLS is a TLS configuration that trusts only the server's CA and
// offers the client certificate.
func (s *TLSServer) ClientTLS() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.CA.Pool(), Certificates: []tls.Certificate{s.client.TLS}}
}

// need is the path of tool, or the test's end (testenv.Need).
func need(t testing.TB, tool string) string {
	t.Helper()
	if tool == "redis-server" {
		return testenv.RedisServerBin(t)
	}
	path, err := exec.LookPath(tool)
	if err != nil {
		testenv.Need(t, "redisproc: %s is not installed (scripts/provision.sh installs the redis-server package): %v", tool, err)
	}
	return path
}

// baseArgs keep a test server in dir, on loopback, off the disk, and
// verbose only to its log file.
func baseArgs(dir string) []string {
	return []string{
		"--bind", "127.0.0.1", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"),
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
		"--maxmemory-policy", "noeviction",
	}
}

// proc is one redis-server this package started.
type proc struct {
	name string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the process's end, once done is closed
}

// start runs bin with args in dir and stops it when t ends.
func start(t testing.TB, bin, dir, name string, args []string) (*proc, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	setParentDeath(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{name: name, dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p, nil
}

// waitFor polls ping until it succeeds, the process ends or readyTimeout passes.
func (p *proc) waitFor(ping func(context.Context) error) error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			if p.err == nil {
				return fmt.Errorf("redis-server %s ended before it answered (exit status 0)%s", p.name, p.log())
			}
			return fmt.Errorf("redis-server %s ended: %w%s", p.name, p.err, p.log())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		last = ping(ctx)
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(pollEvery)
	}
	return fmt.Errorf("redis-server %s not ready after %s: %w%s", p.name, readyTimeout, last, p.log())
}

// stop ends the process (SIGTERM, then SIGKILL) and waits for it; it is
// safe to call twice.
func (p *proc) stop(t testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Logf("redisproc: redis-server %s did not stop on SIGTERM within %s; killed", p.name, stopTimeout)
	}
}

// log is the tail of the process's log file, for a failure message.
func (p *proc) log() string {
	data, err := os.ReadFile(filepath.Join(p.dir, "redis.log"))
	if err != nil {
		return ""
	}
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return "\n--- " + p.name + " log ---\n" + string(bytes.TrimSpace(data))
}

func logs(ps []*proc) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.log())
	}
	return b.String()
}

// freePort is a TCP port on loopback that was free a moment ago, below
// 55536 so that a cluster bus port 10000 above it would be valid too.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("redisproc: find a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port < 55536 {
			return port
		}
	}
	t.Fatal("redisproc: no free port below 55536")
	return 0
}
