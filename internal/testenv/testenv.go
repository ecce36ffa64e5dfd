// Package testenv hands adapter tests a real Redis and a real DynamoDB Local.
//
// Order for each backend: an endpoint from an environment variable; else a
// testcontainers-go container, started once per test binary, when a container
// engine answers; else the test skips naming the variable — except under CI,
// where a missing backend fails the test so CI cannot pass by skipping.
//
// Packages that may start containers call Main from TestMain, so every
// container started is terminated when the binary ends:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Kind names a backend.
type Kind string

// The backends this package provides.
const (
	KindRedis    Kind = "redis"
	KindDynamoDB Kind = "dynamodb"
)

// Values returned by Source.
const (
	SourceEnv            = "env"
	SourceTestcontainers = "testcontainers"
)

// Environment variables read by this package.
const (
	EnvRedisURL         = "SENTINEL_TEST_REDIS_URL"
	EnvRedisImage       = "SENTINEL_TEST_REDIS_IMAGE"
	EnvDynamoDBEndpoint = "SENTINEL_TEST_DYNAMODB_ENDPOINT"
	EnvDynamoDBImage    = "SENTINEL_TEST_DYNAMODB_IMAGE"
	// EnvRedisServerBin names the redis-server binary for tests that start
	// their own; PATH is searched otherwise.
	EnvRedisServerBin = "SENTINEL_REDIS_SERVER_BIN"
)

const (
	startTimeout     = 2 * time.Minute
	terminateTimeout = 30 * time.Second
	healthTimeout    = 5 * time.Second
)

// spec describes how to obtain one backend.
type spec struct {
	kind         Kind
	endpointEnv  string
	imageEnv     string
	defaultImage string
	port         string // container port, "6379/tcp"
	scheme       string
	path         string // appended to host:port
	waitFor      wait.Strategy
}

// backend is one lazily started container, shared by every test of the binary.
// mu is held during the start, so concurrent callers wait for the same container.
type backend struct {
	spec      spec
	mu        sync.Mutex
	tried     bool
	container testcontainers.Container
	url       string
	err       error
	// skippable is true when err means "no engine" rather than "engine broke".
	skippable bool
}

var (
	mainCalled atomic.Bool

	redisBackend = &backend{spec: spec{
		kind:         KindRedis,
		endpointEnv:  EnvRedisURL,
		imageEnv:     EnvRedisImage,
		defaultImage: "redis:7",
		port:         "6379/tcp",
		scheme:       "redis",
		path:         "/0",
		waitFor:      wait.ForLog("Ready to accept connections"),
	}}
	dynamoBackend = &backend{spec: spec{
		kind:         KindDynamoDB,
		endpointEnv:  EnvDynamoDBEndpoint,
		imageEnv:     EnvDynamoDBImage,
		defaultImage: "amazon/dynamodb-local",
		port:         "8000/tcp",
		scheme:       "http",
		// Any HTTP answer (DynamoDB Local says 400 to a bare GET) means it serves;
		// the probe dials the mapped port, so the image needs no shell.
		waitFor: wait.ForHTTP("/").WithPort("8000/tcp").
			WithStatusCodeMatcher(func(int) bool { return true }),
	}}

	// engineErr is nil when a container engine answers; probed once per binary.
	engineErr = sync.OnceValue(func() error { return probeEngine(context.Background()) })
)

// Main runs the tests and then terminates every container this package started.
func Main(m *testing.M) int {
	mainCalled.Store(true)
	code := m.Run()
	var errs []error
	for _, b := range []*backend{redisBackend, dynamoBackend} {
		b.mu.Lock()
		if b.container != nil {
			errs = append(errs, testcontainers.TerminateContainer(b.container,
				testcontainers.StopTimeout(terminateTimeout)))
			b.container = nil
		}
		b.mu.Unlock()
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: terminate containers: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Redis returns a redis URL (redis://127.0.0.1:PORT/0) of a real server.
func Redis(t testing.TB) string {
	t.Helper()
	return redisBackend.get(t)
}

// DynamoDBEndpoint returns the base URL (http://127.0.0.1:PORT) of a real DynamoDB Local.
func DynamoDBEndpoint(t testing.TB) string {
	t.Helper()
	return dynamoBackend.get(t)
}

// Source reports how the backend of kind is obtained: SourceEnv,
// SourceTestcontainers once its container runs, or "" when neither yet.
func Source(kind Kind) string {
	for _, b := range []*backend{redisBackend, dynamoBackend} {
		if b.spec.kind != kind {
			continue
		}
		if os.Getenv(b.spec.endpointEnv) != "" {
			return SourceEnv
		}
		if b.started() {
			return SourceTestcontainers
		}
	}
	return ""
}

func (b *backend) started() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.container != nil
}

func (b *backend) get(t testing.TB) string {
	t.Helper()
	if url := os.Getenv(b.spec.endpointEnv); url != "" {
		return url
	}
	if !mainCalled.Load() {
		t.Fatalf("testenv: %s needs a container but testenv.Main is not called from TestMain "+
			"(it terminates the container); or set %s", b.spec.kind, b.spec.endpointEnv)
	}
	b.mu.Lock()
	if !b.tried {
		b.tried = true
		b.start()
	}
	url, err, skippable := b.url, b.err, b.skippable
	b.mu.Unlock()
	switch {
	case err == nil:
		return url
	case skippable && !InCI():
		t.Skipf("testenv: no %s: set %s, or start a container engine (scripts/testenv-up.sh): %v",
			b.spec.kind, b.spec.endpointEnv, err)
	default:
		t.Fatalf("testenv: no %s (set %s, or start a container engine with scripts/testenv-up.sh): %v",
			b.spec.kind, b.spec.endpointEnv, err)
	}
	return ""
}

// start runs with b.mu held.
func (b *backend) start() {
	if err := engineErr(); err != nil {
		b.err, b.skippable = fmt.Errorf("no container engine answers: %w", err), true
		return
	}
	b.container, b.url, b.err = runContainer(b.spec)
}

// runContainer starts the image with its port published on 127.0.0.1 only.
func runContainer(s spec) (testcontainers.Container, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	image := os.Getenv(s.imageEnv)
	if image == "" {
		image = s.defaultImage
	}
	port := network.MustParsePort(s.port)
	c, err := testcontainers.Run(ctx, image,
		testcontainers.WithExposedPorts(s.port),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			// "127.0.0.1::6379/tcp" is rejected; an explicit binding with an empty
			// HostPort asks for a free port on loopback only.
			hc.PortBindings = network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1")}}}
		}),
		testcontainers.WithWaitStrategyAndDeadline(startTimeout, s.waitFor),
	)
	if err != nil {
		if c != nil {
			err = errors.Join(err, testcontainers.TerminateContainer(c))
		}
		return nil, "", fmt.Errorf("start %s from image %q: %w", s.kind, image, err)
	}
	mapped, err := c.MappedPort(ctx, s.port)
	if err != nil {
		return nil, "", errors.Join(fmt.Errorf("%s mapped port: %w", s.kind, err), testcontainers.TerminateContainer(c))
	}
	return c, s.scheme + "://127.0.0.1:" + mapped.Port() + s.path, nil
}

// probeEngine reports whether a container engine answers, cheaply: a missing
// DOCKER_HOST socket fails at once, then the engine's info endpoint is asked.
func probeEngine(ctx context.Context) (err error) {
	// Provider construction panics on some broken setups; that means "no engine".
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("container provider panicked: %v", r)
		}
	}()
	if path, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "unix://"); ok {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("DOCKER_HOST socket: %w", err)
		}
	}
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	return provider.Health(ctx) // Health closes the provider.
}

// Need is a test's answer to something it needs that is missing (a backend,
// a tool that scripts/provision.sh installs, root): under CI it fails, so CI
// can never pass by skipping; elsewhere it skips, saying what is missing.
func Need(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// InCI reports whether the CI variable is set to anything but a false value.
func InCI() bool {
	v := strings.TrimSpace(os.Getenv("CI"))
	if v == "" {
		return false
	}
	if b, err := strconv.ParseBool(v); err == nil {
		return b
	}
	return true
}

// RedisServerBin is the redis-server binary for a test that starts its own
// server: $SENTINEL_REDIS_SERVER_BIN, else redis-server on PATH, else the
// test's end (Need: a failure under CI, a skip elsewhere).
func RedisServerBin(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(EnvRedisServerBin); bin != "" {
		return bin
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Need(t, "no redis-server: set %s or put redis-server on PATH (scripts/provision.sh installs it)", EnvRedisServerBin)
	}
	return bin
}
