package postgres_test

import (
	"io/fs"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/postgres"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestStore runs the conformance suite against PostgreSQL; see
// storetest.OpenPostgres for which server, and when a missing one is skipped.
func TestStore(t *testing.T) {
	// Skip (or, in CI, fail) once rather than in every subtest when the
	// server is down.
	storetest.OpenPostgres(t)
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.OpenPostgres(t) })
}

// TestNodes runs the concurrency tests with two app nodes on one database.
func TestNodes(t *testing.T) {
	storetest.OpenPostgres(t)
	storetest.RunNodes(t, func(t *testing.T) []store.Store { return storetest.OpenPostgresNodes(t, 2) })
}

// TestReadAheadAnswersFromItsBatch shows the batch is what answers: reads
// outside a transaction see every commit at once (READ COMMITTED), so a
// memo read after another transaction changed it is the new one — except
// the first read after ReadAhead, which answers from what the batch read;
// and the same for the memo's current revision.
func TestReadAheadAnswersFromItsBatch(t *testing.T) {
	s := storetest.OpenPostgres(t)
	ctx := t.Context()
	do := func(write bool, f func(tx store.Tx) error) {
		t.Helper()
		tx, err := s.Begin(ctx, write)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := f(tx); err != nil {
			t.Fatal(err)
		}
		if write {
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	do(true, func(tx store.Tx) error {
		if err := tx.CreateMemo(ctx, &store.Memo{ID: "m1", State: "draft", Revision: 1, KeyVersion: 1, Roster: []byte("roster")}); err != nil {
			return err
		}
		return tx.PutRevision(ctx, &store.Revision{MemoID: "m1", Revision: 1, KeyVersion: 1, Sealed: []byte("first"), ContentHash: []byte("h"), Heading: []byte("h")})
	})
	reader, err := s.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	if err := reader.ReadAhead(ctx, store.Ahead{Memo: "m1"}); err != nil {
		t.Fatal(err)
	}
	do(true, func(tx store.Tx) error {
		m, err := tx.MemoByID(ctx, "m1")
		if err != nil {
			return err
		}
		m.State = "circulating"
		return tx.UpdateMemo(ctx, m)
	})
	// Revisions are never rewritten; only a hand with the database's
	// keys could, which is what shows where the first read came from.
	db := s.(*sqlstore.DB)
	if _, err := db.Raw().ExecContext(ctx, db.Rebind(`UPDATE revisions SET sealed = ? WHERE memo_id = ?`), []byte("rewritten"), "m1"); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"draft", "circulating"} {
		m, err := reader.MemoByID(ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		if m.State != want {
			t.Errorf("read %d after ReadAhead: state %q, want %q", i+1, m.State, want)
		}
	}
	for i, want := range []string{"first", "rewritten"} {
		r, err := reader.Revision(ctx, "m1", 1)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Sealed) != want {
			t.Errorf("revision read %d after ReadAhead: %q, want %q", i+1, r.Sealed, want)
		}
	}
}

// TestReadPageAheadAnswersFromItsBatch: the same for a page of memos — a
// wrap added after ReadPageAhead is missing from the first read of the
// page's wraps, which answers from the batch, and present in the next.
func TestReadPageAheadAnswersFromItsBatch(t *testing.T) {
	s := storetest.OpenPostgres(t)
	ctx := t.Context()
	put := func(kv int) {
		t.Helper()
		tx, err := s.Begin(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if kv == 1 {
			if err := tx.CreateMemo(ctx, &store.Memo{ID: "m1", State: "submitted", Revision: 1, KeyVersion: 1, Roster: []byte("roster")}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.PutAccess(ctx, &store.Access{MemoID: "m1", Grantee: "group:office", KeyVersion: kv, Wrapped: []byte("wrapped"), AddedAt: 1}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	put(1)
	reader, err := s.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	if err := reader.ReadPageAhead(ctx, []string{"m1"}, nil, nil, []string{"group:office"}); err != nil {
		t.Fatal(err)
	}
	put(2)
	for i, want := range []int{1, 2} {
		got, err := reader.AccessForMemos(ctx, []string{"m1"}, []string{"group:office"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("read %d after ReadPageAhead: %d wraps, want %d", i+1, len(got), want)
		}
	}
}

// TestMigrateLeafActions upgrades a store whose leaves have no action.
func TestMigrateLeafActions(t *testing.T) { storetest.MigrateLeafActions(t, "postgres") }

// TestMigrateRevisionTables upgrades a store holding revisions, a heading
// and items to the revision tables' new layout.
func TestMigrateRevisionTables(t *testing.T) { storetest.MigrateRevisionTables(t, "postgres") }

// TestNodesMigrateTogether starts four app nodes on one new schema at once,
// as a deployment's nodes restarted together after an upgrade would: each
// must come up, the migrations applied once.
func TestNodesMigrateTogether(t *testing.T) {
	sc := storetest.NewPostgresSchema(t, "dissent_test_")
	ctx := t.Context()
	errs := make(chan error, 4)
	var applied atomic.Int64
	for range 4 {
		go func() {
			s, err := postgres.Open(ctx, sc.DSN, postgres.Options{Migrate: true, MaxConns: 2,
				Migrated: func(string, time.Duration) { applied.Add(1) }})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("a node starting beside others: %v", err)
		}
	}
	if n, want := applied.Load(), int64(len(migrations(t))); n != want {
		t.Errorf("%d migrations applied in all, want %d (each once)", n, want)
	}
}

func migrations(t *testing.T) []string {
	names, err := fs.Glob(postgres.Migrations(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestCommitsWaitForTheDisk: a commit returns once PostgreSQL has flushed
// it (synchronous_commit on, or stronger, and fsync on), so an
// acknowledged submission outlives a crash of the database's machine.
func TestCommitsWaitForTheDisk(t *testing.T) {
	db := storetest.OpenPostgres(t).(*sqlstore.DB)
	for setting, ok := range map[string][]string{
		"synchronous_commit": {"on", "remote_write", "remote_apply"},
		"fsync":              {"on"},
	} {
		var v string
		if err := db.Raw().QueryRowContext(t.Context(), `SELECT current_setting($1)`, setting).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ok, v) {
			t.Errorf("%s is %q: a commit could return before it is on the disk", setting, v)
		}
	}
}
