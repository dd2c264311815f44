// Package migrations holds Hearth's SQL schema migrations, embedded into the binary. Each migration is
// a pair of files, NNNN_name.up.sql and NNNN_name.down.sql, applied in order; a landed migration is
// never edited.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
