package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"
	"time"

	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/internal/storeurl"
	"github.com/sentinel-gw/sentinel/internal/testkit"
)

// Team mode (-broker): the identities the local STS stand-in knows. The
// user runs exec --server, the admin revokes, the broker assumes the role.
type teamIdentity struct {
	name, keyID, secret string
}

var (
	benchUser   = teamIdentity{"bench-user", "AKIABENCHUSER0000001", "bench/user/secret/0000000000000000000000"}
	benchAdmin  = teamIdentity{"bench-admin", "AKIABENCHADMIN000001", "bench/admin/secret/000000000000000000000"}
	benchBroker = teamIdentity{"sentinel-broker", "AKIABENCHBROKER00001", "bench/broker/secret/00000000000000000000"}
)

func (u teamIdentity) arn() string {
	return "arn:aws:iam::" + fakests.DefaultAccount + ":user/" + u.name
}

// benchRole is the role the broker's profile assumes with its own keys.
const benchRole = "arn:aws:iam::" + fakests.DefaultAccount + ":role/SentinelBench"

// brokerPolicy is allowAllPolicy with the bench's admin, who may revoke
// any session through the broker.
const brokerPolicy = "admins: [" + "bench-admin" + "]\n" + allowAllPolicy

var brokerListening = regexp.MustCompile(`broker listening on (https://\S+)`)

// team is a running broker (sentinel serve over loopback HTTPS on the
// sandbox's store) with the local STS it and its callers use.
type team struct {
	sts  *fakests.Server
	tls  testkit.TLSFiles
	url  string
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{}
	// proxy, when set (-count-dynamodb), is between the broker and DynamoDB.
	proxy *countingProxy
	// userEnv and adminEnv run sentinel as the user and the admin: their
	// own keys, the stand-in STS, the broker's URL and CA, nothing else.
	userEnv, adminEnv []string
}

// startTeam starts the stand-in STS, makes a certificate and starts the
// broker with its own AWS config and the sandbox's store (with countDynamo,
// a DynamoDB store reached through a counting proxy).
func (sb *sandbox) startTeam(ctx context.Context, countDynamo bool) (*team, error) {
	var opts []fakests.Option
	for _, u := range []teamIdentity{benchUser, benchAdmin, benchBroker} {
		opts = append(opts, fakests.WithUser(u.keyID, u.secret, u.arn()))
	}
	sts, err := fakests.Start(opts...)
	if err != nil {
		return nil, err
	}
	t := &team{sts: sts, done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			t.stop()
		}
	}()
	dir := filepath.Join(sb.dir, "broker")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if t.tls, err = testkit.WriteServerCert(dir, "127.0.0.1"); err != nil {
		return nil, err
	}
	files := map[string]string{
		"config": "[default]\nregion = us-east-1\n\n[profile " + benchProfile + "]\nrole_arn = " + benchRole +
			"\nsource_profile = base\nregion = us-east-1\n\n[profile base]\nregion = us-east-1\n",
		// default: for a DynamoDB store's own client (DynamoDB Local takes any key).
		"credentials": "[default]\naws_access_key_id = " + exampleKeyID + "\naws_secret_access_key = " + exampleSecret + "\n\n" +
			"[base]\naws_access_key_id = " + benchBroker.keyID + "\naws_secret_access_key = " + benchBroker.secret + "\n",
		"policy.yaml": brokerPolicy,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	store := sb.store
	if countDynamo {
		if store, err = t.countDynamoDB(store); err != nil {
			return nil, err
		}
	}
	// Not CommandContext: the broker must get SIGTERM and drain.
	t.cmd = exec.Command(sb.sentinel, "serve", "--listen", "127.0.0.1:0", "--tls-cert", t.tls.Cert, "--tls-key", t.tls.Key,
		"--broker-id", "127.0.0.1", "--store", store, "--policy", filepath.Join(dir, "policy.yaml"),
		"--log-file", filepath.Join(dir, "decisions.jsonl"))
	t.cmd.Env = append(slices.Clip(sb.env),
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_ENDPOINT_URL_STS="+sts.URL())
	t.cmd.Dir = dir
	ownProcessGroup(t.cmd)
	pipe, err := t.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	t.cmd.Stderr = t.cmd.Stdout
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sentinel serve: %w", err)
	}
	found := make(chan string, 1)
	go func() {
		defer close(t.done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			t.out.writeLine(sc.Text())
			if m := brokerListening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_ = t.cmd.Wait()
	}()
	select {
	case t.url = <-found:
	case <-t.done:
		return nil, fmt.Errorf("sentinel serve exited before listening:\n%s", t.out.String())
	case <-time.After(startTimeout):
		return nil, fmt.Errorf("sentinel serve not listening after %s:\n%s", startTimeout, t.out.String())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	t.userEnv = t.envAs(sb, benchUser)
	t.adminEnv = t.envAs(sb, benchAdmin)
	ok = true
	return t, nil
}

// countDynamoDB starts the counting proxy in front of the DynamoDB store
// and returns the store URL that goes through it.
func (t *team) countDynamoDB(store string) (string, error) {
	spec, err := storeurl.Parse(store)
	if err != nil {
		return "", err
	}
	if spec.Kind != storeurl.DynamoDB || spec.Endpoint == "" {
		return "", errors.New("-count-dynamodb needs a dynamodb:// store with an endpoint (DynamoDB Local)")
	}
	if t.proxy, err = startCountingProxy(spec.Endpoint); err != nil {
		return "", err
	}
	return throughProxy(store, t.proxy)
}

// envAs is the environment of a sentinel command run as u through the broker.
func (t *team) envAs(sb *sandbox, u teamIdentity) []string {
	return append(slices.Clip(sb.env),
		"AWS_ACCESS_KEY_ID="+u.keyID,
		"AWS_SECRET_ACCESS_KEY="+u.secret,
		"AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL_STS="+t.sts.URL(),
		"SENTINEL_BROKER="+t.url,
		"SENTINEL_BROKER_CA="+t.tls.CA)
}

func (t *team) pid() int { return t.cmd.Process.Pid }

// stop sends the broker SIGTERM (it drains and exits), kills it if that
// takes too long, and stops the STS.
func (t *team) stop() {
	if t.cmd != nil && t.cmd.Process != nil {
		_ = t.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-t.done:
		case <-time.After(stopTimeout):
			killProcessGroup(t.cmd.Process)
			<-t.done
		}
	}
	t.sts.Close()
	if t.proxy != nil {
		t.proxy.close()
	}
}
