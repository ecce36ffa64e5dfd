package awsiam

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/sentinel-gw/sentinel/ports"
)

func TestMapError(t *testing.T) {
	api := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "m"} }
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"no such entity", api("NoSuchEntity"), ports.ErrNotFound},
		{"quota", api("LimitExceeded"), ports.ErrPolicyQuota},
		{"malformed", api("MalformedPolicyDocument"), ports.ErrInvalidArgument},
		{"validation", api("ValidationError"), ports.ErrInvalidArgument},
		{"invalid input", api("InvalidInput"), ports.ErrInvalidArgument},
		{"unmodifiable", api("UnmodifiableEntity"), ports.ErrInvalidArgument},
		{"access denied", api("AccessDenied"), ports.ErrForbidden},
		{"bad key", api("InvalidClientTokenId"), ports.ErrUnauthenticated},
		{"bad signature", api("SignatureDoesNotMatch"), ports.ErrUnauthenticated},
		{"expired", api("ExpiredToken"), ports.ErrUnauthenticated},
		{"throttled out", api("Throttling"), ports.ErrUnavailable},
		{"service failure", api("ServiceFailure"), ports.ErrUnavailable},
		{"network", io.ErrUnexpectedEOF, ports.ErrUnavailable},
		{"canceled", context.Canceled, context.Canceled},
	}
	for _, c := range cases {
		got := mapError("do x", c.err)
		if !errors.Is(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
		if !errors.Is(c.want, ports.ErrUnavailable) && errors.Is(got, ports.ErrUnavailable) {
			t.Errorf("%s: %v also reads as unavailable", c.name, got)
		}
	}
	if mapError("x", nil) != nil {
		t.Error("nil maps to an error")
	}
	if errors.Is(mapError("x", io.ErrUnexpectedEOF), io.ErrUnexpectedEOF) == false {
		t.Error("a network error is no longer reachable")
	}
}
