package dynamo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/sentinel-gw/sentinel/ports"
)

func TestMapError(t *testing.T) {
	const (
		table = "sessions"
		url   = "dynamodb://sessions?region=eu-west-1"
	)
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	msg := aws.String("boom")
	tests := []struct {
		name    string
		failed  error
		in      error
		want    error
		mention string
	}{
		{"create condition", ports.ErrAlreadyExists, &types.ConditionalCheckFailedException{Message: msg}, ports.ErrAlreadyExists, "condition failed"},
		{"condition without meaning", nil, &types.ConditionalCheckFailedException{Message: msg}, ports.ErrConflict, "condition failed"},
		{"missing table", nil, &types.ResourceNotFoundException{Message: msg}, ports.ErrUnavailable,
			"table \"sessions\" does not exist: run `sentinel store init --store " + url + "`"},
		{"throughput", nil, &types.ProvisionedThroughputExceededException{Message: msg}, ports.ErrUnavailable, "throttled"},
		{"throttling", nil, &types.ThrottlingException{Message: msg}, ports.ErrUnavailable, "throttled"},
		{"request limit", nil, &types.RequestLimitExceeded{Message: msg}, ports.ErrUnavailable, "throttled"},
		{"transaction cancelled", nil, &types.TransactionCanceledException{Message: msg}, ports.ErrConflict, table},
		{"validation", nil, &smithy.GenericAPIError{Code: "ValidationException", Message: "bad"}, ports.ErrInvalidArgument, "rejected"},
		{"server fault", nil, &types.InternalServerError{Message: msg}, ports.ErrUnavailable, table},
		{"access denied", nil, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}, ports.ErrUnavailable, "AccessDenied"},
		{"connection refused", nil, refused, ports.ErrUnavailable, "cannot reach DynamoDB"},
		{"retries ran out", nil, &retry.MaxAttemptsError{Attempt: 5, Err: refused}, ports.ErrUnavailable, "cannot reach DynamoDB"},
		{"untrusted certificate", nil, &neturl.Error{Op: "Post", URL: "https://h", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}},
			ports.ErrUnavailable, "TLS certificate is not trusted: store unavailable"},
		{"certificate of another host", nil, x509.HostnameError{Host: "h"}, ports.ErrUnavailable, "?ca_bundle=/path/ca.pem"},
		{"already a ports error", nil, fmt.Errorf("x: %w", ports.ErrCorrupt), ports.ErrCorrupt, "x: "},
		{"caller cancelled", nil, fmt.Errorf("operation error: %w", context.Canceled), context.Canceled, "canceled"},
		{"caller deadline", nil, context.DeadlineExceeded, context.DeadlineExceeded, "deadline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mapError(table, url, tt.failed, tt.in)
			if !errors.Is(got, tt.want) {
				t.Errorf("mapError(%v) = %v, want one wrapping %v", tt.in, got, tt.want)
			}
			if !errors.Is(got, tt.in) {
				t.Errorf("mapError(%v) = %v lost the original error", tt.in, got)
			}
			if !strings.Contains(got.Error(), tt.mention) {
				t.Errorf("mapError(%v) = %q, want it to mention %q", tt.in, got, tt.mention)
			}
		})
	}
	if mapError(table, url, nil, nil) != nil {
		t.Error("mapError(nil) is not nil")
	}
}

func TestStoreURL(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Table: "t"}, "dynamodb://t"},
		{Options{Table: "t", Region: "eu-west-1"}, "dynamodb://t?region=eu-west-1"},
		{Options{Table: "t", Region: "us-east-1", Endpoint: "http://localhost:8000", Profile: "ops"},
			"dynamodb://t?endpoint=http%3A%2F%2Flocalhost%3A8000&profile=ops&region=us-east-1"},
	}
	for _, tt := range tests {
		if got := storeURL(tt.opts); got != tt.want {
			t.Errorf("storeURL(%+v) = %q, want %q", tt.opts, got, tt.want)
		}
	}
}
