package storetest

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/postgres"
	"github.com/dissent-channel/dissent/internal/store/sqlite"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
)

// migrationsThrough returns the first n of the migrations in fsys.
func migrationsThrough(t testing.TB, fsys fs.FS, n int) fs.FS {
	t.Helper()
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil || len(names) < n {
		t.Fatalf("storetest: %d migrations, want at least %d (%v)", len(names), n, err)
	}
	out := fstest.MapFS{}
	for _, name := range names[:n] {
		b, err := fs.ReadFile(fsys, name)
		check(t, err)
		out[name] = &fstest.MapFile{Data: b}
	}
	return out
}

// MigrateLeafActions checks migration 0005 on the store named ("sqlite" or
// "postgres"): leaves written by a schema without the action column are
// sorted after the upgrade into a memo's history and its reads, and a leaf
// that is not JSON (tampered with) stops neither the upgrade nor the reads.
func MigrateLeafActions(t *testing.T, name string) {
	ctx := t.Context()
	var (
		raw      *sql.DB
		numbered bool
		open     func() (store.Store, error)
		err      error
	)
	switch name {
	case "sqlite":
		path := filepath.Join(t.TempDir(), "dissent.db")
		raw, err = sql.Open("sqlite", "file:"+path)
		open = func() (store.Store, error) { return sqlite.Open(ctx, path, sqlite.Options{Migrate: true}) }
	case "postgres":
		sc := NewPostgresSchema(t, "dissent_test_")
		raw, err = sql.Open("pgx", sc.DSN)
		numbered = true
		open = func() (store.Store, error) {
			return postgres.Open(ctx, sc.DSN, postgres.Options{Migrate: true, MaxConns: 2})
		}
	default:
		t.Fatalf("storetest: no store %q", name)
	}
	check(t, err)
	defer raw.Close()
	fsys := sqlite.Migrations()
	if numbered {
		fsys = postgres.Migrations()
	}
	if _, err := sqlstore.Migrate(ctx, raw, sqlstore.Dialect{Numbered: numbered}, migrationsThrough(t, fsys, 4), nil); err != nil {
		t.Fatal(err)
	}

	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	leaf := func(action, memo string) []byte {
		l := ledger.Leaf{Version: 1, Time: at, Action: action, Memo: memo, Role: "office", Actor: "u-office"}
		if memo == "" {
			l.Role, l.Actor = "system", ""
		}
		b, err := l.Encode()
		check(t, err)
		return b
	}
	old := []struct {
		memo any
		data []byte
	}{
		{"m1", leaf("memo.create", "m1")},
		{nil, leaf("session.create", "")},
		{"m1", leaf(store.ReadAction, "m1")},
		{"m2", leaf(store.ReadAction, "m2")},
		{"m1", leaf("memo.submit", "m1")},
		{"m1", []byte{0xff, 0x00, '{'}},
	}
	insert := `INSERT INTO ledger_leaves (idx, memo_id, data) VALUES (?, ?, ?)`
	if numbered {
		insert = `INSERT INTO ledger_leaves (idx, memo_id, data) VALUES ($1, $2, $3)`
	}
	for i, l := range old {
		if _, err := raw.ExecContext(ctx, insert, i, l.memo, l.data); err != nil {
			t.Fatal(err)
		}
	}

	s, err := open()
	if err != nil {
		t.Fatalf("upgrading a store with leaves: %v", err)
	}
	defer s.Close()
	entries := func(indexes ...int64) []store.LedgerEntry {
		var out []store.LedgerEntry
		for _, i := range indexes {
			out = append(out, store.LedgerEntry{Index: i, Data: old[i].data})
		}
		return out
	}
	read(t, s, func(ctx context.Context, tx store.Tx) {
		history, err := tx.MemoLedger(ctx, "m1")
		check(t, err)
		sameEntries(t, history, entries(0, 4))
		reads, err := tx.MemoReads(ctx, "m1", -1, 10)
		check(t, err)
		sameEntries(t, reads, entries(2))
		reads, err = tx.MemoReads(ctx, "m2", -1, 10)
		check(t, err)
		sameEntries(t, reads, entries(3))
	})
}
