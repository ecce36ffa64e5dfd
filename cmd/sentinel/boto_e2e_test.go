package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sentinel-gw/sentinel/internal/e2e"
	"github.com/sentinel-gw/sentinel/internal/testenv"
)

// Debian's boto3 (python3-boto3); another python on PATH may lack it.
const debianPython = "/usr/bin/python3"

// botoChild prints which botocore provider found credentials, and the key.
const botoChild = `import json, sys, boto3
c = boto3.Session().get_credentials()
out = {"method": None, "access_key": None}
if c is not None:
    out = {"method": c.method, "access_key": c.get_frozen_credentials().access_key}
with open(sys.argv[1], "w") as f:
    json.dump(out, f)
`

type botoResult struct {
	Method    string `json:"method"`
	AccessKey string `json:"access_key"`
}

// Keys planted where botocore looks before the container provider.
const (
	plantedEC2Key  = "AKIAPLANTEDEC2FILE01"
	plantedBotoKey = "AKIAPLANTEDBOTOCFG01"
)

// overlayEtc runs argv in a private mount namespace whose /etc is an
// overlay, with /etc/boto.cfg copied from src: the machine's /etc is never
// written.
func overlayEtc(dir, src string, argv []string) []string {
	const script = `set -e
d=$1; src=$2; shift 2
mkdir -p "$d/upper" "$d/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$d/upper,workdir=$d/work" /etc
cp "$src" /etc/boto.cfg
exec "$@"`
	return append([]string{"unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", dir, src}, argv...)
}

// A boto3 child of exec --server takes its credentials from the server
// (method container-role) even with keys in each place botocore reads
// before the container provider. Each case first shows that boto3 run
// without sentinel, in the same environment, does find the planted key.
func TestExecBotoChildIgnoresOtherCredentialSources(t *testing.T) {
	t.Parallel()
	needBoto3(t)
	ec2File := "AWSAccessKeyId=" + plantedEC2Key + "\nAWSSecretKey=planted-secret\n"
	botoCfg := "[Credentials]\naws_access_key_id = " + plantedBotoKey + "\naws_secret_access_key = planted-secret\n"

	tests := []struct {
		name       string
		plant      func(sb *sandbox) map[string]string // returns variables for sentinel's environment
		wrap       func(sb *sandbox, argv []string) []string
		wantMethod string
		wantKey    string
	}{
		{
			name: "AWS_CREDENTIAL_FILE",
			plant: func(sb *sandbox) map[string]string {
				p := filepath.Join(sb.dir, "ec2-keys")
				sb.write(p, ec2File)
				return map[string]string{"AWS_CREDENTIAL_FILE": p}
			},
			wantMethod: "ec2-credentials-file", wantKey: plantedEC2Key,
		},
		{
			name: "BOTO_CONFIG",
			plant: func(sb *sandbox) map[string]string {
				p := filepath.Join(sb.dir, "boto.cfg")
				sb.write(p, botoCfg)
				return map[string]string{"BOTO_CONFIG": p}
			},
			wantMethod: "boto-config", wantKey: plantedBotoKey,
		},
		{
			name: "~/.boto",
			plant: func(sb *sandbox) map[string]string {
				sb.write(filepath.Join(sb.env["HOME"], ".boto"), botoCfg)
				return nil
			},
			wantMethod: "boto-config", wantKey: plantedBotoKey,
		},
		{
			name: "/etc/boto.cfg",
			plant: func(sb *sandbox) map[string]string {
				sb.write(filepath.Join(sb.dir, "etc-boto.cfg"), botoCfg)
				return nil
			},
			wrap: func(sb *sandbox, argv []string) []string {
				d := filepath.Join(sb.dir, "etc-overlay")
				return overlayEtc(d, filepath.Join(sb.dir, "etc-boto.cfg"), argv)
			},
			wantMethod: "boto-config", wantKey: plantedBotoKey,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.wrap != nil {
				if err := exec.Command("unshare", "--mount", "--propagation", "private", "true").Run(); err != nil {
					testenv.Need(t, "a private mount namespace is needed to plant /etc/boto.cfg without touching the machine's (unshare: %v; run as root)", err)
				}
			}
			sb := newSandbox(t)
			sb.staticProfile("p")
			sb.writePolicy(allowAllPolicy)
			extra := tt.plant(sb)
			wrap := tt.wrap
			if wrap == nil {
				wrap = func(_ *sandbox, argv []string) []string { return argv }
			}

			// Control: without sentinel, boto3 signs with the planted key.
			control := filepath.Join(sb.dir, "control.json")
			argv := wrap(sb, []string{debianPython, "-c", botoChild, control})
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env = sb.environ(extra)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("boto3 without sentinel: %v\n%s", err, out)
			}
			if got := readBotoResult(t, control); got.Method != tt.wantMethod || got.AccessKey != tt.wantKey {
				t.Fatalf("control: boto3 without sentinel got %+v, want method %s with %s (the planted keys are not where boto3 looks)", got, tt.wantMethod, tt.wantKey)
			}

			// Under exec --server, boto3 asks the server.
			child := filepath.Join(sb.dir, "child.json")
			args := append(append([]string{e2e.Sentinel(t), "exec", "--server", "--profile", "p"}, sb.offlineFlags()...),
				"--", debianPython, "-c", botoChild, child)
			argv = wrap(sb, args)
			cmd = exec.Command(argv[0], argv[1:]...)
			cmd.Env = sb.environ(extra)
			cmd.Dir = sb.dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sentinel exec --server with a boto3 child: %v\n%s", err, out)
			}
			if got := readBotoResult(t, child); got.Method != "container-role" || got.AccessKey != exampleKeyID {
				t.Errorf("boto3 child of exec --server got %+v, want method container-role with the server's key %s", got, exampleKeyID)
			}
		})
	}
}

func readBotoResult(t *testing.T, path string) botoResult {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("boto3 wrote no result: %v", err)
	}
	var r botoResult
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("boto3 result %s: %v", raw, err)
	}
	return r
}
