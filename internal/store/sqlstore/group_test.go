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

// TestGroupCommitKeepsTheIndexApart: a transaction that writes the author
// index (BeginIndex) never shares a commit with another writer's, in
// either order, and every writer's work is there when its Commit returns
// nil: the writes that name a person (a user's row, a ledger leaf with an
// actor, a notice) included, which on PostgreSQL are queued on the group's
// pipelined connection until its commit. A transaction not begun for it
// may not write the index at all.
func TestGroupCommitKeepsTheIndexApart(t *testing.T) {
	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	leaf, err := ledger.Leaf{Version: ledger.LeafVersion, Time: at, Action: "session.create", Actor: "u0", Role: "principal"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	writes := map[string]struct {
		write func(ctx context.Context, tx store.Tx) error
		there func(ctx context.Context, tx store.Tx) error
	}{
		"a user's row": {
			write: func(ctx context.Context, tx store.Tx) error {
				return tx.CreateUser(ctx, &store.User{ID: "u1", Username: "someone", Roles: []string{"member"}, KeyState: "active", SignPublic: []byte{1}, KeysSealed: []byte{1}, KeysRecovery: []byte{1}})
			},
			there: func(ctx context.Context, tx store.Tx) error { _, err := tx.UserByID(ctx, "u1"); return err },
		},
		"a leaf naming its actor": {
			write: func(ctx context.Context, tx store.Tx) error {
				_, err := ledger.Append(ctx, tx.LedgerStorage("", ""), leaf)
				return err
			},
			there: func(ctx context.Context, tx store.Tx) error {
				got, err := tx.LedgerStorage("", "").ReadLeaves(ctx, 0, 1)
				if err == nil && string(got[0]) != string(leaf) {
					err = fmt.Errorf("leaf 0 is %s", got[0])
				}
				return err
			},
		},
		"a notice": {
			write: func(ctx context.Context, tx store.Tx) error {
				return tx.AddNotification(ctx, &store.Notification{ID: "n1", UserID: "u0", Kind: "memo.submitted", CreatedAt: at.UnixMicro(), EmailState: "none"})
			},
			there: func(ctx context.Context, tx store.Tx) error {
				ns, err := tx.Notifications(ctx, "u0", 10)
				if err == nil && len(ns) != 1 {
					err = fmt.Errorf("%d notices, want 1", len(ns))
				}
				return err
			},
		},
	}
	for name, w := range writes {
		for _, indexFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, the index written first: %v", name, indexFirst), func(t *testing.T) {
				onBoth(t, func(t *testing.T, db *sqlstore.DB) {
					ctx := t.Context()
					tx, err := db.Begin(ctx, true) // the one a notice is for
					if err != nil {
						t.Fatal(err)
					}
					if err := tx.CreateUser(ctx, &store.User{ID: "u0", Username: "earlier", Roles: []string{"member"}, KeyState: "active", SignPublic: []byte{1}, KeysSealed: []byte{1}, KeysRecovery: []byte{1}}); err != nil {
						t.Fatal(err)
					}
					if err := tx.Commit(); err != nil {
						t.Fatal(err)
					}
					testGroupCommitKeepsTheIndexApart(t, db, indexFirst, w.write, w.there)
				})
			})
		}
	}
}

func testGroupCommitKeepsTheIndexApart(t *testing.T, db *sqlstore.DB, indexFirst bool, write, there func(ctx context.Context, tx store.Tx) error) {
	ctx := t.Context()
	type commit struct {
		alone   bool
		members int
	}
	var mu sync.Mutex
	var commits []commit
	sqlstore.OnGroupCommit(db, func(alone bool, members int) {
		mu.Lock()
		defer mu.Unlock()
		commits = append(commits, commit{alone, members})
	})
	index := func(ctx context.Context, tx store.Tx) error {
		return tx.PutIndexEntry(ctx, []byte("owner"), []byte("entry"), []byte("sealed"))
	}
	other := func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutSetting(ctx, "before", []byte("kept")); err != nil {
			return err
		}
		return write(ctx, tx)
	}
	plain := func() (store.Tx, error) { return db.Begin(ctx, true) }
	apart := func() (store.Tx, error) { return db.BeginIndex(ctx) }
	beginFirst, first, beginSecond, second := plain, other, apart, index
	if indexFirst {
		beginFirst, first, beginSecond, second = apart, index, plain, other
	}
	a, err := beginFirst()
	if err != nil {
		t.Fatal(err)
	}
	if err := first(ctx, a); err != nil {
		t.Fatal(err)
	}
	// b waits for the connection while a commits.
	bTx := make(chan store.Tx, 1)
	go func() {
		b, err := beginSecond()
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
	if b == nil {
		t.FailNow()
	}
	select {
	case err := <-aDone:
		if err != nil {
			t.Fatalf("the first writer's commit: %v", err)
		}
	case <-time.After(10 * time.Second):
		// Grouped, a's commit would wait for b's, which this test holds back.
		t.Fatal("the first writer's commit waits for the second writer: their writes share a commit")
	}
	if err := second(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(commits) != 2 || commits[0].members != 1 || commits[1].members != 1 || commits[0].alone != indexFirst || commits[1].alone == indexFirst {
		t.Errorf("got commits %+v, want two of one transaction each, the index's alone", commits)
	}
	tx, err := db.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if v, err := tx.Setting(ctx, "before"); err != nil || string(v) != "kept" {
		t.Errorf("the other writer's setting: %q, %v", v, err)
	}
	if err := there(ctx, tx); err != nil {
		t.Errorf("a commit returned nil, but its write is not there: %v", err)
	}
	if _, err := tx.IndexEntry(ctx, [][]byte{[]byte("owner")}, []byte("entry")); err != nil {
		t.Errorf("the index entry: %v", err)
	}
}

// TestGroupCommitIndexBeginFails: a transaction begun for the author index
// commits the open group first; when its own group then cannot begin (the
// database is gone), BeginIndex says so, the group's members still get
// their commit, and the next writer is not held up.
func TestGroupCommitIndexBeginFails(t *testing.T) {
	db := openSQLite(t)
	ctx := t.Context()
	a, err := db.Begin(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.PutSetting(ctx, "a", []byte("a")); err != nil {
		t.Fatal(err)
	}
	bErr := make(chan error, 1)
	go func() {
		b, err := db.BeginIndex(ctx)
		if err == nil {
			_ = b.Rollback()
		}
		bErr <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); sqlstore.Waiting(db) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the second writer never queued")
		}
		time.Sleep(time.Millisecond)
	}
	_ = db.Raw().Close() // the writer pool gives no new transaction
	if err := a.Commit(); err != nil {
		t.Fatalf("the first writer's commit, made by the index writer before its own group: %v", err)
	}
	if err := <-bErr; err == nil {
		t.Fatal("BeginIndex on a closed database worked")
	}
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if c, err := db.Begin(ctx2, true); err == nil {
		_ = c.Rollback()
	} else if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the next writer waits for a turn the failed BeginIndex kept")
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
