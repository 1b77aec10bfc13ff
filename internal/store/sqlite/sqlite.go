// Package sqlite is the embedded store: one SQLite file in the data folder,
// through the pure-Go modernc.org/sqlite driver (no cgo, so the binary builds
// and cross-compiles anywhere).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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
	Name:     "sqlite",
	LockHead: `SELECT size FROM ledger_head WHERE id = 1`,
	// One writer: concurrent write transactions share commits and fsyncs.
	GroupCommit:     true,
	SingleWriter:    true,
	CacheStatements: true,
	IsUnique: func(err error) bool {
		var e *sqlite.Error
		if errors.As(err, &e) {
			return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
		}
		return false
	},
}

// Options tune the database.
type Options struct {
	// Migrate applies pending migrations; without it a stale schema is an error.
	Migrate bool
	// Migrated, if not nil, is told of each migration applied.
	Migrated sqlstore.Migrated
}

// Open opens (creating if needed) the database file at path. Writers take
// turns with BEGIN IMMEDIATE, queueing in Go instead of failing busy, and
// those that queue share a commit (sqlstore's group commit); reads use a
// pool. synchronous=FULL makes every commit durable before it returns: an
// acknowledged submission survives a crash.
func Open(ctx context.Context, path string, opt Options) (*sqlstore.DB, error) {
	dsn := func(extra string) string {
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
			"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_time_format=sqlite" + extra
	}
	// The writer keeps its temporary files in memory: group commit opens a
	// SAVEPOINT per member, and SQLite journals every page a savepoint
	// changes first; past 64 KiB that journal went to a file, costing a
	// submission about 70 write calls.
	//
	// It also overwrites what it deletes (secure_delete): a session's row
	// holds its user's private keys sealed under a key derived from the
	// token, and a later copy of the file must not hold them once the
	// session has ended, for whoever kept an old token. The WAL keeps a
	// deleted row's frames until it is written over; after each
	// checkpoint that empties it, it is cut back to 4 MiB
	// (journal_size_limit), so what it holds is the last writes of
	// about a thousand pages, not whatever a burst once grew it to.
	write, err := sql.Open("sqlite", dsn("&_txlock=immediate&_pragma=temp_store(MEMORY)&_pragma=secure_delete(ON)&_pragma=journal_size_limit(4194304)"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	// Writers take turns on one connection (sqlstore's group commit); the
	// second is for preparing statements while the first is in use.
	write.SetMaxOpenConns(2)
	write.SetMaxIdleConns(2)
	write.SetConnMaxLifetime(0)
	if err := write.PingContext(ctx); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if err := prepare(ctx, write, opt); err != nil {
		_ = write.Close()
		return nil, err
	}
	read, err := sql.Open("sqlite", dsn("&_pragma=query_only(1)"))
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	return sqlstore.New(read, write, dialect), nil
}

func prepare(ctx context.Context, db *sql.DB, opt Options) error {
	if opt.Migrate {
		if _, err := sqlstore.Migrate(ctx, db, dialect, Migrations(), opt.Migrated); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
		return nil
	}
	return sqlstore.CheckSchema(ctx, db, Migrations())
}
