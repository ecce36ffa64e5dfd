// Package policy parses Sentinel policy files and decides, for one credential
// request, whether it is allowed.
//
// A policy is an ordered list of rules. Evaluate checks them in order; the
// first rule whose conditions all match decides. No match means deny with the
// reason "no matching rule". The final Decision.Effect is always allow or
// deny: require_server, require_server_session and require_approval are
// resolved here against the request's mode and session tracking, and the
// flags on the Decision say what was missing. Approval and break-glass
// overrides are applied later, by the caller.
//
// Besides rules, a policy may hold three optional sections: approvals (who
// approves requests for which profiles, and when a request approves itself),
// breakglass (who may invoke emergency access, why, for how long and how
// often) and notifications (webhooks). This package parses them and answers
// "which rule applies"; the approval and break-glass packages apply them.
//
// The package is pure: it reads no clock (Request.Time is "now") and does no
// I/O except time.LoadLocation while parsing, so a binary that parses
// policies should import time/tzdata.
//
// # Who chooses the identity
//
// A users entry that starts with "arn:" matches the caller's full principal
// ARN ('*' matches any run of characters, anchored at both ends); any other
// entry matches Identity.Name exactly. Not every part of an identity is
// equally trustworthy:
//
//   - For an assumed role, Identity.Name is the role session name, which is
//     chosen by whoever calls AssumeRole. Anyone who may assume the role can
//     call themselves "alice". Pin roles by ARN instead, e.g.
//     arn:aws:sts::123456789012:assumed-role/Admin/* (and the role's trust
//     policy decides who may assume it).
//   - An IAM user name is not chosen by the caller: it is fixed by whoever
//     created the user, so a plain name entry is sound for IAM users (an ARN
//     entry such as arn:aws:iam::123456789012:user/alice is stricter still,
//     because it also pins the account).
//   - An OS identity (Identity.Source "os") has an empty ARN, so arn: entries
//     never match it, and its name is only as trustworthy as the machine it
//     was read on.
package policy
