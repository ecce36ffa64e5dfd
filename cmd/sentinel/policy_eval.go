package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/awscreds"
	"github.com/sentinel-gw/sentinel/adapters/policyfile"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// PolicyEvalCmd evaluates one request.
type PolicyEvalCmd struct {
	Policy   string `help:"Policy file." env:"SENTINEL_POLICY" default:"${default_policy}" type:"path"`
	Profile  string `help:"AWS profile asked for." required:""`
	User     string `help:"Caller: a name, or a full principal ARN (arn:...)." required:""`
	Mode     string `help:"Request mode." enum:"server,cli,credential_process,console" default:"server"`
	At       string `help:"Evaluate at this instant (RFC 3339) instead of now." placeholder:"RFC3339"`
	Tracking bool   `help:"Whether session tracking is on (matters for require_server_session)." default:"true" negatable:""`
	Output   string `help:"Output format: text or json." enum:"text,json" default:"text"`
}

// Help shows an example.
func (PolicyEvalCmd) Help() string {
	return "Example:\n  sentinel policy eval --policy policy.yaml --profile prod --user alice --mode server --at 2026-11-27T23:30:00Z --output json"
}

// Run prints the decision and exits 0 whatever it is.
func (c *PolicyEvalCmd) Run(env *Env) error {
	at := env.Clock.Now()
	if c.At != "" {
		t, err := time.Parse(time.RFC3339, c.At)
		if err != nil {
			return usageError{fmt.Sprintf("--at %q is not an RFC 3339 time such as 2026-11-27T23:30:00Z", c.At)}
		}
		at = t
	}
	p, err := policyfile.Load(c.Policy)
	if err != nil {
		return err
	}
	d := p.Evaluate(policy.Request{
		Identity:        identityFromFlag(c.User),
		Profile:         c.Profile,
		Mode:            policy.Mode(c.Mode),
		Time:            at,
		SessionTracking: c.Tracking,
	})
	if c.Output == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	}
	rule := d.Rule
	if rule == "" {
		rule = "(no rule matched)"
	}
	fmt.Fprintf(env.Stdout, "effect:      %s\nrule:        %s (index %d, effect %s)\nreason:      %s\n", d.Effect, rule, d.RuleIndex, d.RuleEffect, d.Reason)
	if d.MaxServerDuration > 0 {
		fmt.Fprintf(env.Stdout, "max server duration: %s\n", d.MaxServerDuration)
	}
	if d.RequiresServerMode {
		fmt.Fprintln(env.Stdout, "requires:    server mode (add --server)")
	}
	if d.RequiresSessionTracking {
		fmt.Fprintln(env.Stdout, "requires:    session tracking (configure a store)")
	}
	return nil
}

// identityFromFlag reads --user: an ARN keeps its full text and its name part.
func identityFromFlag(user string) ports.Identity {
	if len(user) > 4 && user[:4] == "arn:" {
		return ports.Identity{ARN: user, Name: awscreds.NameFromARN(user), Source: "flag"}
	}
	return ports.Identity{Name: user, Source: "flag"}
}
