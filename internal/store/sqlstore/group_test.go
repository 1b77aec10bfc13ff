package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlite"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

func openSQLite(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "dissent.db"), sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// onBoth runs test against SQLite and PostgreSQL, whose groups differ: one
// runs on database/sql's transaction, the other pipelined on pgx (pipe.go).
func onBoth(t *testing.T, test func(t *testing.T, db *sqlstore.DB)) {
	t.Run("sqlite", func(t *testing.T) { test(t, openSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { test(t, storetest.OpenPostgres(t).(*sqlstore.DB)) })
}

func setting(t *testing.T, db *sqlstore.DB, name string) ([]byte, error) {
	t.Helper()
	tx, err := db.Begin(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	return tx.Setting(t.Context(), name)
}

// TestGroupCommitConcurrentWriters runs many writers at once, some of which
// roll back or hit a constraint: every commit that returned nil is there,
// nothing rolled back is, and no write is lost or doubled.
func TestGroupCommitConcurrentWriters(t *testing.T) { onBoth(t, testGroupCommitConcurrentWriters) }

func testGroupCommitConcurrentWriters(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	// After a failed statement, PostgreSQL refuses the rest of the
	// transaction: its commit fails, and nothing of it is kept. SQLite
	// commits what did work.
	spoils := db.Dialect() == "postgres"
	var mu sync.Mutex
	created := "" // the one writer whose CreateUser of "dup" worked
	kept := func(name string, i int) bool {
		return i%5 != 1 && (i%5 != 2 || !spoils || name == created)
	}
	const writers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("w%d-%d", w, i)
				tx, err := db.Begin(ctx, true)
				if err != nil {
					errs <- err
					return
				}
				if err := tx.PutSetting(ctx, name, []byte(name)); err != nil {
					errs <- err
				}
				switch i % 5 {
				case 1: // rolls back
					if err := tx.Rollback(); err != nil {
						errs <- err
					}
					continue
				case 2: // a failed statement, then a commit of what did work
					err := tx.CreateUser(ctx, &store.User{ID: "dup", Username: "dup", Roles: []string{"member"}, KeyState: "active"})
					if err != nil && !errors.Is(err, store.ErrConflict) {
						errs <- err
					}
					if err == nil {
						mu.Lock()
						created = name
						mu.Unlock()
					}
					if spoils && err != nil {
						if err := tx.Commit(); err == nil {
							errs <- fmt.Errorf("%s: a commit after a failed statement succeeded", name)
						}
						continue
					}
				}
				if err := tx.Commit(); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range writers {
		for i := range each {
			name := fmt.Sprintf("w%d-%d", w, i)
			v, err := setting(t, db, name)
			switch {
			case !kept(name, i) && !errors.Is(err, store.ErrNotFound):
				t.Errorf("%s was rolled back but reads %q, %v", name, v, err)
			case kept(name, i) && (err != nil || string(v) != name):
				t.Errorf("%s was committed but reads %q, %v", name, v, err)
			}
		}
	}
	want := 0
	for w := range writers {
		for i := range each {
			if kept(fmt.Sprintf("w%d-%d", w, i), i) {
				want++
			}
		}
	}
	commits, syncs, ok := db.CommitStats()
	if !ok || commits != int64(want) || syncs < 1 || syncs > commits {
		t.Errorf("CommitStats = %d commits in %d syncs (%v)", commits, syncs, ok)
	}
	t.Logf("%d commits in %d fsyncs", commits, syncs)
}

// TestGroupCommitKeepsUsersFromIndex checks that a user-row write never
// shares a database commit with an author-index write: the writer that
// would mix them has its writes replayed in a commit of its own, and both
// writers' work is there.
// TestGroupCommitKeepsPersonsFromIndex: a write that names a person — a
// user's row, a ledger leaf with an actor, a notice to them, a grant of
// access — never shares a commit with an author-index write of another
// writer: the second writer's writes are replayed in a commit of their own.
func TestGroupCommitKeepsPersonsFromIndex(t *testing.T) {
	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	for name, write := range map[string]func(ctx context.Context, tx store.Tx) error{
		"a user's row": func(ctx context.Context, tx store.Tx) error {
			return tx.CreateUser(ctx, &store.User{ID: "u1", Username: "someone", Roles: []string{"member"}, KeyState: "active", SignPublic: []byte{1}, KeysSealed: []byte{1}, KeysRecovery: []byte{1}})
		},
		"a leaf naming its actor": func(ctx context.Context, tx store.Tx) error {
			leaf, err := ledger.Leaf{Version: ledger.LeafVersion, Time: at, Action: "session.create", Actor: "u1", Role: "principal"}.Encode()
			if err != nil {
				return err
			}
			_, err = ledger.Append(ctx, tx.LedgerStorage("", ""), leaf)
			return err
		},
		"a notice": func(ctx context.Context, tx store.Tx) error {
			return tx.AddNotification(ctx, &store.Notification{ID: "n1", UserID: "u0", Kind: "memo.submitted", CreatedAt: at.UnixMicro(), EmailState: "none"})
		},
	} {
		t.Run(name, func(t *testing.T) {
			onBoth(t, func(t *testing.T, db *sqlstore.DB) {
				// The one a notice is for, there before the test's writers.
				tx, err := db.Begin(t.Context(), true)
				if err != nil {
					t.Fatal(err)
				}
				if err := tx.CreateUser(t.Context(), &store.User{ID: "u0", Username: "earlier", Roles: []string{"member"}, KeyState: "active", SignPublic: []byte{1}, KeysSealed: []byte{1}, KeysRecovery: []byte{1}}); err != nil {
					t.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
				testGroupCommitKeepsPersonsFromIndex(t, db, write)
			})
		})
	}
}

func testGroupCommitKeepsPersonsFromIndex(t *testing.T, db *sqlstore.DB, write func(ctx context.Context, tx store.Tx) error) {
	ctx := t.Context()
	var mu sync.Mutex
	var groups [][2]bool
	sqlstore.OnGroupCommit(db, func(persons, index bool, members int) {
		mu.Lock()
		defer mu.Unlock()
		groups = append(groups, [2]bool{persons, index})
	})

	a, err := db.Begin(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.PutIndexEntry(ctx, []byte("owner"), []byte("entry"), []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	// b waits for the connection while a commits, so a passes its group on.
	bTx := make(chan store.Tx, 1)
	go func() {
		b, err := db.Begin(ctx, true)
		if err != nil {
			t.Error(err)
		}
		bTx <- b
	}()
	for deadline := time.Now().Add(10 * time.Second); sqlstore.Waiting(db) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the second writer never queued")
		}
		time.Sleep(time.Millisecond)
	}
	aDone := make(chan error, 1)
	go func() { aDone <- a.Commit() }()
	b := <-bTx
	if err := b.PutSetting(ctx, "before", []byte("replayed")); err != nil {
		t.Fatal(err)
	}
	if err := write(ctx, b); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-aDone:
		if err != nil {
			t.Fatalf("the first writer's commit: %v", err)
		}
	case <-time.After(10 * time.Second):
		// Grouped, a's commit waits for b's, which this test holds back.
		t.Fatal("the first writer's commit waits for the second writer: their writes share a commit")
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}

	for _, g := range groups {
		if g[0] && g[1] {
			t.Errorf("a commit held both rows naming a person and author-index rows: %v", groups)
		}
	}
	if len(groups) != 2 {
		t.Errorf("got commits %v, want two", groups)
	}
	if v, err := setting(t, db, "before"); err != nil || string(v) != "replayed" {
		t.Errorf("the write before the split: %q, %v", v, err)
	}
	tx, _ := db.Begin(ctx, false)
	defer tx.Rollback()
	if _, err := tx.IndexEntry(ctx, []byte("owner"), []byte("entry")); err != nil {
		t.Errorf("the index entry: %v", err)
	}
}

// TestGroupCommitWaiterGivesUp checks that a writer whose context ends
// while it waits neither blocks the group it would have joined nor gets in.
func TestGroupCommitWaiterGivesUp(t *testing.T) { onBoth(t, testGroupCommitWaiterGivesUp) }

func testGroupCommitWaiterGivesUp(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	a, err := db.Begin(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.PutSetting(ctx, "a", []byte("a")); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() {
		tx, err := db.Begin(wctx, true)
		if err == nil {
			err = tx.Rollback() // it got in before it gave up
		}
		gaveUp <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); sqlstore.Waiting(db) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the second writer never queued")
		}
		time.Sleep(time.Millisecond)
	}
	committed := make(chan error, 1)
	go func() { committed <- a.Commit() }()
	cancel()
	if err := <-gaveUp; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("the waiter: %v", err)
	}
	select {
	case err := <-committed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the first writer's commit never returned")
	}
	if v, err := setting(t, db, "a"); err != nil || string(v) != "a" {
		t.Errorf("a: %q, %v", v, err)
	}
}
