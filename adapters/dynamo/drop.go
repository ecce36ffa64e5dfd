package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DropTables deletes the store's four tables (TableNames), for a tool that
// made its own tables and must leave nothing behind. A table already gone
// is fine. Never call it on tables you did not create.
func (s *Store) DropTables(ctx context.Context) error {
	var errs []error
	for _, name := range TableNames(s.table) {
		_, err := s.client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		if missing := (*types.ResourceNotFoundException)(nil); err != nil && !errors.As(err, &missing) {
			errs = append(errs, fmt.Errorf("dynamo: delete table %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
