package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/posener/complete"
	"github.com/willabides/kongplete"

	"github.com/sentinel-gw/sentinel/adapters/awscreds"
	"github.com/sentinel-gw/sentinel/adapters/bolt"
	"github.com/sentinel-gw/sentinel/internal/storeurl"
	"github.com/sentinel-gw/sentinel/ports"
)

// The shells' side of the completion protocol: each asks the sentinel on the
// PATH for the words, with COMP_LINE and COMP_POINT set (bash's `complete -C`),
// and sentinel answers one word a line (completeLine).
var completionScripts = map[string]string{
	"bash": `# sentinel completion for bash: add to ~/.bashrc
#   source <(sentinel completion bash)
complete -o default -C sentinel sentinel
`,
	"zsh": `# sentinel completion for zsh: add to ~/.zshrc
#   source <(sentinel completion zsh)
(( $+functions[compdef] )) || { autoload -U +X compinit && compinit }
autoload -U +X bashcompinit && bashcompinit
complete -o default -C sentinel sentinel
`,
	"fish": `# sentinel completion for fish: add to ~/.config/fish/config.fish
#   sentinel completion fish | source
function __complete_sentinel
    set -lx COMP_LINE (commandline -cp)
    set -lx COMP_POINT (string length -- $COMP_LINE)
    test -z (commandline -ct)
    and set COMP_LINE "$COMP_LINE "
    and set COMP_POINT (math $COMP_POINT + 1)
    command sentinel
end
complete -f -c sentinel -a "(__complete_sentinel)"
`,
}

// CompletionCmd prints a shell completion script.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"Shell: bash, zsh or fish."`
}

// Help shows how to load the script.
func (CompletionCmd) Help() string {
	return `Completes commands, flags, enum values, profile names (from the AWS config and
credentials files) and, on the embedded bbolt store, the ids of active sessions.
The script runs the sentinel on your PATH to get the words.

Examples:
  source <(sentinel completion bash)      # in ~/.bashrc
  source <(sentinel completion zsh)       # in ~/.zshrc
  sentinel completion fish | source       # in ~/.config/fish/config.fish`
}

// Run prints the script; it opens nothing.
func (c CompletionCmd) Run(env *Env) error {
	_, err := fmt.Fprint(env.Stdout, completionScripts[c.Shell])
	return err
}

// completeLine answers a shell's completion request: when COMP_LINE is set it
// prints the candidate words for the line up to COMP_POINT and reports true.
func completeLine(parser *kong.Kong, env *Env) (done bool, code int) {
	if env.Getenv("COMP_LINE") == "" {
		return false, exitOK
	}
	// The predictor sees only the words after its own command, so --store is
	// looked for on the whole line.
	line := strings.Fields(env.Getenv("COMP_LINE"))
	cmd, err := kongplete.Command(parser, kongplete.WithPredictor("session", complete.PredictFunc(func(complete.Args) []string {
		return activeSessionIDs(storeFromLine(line, env.Getenv), env.Clock)
	})))
	if err != nil {
		fmt.Fprintf(env.Stderr, "sentinel: completion: %v\n", err)
		return true, exitError
	}
	c := complete.New(parser.Model.Name, withProfiles(cmd))
	c.Out = env.Stdout
	return c.Complete(), exitOK
}

// profilePredictor completes --profile and --aws-profile on every command;
// it is set on the completion model rather than tagged on each flag.
var profilePredictor = complete.PredictFunc(func(complete.Args) []string {
	names, err := awscreds.ProfileNames()
	if err != nil {
		return nil
	}
	return names
})

// withProfiles gives every --profile and --aws-profile flag in cmd's tree the
// profile predictor.
func withProfiles(cmd complete.Command) complete.Command {
	for _, flags := range []complete.Flags{cmd.Flags, cmd.GlobalFlags} {
		for name := range flags {
			if name == "--profile" || name == "--aws-profile" {
				flags[name] = profilePredictor
			}
		}
	}
	for name, sub := range cmd.Sub {
		cmd.Sub[name] = withProfiles(sub)
	}
	return cmd
}

// storeFromLine is the store the completed command would use: --store on the
// line, else SENTINEL_STORE, else the default.
func storeFromLine(words []string, getenv func(string) string) string {
	store := getenv("SENTINEL_STORE")
	if store == "" {
		store = defaultStoreURL(getenv)
	}
	for i, w := range words {
		if v, ok := strings.CutPrefix(w, "--store="); ok {
			store = v
		} else if w == "--store" && i+1 < len(words) {
			store = words[i+1]
		}
	}
	return store
}

// completionLockWait bounds how long a tab press waits for a busy bbolt file.
const completionLockWait = 200 * time.Millisecond

// activeSessionIDs lists up to a page of active session ids, but only where
// that is cheap: an existing bbolt file (no network, no file created). Any
// error completes nothing.
func activeSessionIDs(rawStore string, clock ports.Clock) []string {
	spec, err := storeurl.Parse(rawStore)
	if err != nil || spec.Kind != storeurl.Bolt {
		return nil
	}
	if _, err := os.Stat(spec.Path); errors.Is(err, fs.ErrNotExist) || err != nil {
		return nil
	}
	if clock == nil {
		clock = ports.SystemClock{}
	}
	store, err := bolt.Open(spec.Path, clock, bolt.Options{LockTimeout: completionLockWait})
	if err != nil {
		return nil
	}
	defer func() { _ = store.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	page, err := store.ListSessionsByStatus(ctx, ports.SessionActive, ports.Page{Limit: 100})
	if err != nil {
		return nil
	}
	ids := make([]string, 0, len(page.Sessions))
	for _, s := range page.Sessions {
		ids = append(ids, s.ID)
	}
	return ids
}
