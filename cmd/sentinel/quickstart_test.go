package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sentinel-gw/sentinel/ports"
)

// repoRoot is two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// goEnv passes the go command's own settings (build cache, module cache,
// proxy) to a script that runs go under a temporary HOME, so it rebuilds
// nothing and downloads nothing.
func goEnv(t *testing.T) []string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOFLAGS", "GONOSUMDB", "GONOPROXY", "GOPRIVATE", "GOSUMDB", "GOINSECURE", "GOTOOLCHAIN"}
	out, err := exec.Command(goTool, append([]string{"env", "-json"}, keys...)...).Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	var values map[string]string
	if err := json.Unmarshal(out, &values); err != nil {
		t.Fatalf("go env -json: %v", err)
	}
	env := []string{"PATH=" + filepath.Dir(goTool) + string(os.PathListSeparator) + os.Getenv("PATH")}
	for _, k := range keys {
		if v := values[k]; v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// The README's quick start, run as a newcomer would: a real SDK client gets
// the demo key, the decision log says allow, the session is listed.
func TestQuickStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	home, demo, tmp := filepath.Join(dir, "home"), filepath.Join(dir, "demo"), filepath.Join(dir, "tmp")
	for _, d := range []string{home, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("scripts", "quickstart.sh"))
	cmd.Dir = repoRoot(t)
	cmd.Env = append(goEnv(t), "HOME="+home, "SENTINEL_DEMO_DIR="+demo, "TMPDIR="+tmp, "AWS_EC2_METADATA_DISABLED=true")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	started := time.Now()
	err := cmd.Run()
	t.Logf("quickstart.sh took %s", time.Since(started).Round(time.Millisecond))
	output := out.String()
	if err != nil {
		t.Fatalf("quickstart.sh: %v\n%s", err, output)
	}

	if !regexp.MustCompile(`AccessKeyId:\s+` + exampleKeyID).MatchString(output) {
		t.Errorf("the SDK child was not served %s:\n%s", exampleKeyID, output)
	}
	if strings.Contains(output, exampleSecret) {
		t.Error("the quick start printed the secret access key")
	}
	id := sessionFromStderr(t, output)

	_, afterLog, ok := strings.Cut(output, "--- last decision-log line")
	if !ok {
		t.Fatalf("no decision-log section:\n%s", output)
	}
	lines := strings.SplitN(afterLog, "\n", 3)
	if len(lines) < 2 {
		t.Fatalf("no decision-log line:\n%s", output)
	}
	var d ports.DecisionRecord
	if err := json.Unmarshal([]byte(lines[1]), &d); err != nil {
		t.Fatalf("decision-log line %q is not JSON: %v", lines[1], err)
	}
	if d.Effect != "allow" || d.Profile != "demo" || d.SessionID != id {
		t.Errorf("decision-log line %+v: want effect allow for profile demo in session %s", d, id)
	}

	_, listing, ok := strings.Cut(output, "--- sessions in the embedded store:")
	if !ok {
		t.Fatalf("no session listing:\n%s", output)
	}
	// The table may show a unique prefix of the id (at least 8 characters).
	listed := false
	for _, line := range strings.Split(listing, "\n") {
		f := strings.Fields(line)
		listed = listed || (len(f) > 0 && len(f[0]) >= 8 && strings.HasPrefix(id, f[0]) && strings.Contains(line, "demo"))
	}
	if !listed {
		t.Errorf("session %s for demo not listed:\n%s", id, listing)
	}
	// The README promises the embedded store lives under ~/.local/share without XDG_DATA_HOME.
	if _, err := os.Stat(filepath.Join(home, ".local", "share", "sentinel", "sentinel.db")); err != nil {
		t.Errorf("embedded store not at the documented default: %v", err)
	}
}

// The README's front door must match the Taskfile, tools/go.mod and go.mod,
// so it cannot drift: the quick start is a plain script (no tool to build
// first), the suite runs through task pinned in tools/go.mod, and go.mod
// pins no tool, so the binary's dependency graph is only the binary's.
func TestReadmeFrontDoor(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}

	readmeLines := map[string]bool{}
	for _, line := range strings.Split(read("README.md"), "\n") {
		readmeLines[strings.TrimSpace(line)] = true
	}
	for _, command := range []string{"bash scripts/quickstart.sh", "go tool -modfile=tools/go.mod task test"} {
		if !readmeLines[command] {
			t.Errorf("README.md has no line with the command %q", command)
		}
	}

	var taskfile struct {
		Tasks map[string]struct {
			Cmds []any `yaml:"cmds"`
		} `yaml:"tasks"`
	}
	if err := yaml.Unmarshal([]byte(read("Taskfile.yml")), &taskfile); err != nil {
		t.Fatalf("Taskfile.yml: %v", err)
	}
	if _, ok := taskfile.Tasks["test"]; !ok {
		t.Error("Taskfile.yml has no test task, which the README names")
	}
	quickstart, ok := taskfile.Tasks["quickstart"]
	runsScript := false
	for _, c := range quickstart.Cmds {
		line, _ := c.(string)
		if m, isMap := c.(map[string]any); isMap {
			line, _ = m["cmd"].(string)
		}
		runsScript = runsScript || strings.Contains(line, "scripts/quickstart.sh")
	}
	if !ok || !runsScript {
		t.Errorf("Taskfile.yml's quickstart task does not run scripts/quickstart.sh: %+v", quickstart.Cmds)
	}
	if _, err := os.Stat(filepath.Join(root, "scripts", "quickstart.sh")); err != nil {
		t.Error(err)
	}
	if strings.Contains(read("scripts/quickstart.sh"), "go tool") {
		t.Error("scripts/quickstart.sh runs a go tool: the quick start would download that tool's dependency graph")
	}

	for file, tools := range map[string][]string{
		"tools/go.mod":            {"github.com/go-task/task/v3/cmd/task", "github.com/golangci/golangci-lint/v2/cmd/golangci-lint", "gotest.tools/gotestsum"},
		"tools/goreleaser/go.mod": {"github.com/goreleaser/goreleaser/v2"},
	} {
		pinned := toolLines(read(file))
		for _, tool := range tools {
			if !pinned[tool] {
				t.Errorf("%s has no tool line for %s; `go tool -modfile=%s` would fail", file, tool, file)
			}
		}
	}
	goMod := read("go.mod")
	if tools := toolLines(goMod); len(tools) != 0 {
		t.Errorf("go.mod pins tools %v: move them to tools/go.mod, so the binary's dependency graph is only the binary's", tools)
	}
	for _, module := range []string{"github.com/go-task/task/v3", "github.com/golangci/golangci-lint/v2", "gotest.tools/gotestsum", "github.com/goreleaser/goreleaser/v2"} {
		if strings.Contains(goMod, module+" ") {
			t.Errorf("go.mod requires %s, a tool: it belongs in tools/", module)
		}
	}
}

// toolLines returns the packages of a go.mod file's tool directives.
func toolLines(goMod string) map[string]bool {
	tools := map[string]bool{}
	inBlock := false
	for _, line := range strings.Split(goMod, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case inBlock && f[0] == ")":
			inBlock = false
		case inBlock:
			tools[f[0]] = true
		case f[0] == "tool" && len(f) == 2 && f[1] == "(":
			inBlock = true
		case f[0] == "tool" && len(f) == 2:
			tools[f[1]] = true
		}
	}
	return tools
}
