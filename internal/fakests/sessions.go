package fakests

import (
	"strconv"
	"time"
)

// IssuedSession is what AWS knows one issued credential by: what the
// request context of a call signed with it holds (aws:SourceIdentity,
// aws:userid, aws:TokenIssueTime), for stand-ins of other AWS APIs.
type IssuedSession struct {
	// Action is "AssumeRole" or "GetSessionToken".
	Action      string
	Credentials Credentials
	// RoleARN, RoleSessionName, SourceIdentity and AssumedRoleID are set
	// for AssumeRole ("" SourceIdentity when none was sent).
	RoleARN         string
	RoleSessionName string
	SourceIdentity  string
	AssumedRoleID   string
	// PrincipalARN is the assumed-role ARN (AssumeRole) or the IAM user
	// that asked (GetSessionToken).
	PrincipalARN string
	// IssuedAt is when STS issued the credential (aws:TokenIssueTime).
	IssuedAt time.Time
}

// Session returns the credential the fake issued under accessKeyID.
func (s *Server) Session(accessKeyID string) (IssuedSession, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c.Issued == nil || c.Issued.AccessKeyID != accessKeyID {
			continue
		}
		def := defaultAssumeRoleSeconds
		if c.Action == "GetSessionToken" {
			def = defaultSessionTokenSeconds
		}
		seconds := def
		if v, err := strconv.Atoi(c.Params["DurationSeconds"]); err == nil {
			seconds = v
		}
		out := IssuedSession{
			Action: c.Action, Credentials: *c.Issued,
			RoleARN: c.Params["RoleArn"], RoleSessionName: c.Params["RoleSessionName"],
			SourceIdentity: c.Params["SourceIdentity"], AssumedRoleID: c.AssumedRoleID,
			PrincipalARN: s.principalLocked(accessKeyID),
			IssuedAt:     c.Issued.Expiration.Add(-time.Duration(seconds) * time.Second),
		}
		return out, true
	}
	return IssuedSession{}, false
}
