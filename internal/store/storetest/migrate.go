package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"io/fs"
	"path/filepath"
	"reflect"
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

// oldSchema is a store of the named kind ("sqlite" or "postgres") migrated
// only so far: raw writes rows as an older release would, and open opens it
// as the store, applying the migrations after.
type oldSchema struct {
	raw      *sql.DB
	numbered bool
	open     func() (store.Store, error)
}

// atMigration makes a store of the named kind at migration n.
func atMigration(t testing.TB, name string, n int) oldSchema {
	t.Helper()
	ctx := t.Context()
	var (
		o    oldSchema
		fsys fs.FS
		err  error
	)
	switch name {
	case "sqlite":
		path := filepath.Join(t.TempDir(), "dissent.db")
		o.raw, err = sql.Open("sqlite", "file:"+path)
		fsys = sqlite.Migrations()
		o.open = func() (store.Store, error) { return sqlite.Open(ctx, path, sqlite.Options{Migrate: true}) }
	case "postgres":
		sc := NewPostgresSchema(t, "dissent_test_")
		o.raw, err = sql.Open("pgx", sc.DSN)
		o.numbered = true
		fsys = postgres.Migrations()
		o.open = func() (store.Store, error) {
			return postgres.Open(ctx, sc.DSN, postgres.Options{Migrate: true, MaxConns: 2})
		}
	default:
		t.Fatalf("storetest: no store %q", name)
	}
	check(t, err)
	t.Cleanup(func() { _ = o.raw.Close() })
	if _, err := sqlstore.Migrate(ctx, o.raw, o.dialect(), migrationsThrough(t, fsys, n), nil); err != nil {
		t.Fatal(err)
	}
	return o
}

// dialect is enough of the store's dialect for SQL of the test's own.
func (o oldSchema) dialect() sqlstore.Dialect { return sqlstore.Dialect{Numbered: o.numbered} }

// exec runs SQL of the test's own on the old schema ('?' placeholders).
func (o oldSchema) exec(t testing.TB, query string, args ...any) {
	t.Helper()
	if _, err := o.raw.ExecContext(t.Context(), o.dialect().Rebind(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// MigrateLeafActions checks migration 0005 on the store named ("sqlite" or
// "postgres"): leaves written by a schema without the action column are
// sorted after the upgrade into a memo's history and its reads, and a leaf
// that is not JSON (tampered with) stops neither the upgrade nor the reads.
func MigrateLeafActions(t *testing.T, name string) {
	schema := atMigration(t, name, 4)
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
	for i, l := range old {
		schema.exec(t, `INSERT INTO ledger_leaves (idx, memo_id, data) VALUES (?, ?, ?)`, i, l.memo, l.data)
	}
	// Within the ledger's head, as appended rows are: a memo's history
	// stops there (review 57).
	schema.exec(t, `UPDATE ledger_head SET size = ? WHERE id = 1`, len(old))

	s, err := schema.open()
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

// MigrateRevisionTables checks migration 0006 on the store named: the
// revisions, headings and items an older schema holds read back the same
// after it, a heading still needs its revision, and the tables have the
// layout the migration gives them (SQLite: rowid tables; PostgreSQL: sealed
// columns stored out of line, uncompressed).
func MigrateRevisionTables(t *testing.T, name string) {
	schema := atMigration(t, name, 5)
	sealed := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	revs := []*store.Revision{
		{MemoID: "m1", Revision: 1, KeyVersion: 1, Sealed: sealed(9000), ContentHash: sealed(32), CreatedAt: 100},
		{MemoID: "m1", Revision: 2, KeyVersion: 1, Sealed: sealed(300), ContentHash: sealed(32), CreatedAt: 200},
		{MemoID: "m2", Revision: 1, KeyVersion: 2, Sealed: sealed(20000), ContentHash: sealed(32), CreatedAt: 300},
	}
	heading := sealed(150)
	items := []*store.Item{
		{ID: "i2", MemoID: "m1", Kind: "reply", KeyVersion: 1, Sealed: sealed(12000), CreatedAt: 400},
		{ID: "i1", MemoID: "m1", Kind: "comment", KeyVersion: 1, Sealed: sealed(40), CreatedAt: 500},
	}
	for _, id := range []string{"m1", "m2"} {
		schema.exec(t, `INSERT INTO memos (id, state, profile, revision, key_version, created_at, updated_at, roster) VALUES (?, 'draft', 'state', 1, 1, 1, 1, ?)`, id, []byte("roster"))
	}
	for _, r := range revs {
		schema.exec(t, `INSERT INTO revisions (memo_id, revision, key_version, sealed, content_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			r.MemoID, r.Revision, r.KeyVersion, r.Sealed, r.ContentHash, r.CreatedAt)
	}
	schema.exec(t, `INSERT INTO revision_headings (memo_id, revision, key_version, sealed) VALUES ('m1', 2, 1, ?)`, heading)
	for _, it := range items {
		schema.exec(t, `INSERT INTO items (id, memo_id, kind, key_version, sealed, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			it.ID, it.MemoID, it.Kind, it.KeyVersion, it.Sealed, it.CreatedAt)
	}

	s, err := schema.open()
	if err != nil {
		t.Fatalf("upgrading a store with revisions: %v", err)
	}
	defer s.Close()
	read(t, s, func(ctx context.Context, tx store.Tx) {
		for _, want := range revs {
			got, err := tx.Revision(ctx, want.MemoID, want.Revision)
			check(t, err)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("revision %s/%d after the upgrade: %+v, want %+v", want.MemoID, want.Revision, got, want)
			}
		}
		all, err := tx.Revisions(ctx, "m1", 0, 0)
		check(t, err)
		if !reflect.DeepEqual(all, revs[:2]) {
			t.Errorf("m1's revisions after the upgrade: %+v", all)
		}
		h, err := tx.Headings(ctx, map[string]int{"m1": 2, "m2": 1})
		check(t, err)
		if want := (map[string]store.Heading{"m1": {Revision: 2, KeyVersion: 1, Sealed: heading}}); !reflect.DeepEqual(h, want) {
			t.Errorf("headings after the upgrade: %d, want m1's revision 2 alone, as stored", len(h))
		}
		got, err := tx.Items(ctx, "m1")
		check(t, err)
		if !reflect.DeepEqual(got, items) {
			t.Errorf("m1's items after the upgrade: %+v, want %+v", got, items)
		}
	})

	// The store's own connection enforces foreign keys: a heading of a
	// revision that does not exist is refused.
	raw := s.(interface{ Raw() *sql.DB }).Raw()
	ctx := t.Context()
	if _, err := raw.ExecContext(ctx, schema.dialect().Rebind(`INSERT INTO revision_headings (memo_id, revision, key_version, sealed) VALUES ('m1', 9, 1, ?)`), heading); err == nil {
		t.Error("a heading of a revision that does not exist was stored after the upgrade")
	}

	var layout []string
	query := `SELECT name FROM sqlite_schema WHERE name IN ('revisions', 'items') AND sql LIKE '%WITHOUT ROWID%'`
	if schema.numbered {
		query = `SELECT attrelid::regclass::text FROM pg_attribute WHERE attrelid IN ('revisions'::regclass, 'items'::regclass) AND attname = 'sealed' AND attstorage <> 'e'`
	}
	rows, err := raw.QueryContext(ctx, query)
	check(t, err)
	defer rows.Close()
	for rows.Next() {
		var table string
		check(t, rows.Scan(&table))
		layout = append(layout, table)
	}
	check(t, rows.Err())
	if len(layout) > 0 {
		t.Errorf("tables %v kept their old layout after the upgrade", layout)
	}
}
