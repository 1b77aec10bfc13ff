package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlite"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestStore runs the conformance suite against SQLite.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.OpenSQLite(t) })
}

func TestReopenWithCurrentSchemaNeedsNoMigrate(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "dissent.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := s.Begin(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.PutSetting(ctx, "distribution", []byte("kept across opens")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatalf("reopening a current database without Migrate: %v", err)
	}
	defer func() { _ = s.Close() }()
	tx, err = s.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if v, err := tx.Setting(ctx, "distribution"); err != nil || string(v) != "kept across opens" {
		t.Errorf("Setting after reopen = %q, %v; want the value written before", v, err)
	}
}

func TestEmptyDatabaseAsksForMigrate(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "empty.db")

	t.Run("CheckSchema fails", func(t *testing.T) {
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = db.Close() }()
		err = sqlstore.CheckSchema(ctx, db, sqlite.Migrations())
		if err == nil || !strings.Contains(err.Error(), "run `dissent migrate`") {
			t.Errorf("CheckSchema on an empty database: %v, want an error that says to run `dissent migrate`", err)
		}
	})

	t.Run("Open without Migrate fails", func(t *testing.T) {
		s, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err == nil {
			_ = s.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "run `dissent migrate`") {
			t.Errorf("Open of an empty database without Migrate: %v, want an error that says to run `dissent migrate`", err)
		}
	})
}

// TestMigrateLeafActions upgrades a store whose leaves have no action.
func TestMigrateLeafActions(t *testing.T) { storetest.MigrateLeafActions(t, "sqlite") }

// TestMigrateRevisionTables upgrades a store holding revisions, a heading
// and items to the revision tables' new layout.
func TestMigrateRevisionTables(t *testing.T) { storetest.MigrateRevisionTables(t, "sqlite") }

// TestNewerSchemaIsNotMigrated: a binary older than the database must not
// tell the operator to run `dissent migrate`, which cannot help; it says
// to use the release that wrote the database.
func TestNewerSchemaIsNotMigrated(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "newer.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Raw().ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	err = sqlstore.CheckSchema(ctx, db, sqlite.Migrations())
	if err == nil || strings.Contains(err.Error(), "dissent migrate") || !strings.Contains(err.Error(), "newer than this binary") {
		t.Errorf("CheckSchema on a newer database: %v, want one that says it is newer, not to migrate", err)
	}
}

// TestCommitsWaitForTheDisk: every connection that writes syncs each
// commit to the disk (synchronous FULL or EXTRA, in WAL mode), so an
// acknowledged submission outlives a power cut. The crash test cannot see
// this: a killed process leaves the operating system's cache behind.
func TestCommitsWaitForTheDisk(t *testing.T) {
	db := storetest.OpenSQLite(t).(*sqlstore.DB)
	ctx := t.Context()
	var conns []*sql.Conn
	for range 2 { // the writer's pool holds two connections
		c, err := db.Raw().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var sync int
		var mode string
		if err := c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if sync < 2 || mode != "wal" {
			t.Errorf("writer connection %d: synchronous %d, journal %q; want FULL (2) or EXTRA (3) in WAL", i, sync, mode)
		}
		c.Close()
	}
}
