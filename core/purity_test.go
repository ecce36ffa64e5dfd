package core_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const modulePath = "github.com/sentinel-gw/sentinel"

// listedPackage is one line of `go list -deps`.
type listedPackage struct {
	ImportPath string
	Standard   bool
}

// impure returns the import paths core may not depend on: anything outside
// the standard library, ports, core itself and the YAML library.
func impure(pkgs []listedPackage) []string {
	var offenders []string
	for _, p := range pkgs {
		switch {
		case p.Standard,
			p.ImportPath == modulePath+"/ports",
			p.ImportPath == modulePath+"/core",
			strings.HasPrefix(p.ImportPath, modulePath+"/core/"),
			p.ImportPath == "go.yaml.in/yaml/v3":
			continue
		}
		offenders = append(offenders, p.ImportPath)
	}
	slices.Sort(offenders)
	return slices.Compact(offenders)
}

// TestCorePurity keeps core free of SDKs, adapters and other I/O libraries,
// and shows that the checker itself can fail.
func TestCorePurity(t *testing.T) {
	t.Parallel()
	t.Run("checker flags offenders", checkerFlagsOffenders)
	t.Run("core depends only on stdlib, ports, core and yaml", coreIsPure)
}

// coreIsPure lists core's dependencies with the go command. Test-only imports
// (goleak, the memory store) are not dependencies of core and are not listed.
func coreIsPure(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-e", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", modulePath+"/core/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listedPackage
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, std, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			t.Fatalf("unexpected go list line %q", sc.Text())
		}
		pkgs = append(pkgs, listedPackage{ImportPath: path, Standard: std == "true"})
	}
	if !slices.ContainsFunc(pkgs, func(p listedPackage) bool { return p.ImportPath == modulePath+"/ports" }) {
		t.Fatalf("go list did not list ports among core's dependencies; is the pattern right?\n%s", out)
	}
	if offenders := impure(pkgs); len(offenders) > 0 {
		t.Fatalf("core depends on packages outside the standard library, ports, core and go.yaml.in/yaml/v3:\n  %s\n"+
			"(find who imports them: go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./core/...)",
			strings.Join(offenders, "\n  "))
	}
}

func checkerFlagsOffenders(t *testing.T) {
	t.Parallel()
	pkgs := []listedPackage{
		{"fmt", true},
		{"vendor/golang.org/x/net/http2/hpack", true},
		{modulePath + "/ports", false},
		{modulePath + "/core", false},
		{modulePath + "/core/policy", false},
		{"go.yaml.in/yaml/v3", false},
		{modulePath + "/adapters/memory", false},
		{modulePath + "/corex", false},
		{modulePath + "/ports/internal", false},
		{"github.com/aws/aws-sdk-go-v2/aws", false},
		{"github.com/aws/aws-sdk-go-v2/aws", false},
		{"gopkg.in/yaml.v3", false},
		{"golang.org/x/sys/unix", false},
	}
	want := []string{
		"github.com/aws/aws-sdk-go-v2/aws",
		modulePath + "/adapters/memory",
		modulePath + "/corex",
		modulePath + "/ports/internal",
		"golang.org/x/sys/unix",
		"gopkg.in/yaml.v3",
	}
	slices.Sort(want)
	if got := impure(pkgs); !slices.Equal(got, want) {
		t.Fatalf("impure flagged\n  %v\nwant\n  %v", got, want)
	}
	if got := impure(pkgs[:6]); len(got) != 0 {
		t.Fatalf("impure flagged allowed packages: %v", got)
	}
}
