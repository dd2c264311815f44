// Package db is Hearth's only door to PostgreSQL: a connection pool, the sqlc-generated queries,
// transactions, migrations and the translation of driver errors into errors the rest of the code can
// test for.
package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// ErrNotFound is returned (wrapped) when a query that expects a row finds none.
var ErrNotFound = errors.New("not found")

// DB is a pool of connections with the generated queries bound to it.
type DB struct {
	*dbsqlc.Queries
	Pool *pgxpool.Pool
}

// Tx is one transaction: the generated queries bound to it, and the raw pgx.Tx for callers that must
// join it (River's InsertTx). Inside a transaction, use only these.
type Tx struct {
	*dbsqlc.Queries
	Raw pgx.Tx
}

// DefaultMaxConns is the server's pool size. A request holds its connection for each round trip
// of its transaction, waiting on the network more than working, so a pool much larger than the
// number of cores pays: with 20 busy provisioner workers on 2 cores, 4 connections (pgxpool's
// default here) claim about 550 jobs/s, 8 about 700 and 32 about 860.
const DefaultMaxConns = 32

// Options tune the pool.
type Options struct {
	// MaxConns caps the pool; zero keeps the URL's pool_max_conns, else pgxpool's default (the
	// larger of 4 and the number of CPUs).
	MaxConns int32
	// ApplicationName shows in pg_stat_activity.
	ApplicationName string
}

// Open connects a pool to url and checks that the database answers.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The URL may hold a password: never echo it.
		return nil, errors.New("db: invalid PostgreSQL URL (expected postgres://user:password@host:port/database?sslmode=...)")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.ApplicationName != "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = opts.ApplicationName
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("db: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("db: cannot reach PostgreSQL at %s:%d/%s: check that it runs there and that --postgres-url (HEARTH_POSTGRES_URL) names it: %w",
			cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return &DB{Queries: dbsqlc.New(pool), Pool: pool}, nil
}

// Close closes every connection in the pool.
func (d *DB) Close() { d.Pool.Close() }

// InTx runs fn in a transaction, committing when it returns nil and rolling back otherwise.
func (d *DB) InTx(ctx context.Context, fn func(tx Tx) error) error {
	return pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		return fn(Tx{Queries: dbsqlc.New(tx), Raw: tx})
	})
}

// Translate maps driver errors to this package's sentinels (pgx.ErrNoRows to ErrNotFound) and
// leaves every other error as it is.
func Translate(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// IsUniqueViolation reports whether err is a unique-constraint violation, of one of the named
// constraints when any are given.
func IsUniqueViolation(err error, constraints ...string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return false
	}
	if len(constraints) == 0 {
		return true
	}
	for _, c := range constraints {
		if pgErr.ConstraintName == c {
			return true
		}
	}
	return false
}

// IsForeignKeyViolation reports whether err is a foreign-key violation: a row still referred to.
func IsForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

// ErrUnavailable marks an error that means PostgreSQL could not be reached or is not accepting work
// (down, restarting, out of connections): the request may succeed if tried again later.
var ErrUnavailable = errors.New("the database is unavailable")

// IsUnavailable reports whether err means the database could not be reached or is not accepting
// work, rather than that a query failed: a connection that could not be made or broke, a server
// shutting down or starting up, or one out of connections.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutting down, crashed, starting up
			pgErr.Code == "53300": // too many connections
			return true
		}
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// pgx reports a connection that died under a query in words only.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool") || strings.Contains(msg, "unexpected EOF") || strings.Contains(msg, "connection reset")
}
