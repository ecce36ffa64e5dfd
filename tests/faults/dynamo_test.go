package faults

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"

	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/internal/testkit"
)

// envDynamoDBImage names the DynamoDB Local image, as in internal/testenv.
const envDynamoDBImage = "SENTINEL_TEST_DYNAMODB_IMAGE"

const (
	dynamoStartTimeout = 2 * time.Minute
	dynamoStopGrace    = 2 * time.Second
)

// dynamoLocal is a DynamoDB Local container of this test, published on a
// fixed loopback port so it answers at the same address after a restart.
type dynamoLocal struct {
	c    testcontainers.Container
	port int
}

// engineUp reports why no container engine answers, or nil.
func engineUp(ctx context.Context) (err error) {
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
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return provider.Health(ctx)
}

func newDynamoLocal(t *testing.T) *dynamoLocal {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dynamoStartTimeout)
	defer cancel()
	if err := engineUp(ctx); err != nil {
		testenv.Need(t, "no container engine for DynamoDB Local (start one with scripts/testenv-up.sh, set DOCKER_HOST and %s): %v", envDynamoDBImage, err)
	}
	image := os.Getenv(envDynamoDBImage)
	if image == "" {
		image = "amazon/dynamodb-local"
	}
	d := &dynamoLocal{port: freePort(t)}
	port := network.MustParsePort("8000/tcp")
	c, err := testcontainers.Run(ctx, image,
		testcontainers.WithExposedPorts("8000/tcp"),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			// A fixed host port: one picked by the engine could change on restart.
			hc.PortBindings = network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(d.port)}}}
		}),
	)
	if c != nil {
		t.Cleanup(func() {
			if err := testcontainers.TerminateContainer(c); err != nil {
				t.Errorf("terminate DynamoDB Local: %v", err)
			}
		})
	}
	if err != nil {
		testenv.Need(t, "start DynamoDB Local from image %q (set %s): %v", image, envDynamoDBImage, err)
	}
	d.c = c
	d.waitReady(t)
	return d
}

// waitReady waits for any HTTP answer on the published port (DynamoDB Local
// says 400 to a bare GET). testcontainers' own wait strategies are not used:
// after a Stop and Start, they never saw the restarted container ready here.
func (d *dynamoLocal) waitReady(t *testing.T) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	testkit.Eventually(t, dynamoStartTimeout, "DynamoDB Local answering on "+d.endpoint(), func() bool {
		resp, err := client.Get(d.endpoint())
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return true
	})
}

func (d *dynamoLocal) endpoint() string { return "http://127.0.0.1:" + strconv.Itoa(d.port) }

func (d *dynamoLocal) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	grace := dynamoStopGrace
	if err := d.c.Stop(ctx, &grace); err != nil {
		t.Fatalf("stop DynamoDB Local: %v", err)
	}
}

func (d *dynamoLocal) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dynamoStartTimeout)
	defer cancel()
	if err := d.c.Start(ctx); err != nil {
		t.Fatalf("start DynamoDB Local again: %v", err)
	}
	d.waitReady(t)
}

// sandbox is a sandbox whose store is a new table of d, created.
func (d *dynamoLocal) sandbox(t *testing.T, table string) *sandbox {
	t.Helper()
	sb := newSandbox(t)
	sb.store = fmt.Sprintf("dynamodb://%s-%d?region=us-east-1&profile=dynlocal&endpoint=%s", table, time.Now().UnixNano(), d.endpoint())
	sb.mustRun("store", "init")
	return sb
}

// DynamoDB Local's container is stopped under load and started again. It
// runs -inMemory, so it comes back without tables: store init creates them
// again and the heartbeat recreates the session record. DynamoDB has no
// change feed: the servers poll, and confirm the revoke through the record.
func TestDynamoDBStoppedMidLoad(t *testing.T) {
	t.Parallel()
	dynamo := newDynamoLocal(t)
	sb := dynamo.sandbox(t, "faults")
	runStoreOutage(t, sb, storeFault{
		backend: "dynamodb",
		down:    dynamo.stop,
		up: func(t *testing.T) {
			dynamo.start(t)
			sb.mustRun("store", "init")
		},
		outage:       4 * time.Second,
		detectWithin: 2 * time.Second,
		revokeSays:   "the running server confirmed it refuses from now on",
		losesRecords: true,
	})
}
