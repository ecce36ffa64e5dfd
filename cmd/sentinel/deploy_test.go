package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"go.yaml.in/yaml/v3"

	"github.com/sentinel-gw/sentinel/core/policy"
)

// The deployment examples in deploy/ are checked against the binary they
// run: every command line parses with the real CLI, every flag given to serve
// exists on it, the probes hit /healthz and /readyz on the port serve listens
// on, the files the flags name are the ones the examples mount, and the
// container runs as a non-root user. No image is built here (nothing can be
// pulled), see deploy/README.md.

// servePinned are the flags every broker example must give.
var servePinned = []string{"listen", "tls-cert", "tls-key", "store", "policy", "broker-id"}

var roleARN = regexp.MustCompile(`^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$`)

func readDeploy(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cliInvocation is one command line of an example, parsed by the CLI.
type cliInvocation struct {
	command string            // kong's command path: "serve", "health <url>"
	flags   map[string]string // long flag name (no dashes) to its value ("" for a bool)
	args    []string
	model   *kong.Node // the selected command
}

// parseCLI parses args with the real CLI parser (nothing runs) and checks
// every flag by name against the kong model of the command it selects, its
// own flags and the globals, so a misspelt or removed flag names itself.
func parseCLI(t *testing.T, where string, args []string) cliInvocation {
	t.Helper()
	kctx, err := docsParser(t).Parse(args)
	if err != nil {
		t.Fatalf("%s: sentinel %s: %v", where, strings.Join(args, " "), err)
	}
	inv := cliInvocation{command: kctx.Command(), flags: map[string]string{}, args: args, model: kctx.Selected()}
	known := map[string]bool{}
	for _, group := range kctx.Selected().AllFlags(false) {
		for _, f := range group {
			known["--"+f.Name] = true
			if f.Short != 0 {
				known["-"+string(f.Short)] = true
			}
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, value, hasValue := strings.Cut(a, "=")
		if !known[name] {
			t.Errorf("%s: %s is not a flag of sentinel %s (nor a global one)", where, name, inv.command)
			continue
		}
		flag := flagByName(kctx.Selected(), name)
		if !hasValue && flag != nil && !flag.IsBool() && i+1 < len(args) {
			i++
			value = args[i]
		}
		if flag != nil {
			inv.flags[flag.Name] = value
		}
	}
	return inv
}

func flagByName(n *kong.Node, name string) *kong.Flag {
	for _, group := range n.AllFlags(false) {
		for _, f := range group {
			if "--"+f.Name == name || (f.Short != 0 && "-"+string(f.Short) == name) {
				return f
			}
		}
	}
	return nil
}

// checkServe checks a serve command line: the pinned flags are there (or,
// with fromEnv, left to the environment variable the flag reads, which
// fromEnv then lists), and returns the port --listen names.
func checkServe(t *testing.T, where string, args []string, fromEnv ...*[]string) (cliInvocation, int) {
	t.Helper()
	inv := parseCLI(t, where, args)
	if inv.command != "serve" {
		t.Fatalf("%s: the command line runs sentinel %q, want serve", where, inv.command)
	}
	for _, f := range servePinned {
		if inv.flags[f] != "" {
			continue
		}
		if flag := flagByName(inv.model, "--"+f); len(fromEnv) > 0 && flag != nil && len(flag.Envs) > 0 {
			*fromEnv[0] = append(*fromEnv[0], flag.Envs...)
			continue
		}
		t.Errorf("%s: serve is not given --%s", where, f)
	}
	_, port, err := splitListen(inv.flags["listen"])
	if err != nil {
		t.Fatalf("%s: --listen %q: %v", where, inv.flags["listen"], err)
	}
	if store := inv.flags["store"]; store != "" {
		if u, err := url.Parse(store); err != nil || u.Scheme != "dynamodb" && u.Scheme != "redis" && u.Scheme != "rediss" {
			t.Errorf("%s: --store %q: several replicas need a shared store (dynamodb:// or redis://)", where, store)
		}
	}
	return inv, port
}

func splitListen(addr string) (string, int, error) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return "", 0, errors.New("no port")
	}
	port, err := strconv.Atoi(addr[i+1:])
	return addr[:i], port, err
}

// checkHealthCommand checks a container health check that runs the binary:
// sentinel health on https://127.0.0.1:PORT/healthz.
func checkHealthCommand(t *testing.T, where string, argv []string, port int) {
	t.Helper()
	if len(argv) < 2 || argv[0] != "/sentinel" {
		t.Fatalf("%s: health check %q: want /sentinel health ...", where, argv)
	}
	inv := parseCLI(t, where, argv[1:])
	if inv.command != "health <url>" {
		t.Fatalf("%s: health check runs sentinel %q, want health <url>", where, inv.command)
	}
	u, err := url.Parse(inv.args[len(inv.args)-1])
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Hostname() != "127.0.0.1" || u.Port() != strconv.Itoa(port) || u.Path != "/healthz" {
		t.Errorf("%s: health check probes %s, want https://127.0.0.1:%d/healthz", where, u, port)
	}
	if _, ok := inv.flags["insecure"]; !ok {
		t.Errorf("%s: health check without -k: the broker's certificate names its public host, so a probe of 127.0.0.1 cannot verify it", where)
	}
}

// policyProfiles checks the policy file parses and returns the profiles it names.
func policyProfiles(t *testing.T, where string, text []byte) []string {
	t.Helper()
	p, err := policy.Parse(text)
	if err != nil {
		t.Fatalf("%s: the policy does not parse: %v", where, err)
	}
	var out []string
	for _, r := range p.Rules {
		out = append(out, r.Conditions.Profiles...)
	}
	if len(out) == 0 {
		t.Fatalf("%s: the policy names no profile", where)
	}
	return out
}

// checkAWSConfig checks the broker's AWS config gives every profile the
// policy names a role to assume.
func checkAWSConfig(t *testing.T, where string, text string, profiles []string) {
	t.Helper()
	roles := map[string]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "[profile ") && strings.HasSuffix(line, "]"):
			section = strings.TrimSuffix(strings.TrimPrefix(line, "[profile "), "]")
		case strings.HasPrefix(line, "role_arn"):
			if _, v, ok := strings.Cut(line, "="); ok {
				roles[section] = strings.TrimSpace(v)
			}
		}
	}
	for _, p := range profiles {
		if !roleARN.MatchString(roles[p]) {
			t.Errorf("%s: the broker's AWS config gives profile %q (named by the policy) no role_arn", where, p)
		}
	}
}

// under reports whether file lies inside dir.
func under(file, dir string) bool {
	rel, err := filepath.Rel(dir, file)
	return err == nil && !strings.HasPrefix(rel, "..") && rel != "."
}

func TestDeployContainerfile(t *testing.T) {
	text := string(readDeploy(t, "Containerfile"))
	type instruction struct{ op, rest string }
	var stages [][]instruction
	// Join continuation lines, drop comments.
	var logical []string
	cur := ""
	for line := range strings.SplitSeq(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur += s + " "
			continue
		}
		logical = append(logical, cur+trimmed)
		cur = ""
	}
	for _, l := range logical {
		op, rest, _ := strings.Cut(l, " ")
		op = strings.ToUpper(op)
		if op == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if op != "ARG" {
				t.Fatalf("Containerfile: %s before the first FROM", op)
			}
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], instruction{op, strings.TrimSpace(rest)})
	}
	if len(stages) < 2 {
		t.Fatalf("Containerfile has %d stages, want a build stage and a run stage", len(stages))
	}
	find := func(stage []instruction, op string) []string {
		var out []string
		for _, in := range stage {
			if in.op == op {
				out = append(out, in.rest)
			}
		}
		return out
	}

	build := stages[0]
	runs := strings.Join(find(build, "RUN"), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/sentinel"} {
		if !strings.Contains(runs, want) {
			t.Errorf("Containerfile: the build stage's go build lacks %s", want)
		}
	}

	final := stages[len(stages)-1]
	base := strings.Fields(final[0].rest)[0]
	if base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
		t.Errorf("Containerfile: the final stage is FROM %s, want scratch or a distroless static image", base)
	}
	users := find(final, "USER")
	if len(users) != 1 {
		t.Fatalf("Containerfile: the final stage has %d USER lines, want 1", len(users))
	}
	uid, _, _ := strings.Cut(users[0], ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("Containerfile: USER %s, want a numeric non-root uid (Kubernetes runAsNonRoot can check only a number)", users[0])
	}
	if copies := strings.Join(find(final, "COPY"), "\n"); !strings.Contains(copies, "--from=build") || !strings.Contains(copies, " /sentinel") {
		t.Errorf("Containerfile: the final stage does not copy the built binary to /sentinel: %q", copies)
	}
	var entry, cmd []string
	for _, in := range []struct {
		op  string
		dst *[]string
	}{{"ENTRYPOINT", &entry}, {"CMD", &cmd}} {
		v := find(final, in.op)
		if len(v) != 1 {
			t.Fatalf("Containerfile: %d %s lines in the final stage, want 1", len(v), in.op)
		}
		if err := json.Unmarshal([]byte(v[0]), in.dst); err != nil {
			t.Fatalf("Containerfile: %s %s: want the exec (JSON) form, as there is no shell: %v", in.op, v[0], err)
		}
	}
	if !slices.Equal(entry, []string{"/sentinel"}) {
		t.Errorf("Containerfile: ENTRYPOINT %q, want [\"/sentinel\"]", entry)
	}
	var envs []string
	_, port := checkServe(t, "Containerfile CMD", cmd, &envs)
	readme := string(readDeploy(t, "README.md"))
	for _, e := range envs {
		if !strings.Contains(readme, e) {
			t.Errorf("Containerfile: CMD leaves a pinned flag to $%s, which deploy/README.md does not mention", e)
		}
	}
	if exposed := find(final, "EXPOSE"); !slices.Contains(exposed, strconv.Itoa(port)) {
		t.Errorf("Containerfile: EXPOSE %v, want the port serve listens on, %d", exposed, port)
	}

	hc := find(final, "HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatalf("Containerfile: %d HEALTHCHECK lines, want 1", len(hc))
	}
	_, probe, ok := strings.Cut(hc[0], "CMD ")
	var argv []string
	if !ok || json.Unmarshal([]byte(strings.TrimSpace(probe)), &argv) != nil {
		t.Fatalf("Containerfile: HEALTHCHECK %q: want CMD in the exec (JSON) form", hc[0])
	}
	checkHealthCommand(t, "Containerfile HEALTHCHECK", argv, port)
}

// ECS task definition, service and target group (the inputs of
// RegisterTaskDefinition, CreateService and CreateTargetGroup).
type ecsTask struct {
	Family                  string
	RequiresCompatibilities []string
	NetworkMode             string
	TaskRoleArn             string
	ExecutionRoleArn        string
	Volumes                 []struct{ Name string }
	ContainerDefinitions    []ecsContainer
}

type ecsContainer struct {
	Name                   string
	Image                  string
	Essential              bool
	User                   string
	ReadonlyRootFilesystem bool
	EntryPoint             []string
	Command                []string
	Environment            []struct{ Name, Value string }
	Secrets                []struct{ Name, ValueFrom string }
	DependsOn              []struct{ ContainerName, Condition string }
	PortMappings           []struct{ ContainerPort int }
	MountPoints            []struct {
		SourceVolume, ContainerPath string
		ReadOnly                    bool
	}
	HealthCheck *struct {
		Command []string
	}
	LogConfiguration struct{ LogDriver string }
}

func decodeDeployJSON(t *testing.T, rel string, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(readDeploy(t, rel)))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("deploy/%s: %v", rel, err)
	}
}

func TestDeployECS(t *testing.T) {
	var task ecsTask
	decodeDeployJSON(t, "ecs/task-definition.json", &task)
	if !slices.Contains(task.RequiresCompatibilities, "FARGATE") || task.NetworkMode != "awsvpc" {
		t.Errorf("task definition: %v, network mode %q; want FARGATE with awsvpc", task.RequiresCompatibilities, task.NetworkMode)
	}
	if !roleARN.MatchString(task.TaskRoleArn) || !roleARN.MatchString(task.ExecutionRoleArn) {
		t.Errorf("task definition: taskRoleArn %q, executionRoleArn %q; want role ARNs (the broker's role, and the one that reads the secrets)",
			task.TaskRoleArn, task.ExecutionRoleArn)
	}
	byName := map[string]ecsContainer{}
	for _, c := range task.ContainerDefinitions {
		byName[c.Name] = c
		if c.LogConfiguration.LogDriver != "awslogs" {
			t.Errorf("container %s logs with %q, want awslogs", c.Name, c.LogConfiguration.LogDriver)
		}
	}
	broker, ok := byName["sentinel"]
	if !ok {
		t.Fatal("task definition has no container named sentinel")
	}
	inv, port := checkServe(t, "ECS sentinel command", broker.Command)
	uid, _, _ := strings.Cut(broker.User, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 || !broker.Essential || !broker.ReadonlyRootFilesystem {
		t.Errorf("sentinel container: user %q, essential %v, read-only root %v; want a non-root uid, essential, read-only",
			broker.User, broker.Essential, broker.ReadonlyRootFilesystem)
	}
	if !slices.ContainsFunc(broker.PortMappings, func(p struct{ ContainerPort int }) bool { return p.ContainerPort == port }) {
		t.Errorf("sentinel container maps ports %v, not the %d serve listens on", broker.PortMappings, port)
	}
	if broker.HealthCheck == nil || len(broker.HealthCheck.Command) < 2 || broker.HealthCheck.Command[0] != "CMD" {
		t.Fatalf("sentinel container health check %+v: want [\"CMD\", \"/sentinel\", \"health\", ...]", broker.HealthCheck)
	}
	checkHealthCommand(t, "ECS health check", broker.HealthCheck.Command[1:], port)

	// The files serve reads come from the config container, through a
	// read-only mount, and that container writes each of them from a secret.
	env := map[string]string{}
	for _, e := range broker.Environment {
		env[e.Name] = e.Value
	}
	files := []string{inv.flags["tls-cert"], inv.flags["tls-key"], inv.flags["policy"], env["AWS_CONFIG_FILE"]}
	config, ok := byName["config"]
	if !ok {
		t.Fatal("task definition has no config container to write the secrets into files")
	}
	if !slices.ContainsFunc(broker.DependsOn, func(d struct{ ContainerName, Condition string }) bool {
		return d.ContainerName == "config" && d.Condition == "SUCCESS"
	}) {
		t.Error("the sentinel container does not wait for the config container to succeed")
	}
	var brokerMount, configMount string
	for _, m := range broker.MountPoints {
		if m.ReadOnly {
			brokerMount = m.ContainerPath
		}
	}
	for _, m := range config.MountPoints {
		configMount = m.ContainerPath
	}
	script := strings.Join(config.Command, " ")
	for _, f := range files {
		if f == "" || brokerMount == "" || !under(f, brokerMount) {
			t.Errorf("%q is not under the sentinel container's read-only config mount %q", f, brokerMount)
			continue
		}
		rel, _ := filepath.Rel(brokerMount, f)
		if !strings.Contains(script, "> "+path.Join(configMount, filepath.ToSlash(rel))) {
			t.Errorf("the config container does not write %s (as %s)", f, path.Join(configMount, rel))
		}
	}
	secretARN := regexp.MustCompile(`^arn:aws:(secretsmanager|ssm):[a-z0-9-]+:\d{12}:(secret|parameter)[:/]`)
	for _, s := range config.Secrets {
		if !secretARN.MatchString(s.ValueFrom) || !strings.Contains(script, "printenv "+s.Name) {
			t.Errorf("config secret %s from %q: want a Secrets Manager or SSM ARN, written to a file", s.Name, s.ValueFrom)
		}
	}
	if len(config.Secrets) != len(files) {
		t.Errorf("the config container takes %d secrets for %d files", len(config.Secrets), len(files))
	}
	checkAWSConfig(t, "deploy/ecs/aws-config", string(readDeploy(t, "ecs/aws-config")),
		policyProfiles(t, "deploy/policy.yaml", readDeploy(t, "policy.yaml")))

	var svc struct {
		TaskDefinition string
		DesiredCount   int
		LoadBalancers  []struct {
			TargetGroupArn string
			ContainerName  string
			ContainerPort  int
		}
	}
	decodeDeployJSON(t, "ecs/service.json", &svc)
	if svc.TaskDefinition != task.Family || svc.DesiredCount < 2 || len(svc.LoadBalancers) != 1 ||
		svc.LoadBalancers[0].ContainerName != "sentinel" || svc.LoadBalancers[0].ContainerPort != port {
		t.Errorf("service %+v: want task definition %s, several tasks, behind one load balancer on sentinel:%d", svc, task.Family, port)
	}
	var tg struct {
		Protocol, TargetType, HealthCheckProtocol, HealthCheckPath string
		Port                                                       int
		Matcher                                                    struct{ HttpCode string }
	}
	decodeDeployJSON(t, "ecs/target-group.json", &tg)
	if tg.Protocol != "HTTPS" || tg.Port != port || tg.TargetType != "ip" || tg.HealthCheckProtocol != "HTTPS" ||
		tg.HealthCheckPath != "/readyz" || tg.Matcher.HttpCode != "200" {
		t.Errorf("target group %+v: want HTTPS to port %d, ip targets (awsvpc), health check HTTPS /readyz expecting 200", tg, port)
	}
}

// Kubernetes objects, as far as the test reads them.
type k8sMeta struct {
	Name, Namespace string
	Labels          map[string]string
	Annotations     map[string]string
}

type k8sDoc struct {
	Kind     string
	Metadata k8sMeta
	Data     map[string]string
	Spec     yaml.Node
}

type k8sProbe struct {
	HTTPGet *struct{ Path, Port, Scheme string } `yaml:"httpGet"`
}

type k8sSecurity struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
}

type k8sDeployment struct {
	Replicas int
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	Template struct {
		Metadata k8sMeta
		Spec     struct {
			ServiceAccountName string      `yaml:"serviceAccountName"`
			SecurityContext    k8sSecurity `yaml:"securityContext"`
			Containers         []struct {
				Name  string
				Args  []string
				Env   []struct{ Name, Value string }
				Ports []struct {
					Name          string
					ContainerPort int `yaml:"containerPort"`
				}
				ReadinessProbe  k8sProbe    `yaml:"readinessProbe"`
				LivenessProbe   k8sProbe    `yaml:"livenessProbe"`
				SecurityContext k8sSecurity `yaml:"securityContext"`
				VolumeMounts    []struct {
					Name      string
					MountPath string `yaml:"mountPath"`
					ReadOnly  bool   `yaml:"readOnly"`
				} `yaml:"volumeMounts"`
			}
			Volumes []struct {
				Name      string
				ConfigMap *struct {
					Name  string
					Items []struct{ Key, Path string }
				} `yaml:"configMap"`
				Secret *struct {
					SecretName string `yaml:"secretName"`
				}
			}
		}
	}
}

type k8sService struct {
	Selector map[string]string
	Ports    []struct {
		Name       string
		Port       int
		TargetPort string `yaml:"targetPort"`
	}
}

func TestDeployKubernetes(t *testing.T) {
	dec := yaml.NewDecoder(bytes.NewReader(readDeploy(t, "k8s/broker.yaml")))
	docs := map[string]k8sDoc{}
	for {
		var d k8sDoc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("deploy/k8s/broker.yaml: %v", err)
		}
		if _, dup := docs[d.Kind]; dup {
			t.Fatalf("deploy/k8s/broker.yaml: two %s objects; the test reads one of each", d.Kind)
		}
		docs[d.Kind] = d
	}
	for _, kind := range []string{"ServiceAccount", "ConfigMap", "Deployment", "Service"} {
		if _, ok := docs[kind]; !ok {
			t.Fatalf("deploy/k8s/broker.yaml has no %s", kind)
		}
	}
	sa, cm := docs["ServiceAccount"], docs["ConfigMap"]
	if !roleARN.MatchString(sa.Metadata.Annotations["eks.amazonaws.com/role-arn"]) {
		t.Errorf("service account %s: annotation eks.amazonaws.com/role-arn = %q, want the broker's role ARN (IRSA)",
			sa.Metadata.Name, sa.Metadata.Annotations["eks.amazonaws.com/role-arn"])
	}
	var dep k8sDeployment
	depDoc := docs["Deployment"]
	if err := depDoc.Spec.Decode(&dep); err != nil {
		t.Fatal(err)
	}
	pod := dep.Template.Spec
	if dep.Replicas != 3 || pod.ServiceAccountName != sa.Metadata.Name {
		t.Errorf("deployment: %d replicas, service account %q; want 3 and %q", dep.Replicas, pod.ServiceAccountName, sa.Metadata.Name)
	}
	for k, v := range dep.Selector.MatchLabels {
		if dep.Template.Metadata.Labels[k] != v {
			t.Errorf("deployment selector %s=%s does not match its pods' labels %v", k, v, dep.Template.Metadata.Labels)
		}
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("pod has %d containers, want the broker alone", len(pod.Containers))
	}
	c := pod.Containers[0]
	inv, port := checkServe(t, "Kubernetes container args", c.Args)
	portName := ""
	for _, p := range c.Ports {
		if p.ContainerPort == port {
			portName = p.Name
		}
	}
	if portName == "" {
		t.Fatalf("container ports %v: none is the %d serve listens on", c.Ports, port)
	}
	for _, pr := range []struct {
		name  string
		probe k8sProbe
		path  string
	}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}} {
		g := pr.probe.HTTPGet
		if g == nil || g.Path != pr.path || g.Scheme != "HTTPS" || (g.Port != portName && g.Port != strconv.Itoa(port)) {
			t.Errorf("%s %+v: want httpGet %s over HTTPS on port %s (%d)", pr.name, g, pr.path, portName, port)
		}
	}
	nonRoot := func(s k8sSecurity) bool { return s.RunAsNonRoot != nil && *s.RunAsNonRoot }
	uid := func(s k8sSecurity) *int64 { return s.RunAsUser }
	if !nonRoot(c.SecurityContext) && !nonRoot(pod.SecurityContext) {
		t.Error("neither the pod nor the container sets runAsNonRoot: true")
	}
	for _, u := range []*int64{uid(c.SecurityContext), uid(pod.SecurityContext)} {
		if u != nil && *u == 0 {
			t.Error("runAsUser: 0")
		}
	}
	if s := c.SecurityContext; s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem || s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation {
		t.Error("container securityContext: want readOnlyRootFilesystem: true and allowPrivilegeEscalation: false")
	}

	// The files serve reads: the policy and the AWS config from the
	// ConfigMap, the certificate and key from the TLS Secret.
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	mounted := map[string]string{} // file path in the container -> "configmap:KEY" or "secret:NAME/FILE"
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly {
			t.Errorf("volume %s is mounted writable", m.Name)
		}
		for _, v := range pod.Volumes {
			switch {
			case v.Name != m.Name:
			case v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name:
				for _, it := range v.ConfigMap.Items {
					mounted[path.Join(m.MountPath, it.Path)] = "configmap:" + it.Key
				}
			case v.Secret != nil:
				for _, f := range []string{"tls.crt", "tls.key"} {
					mounted[path.Join(m.MountPath, f)] = "secret:" + v.Secret.SecretName + "/" + f
				}
			}
		}
	}
	for flag, want := range map[string]string{
		"--policy": "configmap:policy.yaml", "--tls-cert": "secret:sentinel-tls/tls.crt", "--tls-key": "secret:sentinel-tls/tls.key",
	} {
		if got := mounted[inv.flags[strings.TrimPrefix(flag, "--")]]; got != want {
			t.Errorf("%s %s comes from %q, want %s", flag, inv.flags[strings.TrimPrefix(flag, "--")], got, want)
		}
	}
	if got := mounted[env["AWS_CONFIG_FILE"]]; got != "configmap:aws-config" {
		t.Errorf("AWS_CONFIG_FILE %s comes from %q, want the ConfigMap's aws-config", env["AWS_CONFIG_FILE"], got)
	}
	profiles := policyProfiles(t, "the ConfigMap's policy.yaml", []byte(cm.Data["policy.yaml"]))
	if cm.Data["policy.yaml"] != string(readDeploy(t, "policy.yaml")) {
		t.Error("the ConfigMap's policy.yaml differs from deploy/policy.yaml: keep the examples one policy")
	}
	checkAWSConfig(t, "the ConfigMap's aws-config", cm.Data["aws-config"], profiles)

	var svc k8sService
	svcDoc := docs["Service"]
	if err := svcDoc.Spec.Decode(&svc); err != nil {
		t.Fatal(err)
	}
	for k, v := range svc.Selector {
		if dep.Template.Metadata.Labels[k] != v {
			t.Errorf("service selector %s=%s does not match the broker's pods", k, v)
		}
	}
	if len(svc.Ports) != 1 || (svc.Ports[0].TargetPort != portName && svc.Ports[0].TargetPort != strconv.Itoa(port)) {
		t.Errorf("service ports %+v: want one, to the container's %s port", svc.Ports, portName)
	}
}
