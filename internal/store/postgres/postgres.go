// Package postgres is the store for deployments that outgrow one machine:
// several stateless app nodes share one PostgreSQL database through pgx.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/dissent-channel/dissent/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the schema's numbered steps.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}

var dialect = sqlstore.Dialect{
	Name:     "postgres",
	Numbered: true,
	// Appends from several app nodes take this row lock in turn, so the
	// ledger has one order with no gaps and no forks.
	LockHead: `SELECT size FROM ledger_head WHERE id = 1 FOR UPDATE`,
	// Every write transaction appends to the ledger, whose head row lock
	// it holds through its commit: on their own they would take turns
	// anyway, each with its own WAL flush, and a crowd of them waiting on
	// the row lock costs PostgreSQL more CPU than the work. Grouped, this
	// node's writers queue in Go and share commits; other nodes' groups
	// still take turns on the row lock.
	GroupCommit:    true,
	ReadsOutsideTx: true,
	WritingCTEs:    true,
	NestSavepoints: true,
	// The round trips of the one connection this node's writers take
	// turns on are what a burst of submissions waits for: a member's
	// writes go out with its next read.
	Pipeline: pipeline,
	// Opening a memo for its view is five reads that do not wait on one
	// another: one round trip instead of five.
	ReadBatch: readBatch,
	// Nodes started together would otherwise race to create the same
	// tables (a duplicate-key error on pg_type), and one would fail. The
	// lock is the schema's, so that deployments (and tests) in other
	// schemas of the database do not wait on one another.
	MigrateLock:   `SELECT pg_advisory_lock(hashtext('dissent migrations ' || current_schema()))`,
	MigrateUnlock: `SELECT pg_advisory_unlock(hashtext('dissent migrations ' || current_schema()))`,
	IsUnique: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23505"
	},
}

// Options tune the database.
type Options struct {
	Migrate  bool
	Migrated sqlstore.Migrated // if not nil, told of each migration applied
	MaxConns int
}

// Open connects to the database at url (a postgres:// URL).
func Open(ctx context.Context, url string, opt Options) (*sqlstore.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	n := opt.MaxConns
	if n <= 0 {
		n = 16
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if opt.Migrate {
		if _, err := sqlstore.Migrate(ctx, db, dialect, Migrations(), opt.Migrated); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("postgres: %w", err)
		}
	} else if err := sqlstore.CheckSchema(ctx, db, Migrations()); err != nil {
		_ = db.Close()
		return nil, err
	}
	return sqlstore.New(db, db, dialect), nil
}
