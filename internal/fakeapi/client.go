package fakeapi

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
)

// ListTables calls the stand-in at endpoint with a real SDK client (one
// attempt) signed with c: code is "" when AWS allowed it, else the error
// code it answered (AccessDeniedException, ...); err is a failure to get
// any answer.
func ListTables(ctx context.Context, endpoint string, c aws.Credentials) (code string, err error) {
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.StaticCredentialsProvider{Value: c}, RetryMaxAttempts: 1})
	_, err = client.ListTables(ctx, &dynamodb.ListTablesInput{})
	var api smithy.APIError
	switch {
	case err == nil:
		return "", nil
	case errors.As(err, &api):
		return api.ErrorCode(), nil
	}
	return "", err
}
