package awscreds

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/smithy-go"
)

// ErrSSOLogin: the profile's AWS SSO token is missing or expired; the error's
// text says which `aws sso login` to run.
var ErrSSOLogin = errors.New("aws sso login needed")

// ssoLoginCommand is the `aws sso login` that refreshes the token behind
// shared's credentials (its own, or those of the source_profile chain's end);
// empty when they do not come from AWS SSO.
func ssoLoginCommand(shared config.SharedConfig) string {
	s := &shared
	for s.RoleARN != "" && s.Source != nil && s.Source.Profile != s.Profile {
		s = s.Source
	}
	switch {
	case s.SSOSessionName != "":
		return "aws sso login --sso-session " + s.SSOSessionName
	case s.SSOStartURL != "":
		return "aws sso login --profile " + s.Profile
	}
	return ""
}

// explainSSO turns a failure to read the SSO token into one that says what to
// run; it returns nil for any other error.
func explainSSO(profile, login string, err error) error {
	if login == "" || !ssoTokenMissing(err) {
		return nil
	}
	return &callError{
		msg: fmt.Sprintf("profile %s: the AWS SSO token is missing or expired: run `%s`, then try again", profile, login),
		err: errors.Join(ErrSSOLogin, err),
	}
}

// ssoTokenMissing reports whether err comes from a missing, expired or
// refused SSO token rather than from the network.
func ssoTokenMissing(err error) bool {
	var invalid *ssocreds.InvalidTokenError
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &invalid), errors.Is(err, fs.ErrNotExist):
		return true
	case errors.As(err, &apiErr):
		return apiErr.ErrorCode() == "UnauthorizedException" // the SSO portal refused the token
	}
	// The sso-session token provider reports a missing or expired cache without a type.
	return strings.Contains(err.Error(), "cached SSO token")
}
