// Package identitypairs lists pairs of identities that share the short name
// alice, for the tests of who may use a record (an approval request, a
// break-glass event) another identity made: see ports.Identity.Made.
package identitypairs

import "github.com/sentinel-gw/sentinel/ports"

// Identities named alice.
var (
	IAMUser      = ports.Identity{ARN: "arn:aws:iam::111122223333:user/alice", Name: "alice", Source: "sts"}
	OtherAccount = ports.Identity{ARN: "arn:aws:iam::444455556666:user/alice", Name: "alice", Source: "sts"}
	// RoleSession is an assumed-role session whose caller chose the name alice.
	RoleSession = ports.Identity{ARN: "arn:aws:sts::111122223333:assumed-role/deploy/alice", Name: "alice", Source: "sts"}
	OSUser      = ports.Identity{Name: "alice", Source: "os"}
)

// Pair is a record made by Maker, used by Caller.
type Pair struct {
	Name           string
	Maker, Caller  ports.Identity
	CallerMayUseIt bool
}

// All is every pair the rule distinguishes: an ARN record serves only its
// ARN; an OS record only the OS user of its name.
func All() []Pair {
	return []Pair{
		{"ARN record, same ARN", IAMUser, IAMUser, true},
		{"ARN record, assumed-role session named alice", IAMUser, RoleSession, false},
		{"ARN record, same user name in another account", IAMUser, OtherAccount, false},
		{"ARN record, OS user alice", IAMUser, OSUser, false},
		{"assumed-role record, IAM user alice", RoleSession, IAMUser, false},
		{"assumed-role record, OS user alice", RoleSession, OSUser, false},
		{"OS record, same OS user", OSUser, OSUser, true},
		{"OS record, IAM user alice", OSUser, IAMUser, false},
		{"OS record, assumed-role session named alice", OSUser, RoleSession, false},
	}
}
