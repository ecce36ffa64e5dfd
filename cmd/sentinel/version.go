package main

import "fmt"

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version; it opens nothing.
func (VersionCmd) Run(env *Env) error {
	_, err := fmt.Fprintf(env.Stdout, "sentinel %s\n", version)
	return err
}

// Help shows an example.
func (VersionCmd) Help() string { return "Example:\n  sentinel version" }
