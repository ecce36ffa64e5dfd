package faults

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/e2e"
	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/internal/testkit"
)

// redisServer is a redis-server process of this test on a fixed loopback
// port, so it can be killed and started again where clients expect it.
type redisServer struct {
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func newRedisServer(t *testing.T) *redisServer {
	t.Helper()
	r := &redisServer{bin: testenv.RedisServerBin(t), dir: t.TempDir(), port: freePort(t)}
	r.start(t)
	t.Cleanup(func() { r.kill(t) })
	return r
}

func (r *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// start runs redis-server with no persistence, so a restart comes back empty.
func (r *redisServer) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command(r.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(r.port),
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	e2e.OwnProcessGroup(r.cmd)
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(r.cmd, r.done)
	testkit.Eventually(t, 10*time.Second, "redis-server answering PING on "+r.addr(), func() bool {
		select {
		case <-r.done:
			t.Fatalf("redis-server exited at startup (port %d taken?)", r.port)
		default:
		}
		return r.ping() == nil
	})
}

func (r *redisServer) ping() error {
	conn, err := net.DialTimeout("tcp", r.addr(), time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// calls is how many times redis-server has run command (lowercase), from
// INFO commandstats; zero when it has not run it since it started.
func (r *redisServer) calls(t *testing.T, command string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", r.addr(), time.Second)
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("INFO commandstats\r\n")); err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	rd := bufio.NewReader(conn)
	header, err := rd.ReadString('\n')
	if err != nil || !strings.HasPrefix(header, "$") {
		t.Fatalf("INFO commandstats answered %q: %v", header, err)
	}
	size, err := strconv.Atoi(strings.TrimSpace(header[1:]))
	if err != nil {
		t.Fatalf("INFO commandstats answered %q", header)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(rd, body); err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	// cmdstat_hgetall:calls=12,usec=...
	for _, line := range strings.Split(string(body), "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+command+":calls="); ok {
			n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			return n
		}
	}
	return 0
}

// kill SIGKILLs redis-server and waits until it is gone.
func (r *redisServer) kill(t *testing.T) {
	t.Helper()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Errorf("redis-server %d did not die after SIGKILL", r.cmd.Process.Pid)
	}
	r.cmd = nil
}

// Redis is killed with SIGKILL under load and started again empty on the
// same port: the session record is gone, so the heartbeat recreates it, and
// the feed re-subscribes (the revoke afterwards is confirmed over it).
func TestRedisKilledMidLoad(t *testing.T) {
	t.Parallel()
	redis := newRedisServer(t)
	sb := newSandbox(t)
	sb.store = "redis://" + redis.addr() + "/0"
	runStoreOutage(t, sb, storeFault{
		backend:      "redis",
		down:         redis.kill,
		up:           redis.start,
		outage:       4 * time.Second,
		detectWithin: 2 * time.Second,
		revokeSays:   "the running server confirmed it refuses from now on",
		losesRecords: true,
		// Sessions are hashes, read with HGETALL.
		storeReads: func(t *testing.T) int { return redis.calls(t, "hgetall") },
	})
}
