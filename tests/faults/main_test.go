package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/internal/e2e"
)

// The test binary doubles as the processes the tests need besides sentinel:
// re-executed with roleEnv set, TestMain runs that role instead of the tests.
const (
	roleEnv = "SENTINEL_FAULTS_ROLE"
	// roleLoad is the AWS SDK child of sentinel exec: it fetches credentials
	// in a loop and records every request.
	roleLoad = "load"
	// roleLock holds the bbolt file lock until told to let go.
	roleLock = "lock"

	// loadOutEnv names the JSON Lines file of the load child's records.
	loadOutEnv = "SENTINEL_FAULTS_OUT"
	// loadStopEnv names a file: the load child stops once it exists.
	loadStopEnv = "SENTINEL_FAULTS_STOP"
	// loadWorkersEnv is how many requests the load child keeps in flight.
	loadWorkersEnv = "SENTINEL_FAULTS_WORKERS"
	// loadPauseEnv is each worker's pause between requests (a Go duration).
	loadPauseEnv = "SENTINEL_FAULTS_PAUSE"

	// lockFileEnv is the bbolt file the lock role opens.
	lockFileEnv = "SENTINEL_FAULTS_LOCK_FILE"
	// lockHeldEnv names a file the lock role creates once it holds the lock.
	lockHeldEnv = "SENTINEL_FAULTS_LOCK_HELD"
	// lockReleaseEnv names a file: the lock role lets go once it exists.
	lockReleaseEnv = "SENTINEL_FAULTS_LOCK_RELEASE"
	// lockDropEnv, when set, is a session id whose record the lock role
	// deletes while it holds the lock: a store that lost the record.
	lockDropEnv = "SENTINEL_FAULTS_LOCK_DROP"
)

// Bounds of the roles, so a test that dies cannot leave them running for long.
const (
	loadMaxRun     = 3 * time.Minute
	loadRequestMax = 20 * time.Second // above every bound a test asserts, so latency is measured, not cut
	lockMaxHold    = time.Minute
	rolePoll       = 5 * time.Millisecond
)

func TestMain(m *testing.M) {
	switch role := os.Getenv(roleEnv); role {
	case "":
	case roleLoad:
		os.Exit(runLoad())
	case roleLock:
		os.Exit(runLock())
	default:
		fmt.Fprintf(os.Stderr, "faults: unknown role %q\n", role)
		os.Exit(2)
	}
	code := m.Run()
	e2e.Cleanup()
	os.Exit(code)
}

// request is one credential request of the load child. It holds no secret:
// the access key id identifies which credential was served.
type request struct {
	Worker      int    `json:"worker"`
	Start       int64  `json:"start"` // UnixNano
	End         int64  `json:"end"`
	Status      int    `json:"status"` // HTTP status; 0 when no answer came
	Code        string `json:"code,omitempty"`
	Message     string `json:"message,omitempty"`
	AccessKeyID string `json:"access_key_id,omitempty"`
}

func (r request) started() time.Time { return time.Unix(0, r.Start) }
func (r request) ended() time.Time   { return time.Unix(0, r.End) }
func (r request) latency() time.Duration {
	return time.Duration(r.End - r.Start)
}

// runLoad fetches credentials from the container endpoint the way every
// aws-sdk-go-v2 program does, with the endpointcreds provider and no retries,
// so each Retrieve is exactly one HTTP request.
func runLoad() int {
	uri := os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	token := os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	if uri == "" || token == "" {
		fmt.Fprintln(os.Stderr, "faults load: no container credentials endpoint in the environment")
		return 2
	}
	workers, err := strconv.Atoi(os.Getenv(loadWorkersEnv))
	if err != nil || workers < 1 {
		workers = 1
	}
	pause, err := time.ParseDuration(os.Getenv(loadPauseEnv))
	if err != nil {
		pause = 5 * time.Millisecond
	}
	out, err := os.OpenFile(os.Getenv(loadOutEnv), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults load:", err)
		return 2
	}
	defer out.Close()
	stopFile := os.Getenv(loadStopEnv)
	deadline := time.Now().Add(loadMaxRun)
	stopped := func() bool {
		if time.Now().After(deadline) {
			return true
		}
		_, err := os.Stat(stopFile)
		return err == nil
	}

	var mu sync.Mutex
	var writeErr error
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			provider := endpointcreds.New(uri, func(o *endpointcreds.Options) {
				o.AuthorizationToken = token
				o.Retryer = aws.NopRetryer{}
			})
			for !stopped() {
				rec := retrieve(provider, w)
				line, _ := json.Marshal(rec)
				mu.Lock()
				// One write per line, so the test reads whole lines while we run.
				if _, err := out.Write(append(line, '\n')); err != nil && writeErr == nil {
					writeErr = err
				}
				mu.Unlock()
				time.Sleep(pause)
			}
		}()
	}
	wg.Wait()
	if writeErr != nil {
		fmt.Fprintln(os.Stderr, "faults load:", writeErr)
		return 2
	}
	return 0
}

func retrieve(provider *endpointcreds.Provider, worker int) request {
	ctx, cancel := context.WithTimeout(context.Background(), loadRequestMax)
	defer cancel()
	start := time.Now()
	creds, err := provider.Retrieve(ctx)
	rec := request{Worker: worker, Start: start.UnixNano(), End: time.Now().UnixNano()}
	if err == nil {
		rec.Status, rec.AccessKeyID = 200, creds.AccessKeyID
		return rec
	}
	rec.Message = err.Error()
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		rec.Status = status.HTTPStatusCode()
	}
	var api interface {
		ErrorCode() string
		ErrorMessage() string
	}
	if errors.As(err, &api) {
		rec.Code, rec.Message = api.ErrorCode(), api.ErrorMessage()
	}
	return rec
}

// runLock opens the bbolt file read-write, which takes its exclusive flock,
// and holds it until the release file appears.
func runLock() int {
	db, err := bbolt.Open(os.Getenv(lockFileEnv), 0o600, &bbolt.Options{Timeout: 20 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults lock:", err)
		return 2
	}
	defer db.Close()
	if id := os.Getenv(lockDropEnv); id != "" {
		// The bolt adapter keeps sessions by id in the "sessions" bucket.
		if err := db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("sessions")).Delete([]byte(id)) }); err != nil {
			fmt.Fprintln(os.Stderr, "faults lock: drop session:", err)
			return 2
		}
	}
	if err := os.WriteFile(os.Getenv(lockHeldEnv), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "faults lock:", err)
		return 2
	}
	release := os.Getenv(lockReleaseEnv)
	for deadline := time.Now().Add(lockMaxHold); time.Now().Before(deadline); time.Sleep(rolePoll) {
		if _, err := os.Stat(release); err == nil {
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, "faults lock: never told to release; letting go")
	return 3
}
