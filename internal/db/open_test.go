package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/db"
)

// A PostgreSQL that does not answer is named, with what to check, and the password is not shown.
func TestAnUnreachableDatabaseIsNamed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := db.Open(ctx, "postgres://hearth:s3cret-password@127.0.0.1:1/hearth?sslmode=disable&connect_timeout=2", db.Options{})
	require.ErrorContains(t, err, "cannot reach PostgreSQL at 127.0.0.1:1/hearth: check that it runs there and that --postgres-url")
	require.NotContains(t, err.Error(), "s3cret-password")
}
