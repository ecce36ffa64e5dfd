package ports

// Made reports whether a record made by the identity (name, arn) — an
// approval request's requester, a break-glass event's invoker — belongs to
// i. A record with an ARN belongs only to the identity with that ARN: an
// assumed-role session whose caller chose the session name "alice", or an
// OS user alice, does not get the record of arn:...:user/alice. A record
// without an ARN was made by an OS identity and belongs only to the OS
// identity of the same name. So an OS identity never uses a record made by
// an ARN identity, nor the reverse.
func (i Identity) Made(name, arn string) bool {
	if arn != "" || i.ARN != "" {
		return arn == i.ARN
	}
	return name != "" && name == i.Name
}
