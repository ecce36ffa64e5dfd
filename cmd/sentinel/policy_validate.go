package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/sentinel-gw/sentinel/adapters/policyfile"
)

// PolicyValidateCmd checks a policy file.
type PolicyValidateCmd struct {
	File string `arg:"" help:"Policy file to check." type:"path"`
}

// Help shows an example.
func (PolicyValidateCmd) Help() string {
	return "Example:\n  sentinel policy validate ~/.config/sentinel/policy.yaml"
}

// Run exits 0 for a valid policy (printing lint warnings) and 1 with line:column errors otherwise.
func (c *PolicyValidateCmd) Run(env *Env) error {
	// The file is this command's argument: the loader's advice to pass
	// --policy or SENTINEL_POLICY is for the commands that take them.
	if _, err := os.Stat(c.File); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("policy file %s does not exist: check the path, or create it (see docs/policy-reference.md)", c.File)
	}
	p, err := policyfile.Load(c.File)
	if err != nil {
		return err
	}
	warnings := p.Lint()
	for _, w := range warnings {
		fmt.Fprintf(env.Stdout, "warning: %s\n", w)
	}
	fmt.Fprintf(env.Stdout, "%s: valid (%d rules, %d warnings)\n", c.File, len(p.Rules), len(warnings))
	return nil
}
