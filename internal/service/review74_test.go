package service_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// review74Store hands out write transactions whose Commit waits for the
// test's word, so that the test decides which of them share one group
// commit (sqlstore/group.go): each write transaction begun while armed
// is announced on began before it queues for the writer connection.
type review74Store struct {
	store.Store
	armed atomic.Bool
	began chan *review74Gate
}

type review74Gate struct{ reached, release chan struct{} }

type review74Tx struct {
	store.Tx
	g *review74Gate
}

func (s *review74Store) Begin(ctx context.Context, write bool) (store.Tx, error) {
	if !write || !s.armed.Load() {
		return s.Store.Begin(ctx, write)
	}
	g := &review74Gate{reached: make(chan struct{}), release: make(chan struct{})}
	s.began <- g
	tx, err := s.Store.Begin(ctx, true)
	if err != nil {
		return nil, err
	}
	return &review74Tx{Tx: tx, g: g}, nil
}

func (t *review74Tx) Commit() error {
	close(t.g.reached)
	<-t.g.release
	return t.Tx.Commit()
}

// review74FailCommits makes the COMMIT of any database transaction that
// wrote the setting "fail-commit" fail, as a full disk or a connection
// lost at the commit would.
func review74FailCommits(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	stmts := []string{
		`CREATE TABLE r74_parent (id INTEGER PRIMARY KEY)`,
		`CREATE TABLE r74_child (pid INTEGER REFERENCES r74_parent(id) DEFERRABLE INITIALLY DEFERRED)`,
		`CREATE TRIGGER r74_fail AFTER INSERT ON settings WHEN NEW.name = 'fail-commit' BEGIN INSERT INTO r74_child (pid) VALUES (1); END`,
	}
	if db.Dialect() == "postgres" {
		stmts = []string{
			`CREATE FUNCTION r74_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'the disk is full (simulated)'; END $$ LANGUAGE plpgsql`,
			`CREATE CONSTRAINT TRIGGER r74_fail AFTER INSERT ON settings DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.name = 'fail-commit') EXECUTE FUNCTION r74_fail()`,
		}
	}
	for _, s := range stmts {
		if _, err := db.Raw().ExecContext(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReview74FailedGroupLeavesNoKeyVersionBehind: a write transaction sees
// the rows of the members committed before it into its group (group.go),
// which are not durable until the group commits. When p1 opens a memo to
// comment on it in the same group as the office's removal of p2 (a key
// rotation to version 2), keysVouched records version 2 as this node's
// floor for the memo (vouchCache.floor, "never goes down"). If the group's
// commit then fails (a full disk, a lost connection), every member gets an
// error and nothing happened: the memo is still at key version 1, p2 still
// reads it. The node must not go on believing a version 2 was made: today
// every later opening of the memo on this node fails ("changed while you
// were working") and, once the ledger grows past the rolled-back entry's
// index, the memo is refused as tampering and the node stops reporting
// ready.
func TestReview74FailedGroupLeavesNoKeyVersionBehind(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		gs := &review74Store{Store: st, began: make(chan *review74Gate, 16)}
		d := servicetest.NewDeployment(t, gs)
		ctx := d.Ctx
		alice := d.Member("alice")
		m := submitted(t, d, alice, "a memo")
		p1 := d.Principals[0]
		review74FailCommits(t, st.(*sqlstore.DB))

		wait := func(what string, c <-chan struct{}) {
			t.Helper()
			select {
			case <-c:
			case <-time.After(30 * time.Second):
				t.Fatalf("timed out waiting for %s", what)
			}
		}
		nextBegin := func(what string) *review74Gate {
			t.Helper()
			select {
			case g := <-gs.began:
				time.Sleep(200 * time.Millisecond) // it queues for the writer connection
				return g
			case <-time.After(30 * time.Second):
				t.Fatalf("timed out waiting for %s to begin", what)
			}
			return nil
		}

		// x holds the writer connection and opens the group.
		x, err := st.Begin(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		gs.armed.Store(true)
		xErr := make(chan error, 1)
		aErr, bErr, yErr := make(chan error, 1), make(chan error, 1), make(chan error, 1)

		// a: the office takes p2 off the memo, which rotates its key.
		go func() {
			_, err := d.Svc.RevokeReader(ctx, d.Office, m.ID, "p2", "moved to another post")
			aErr <- err
		}()
		ga := nextBegin("the removal")
		go func() { xErr <- x.Commit() }()
		wait("the removal's commit", ga.reached)

		// b: p1 comments, opening the memo in the same group after a.
		go func() {
			_, err := d.Svc.Comment(ctx, p1, m.ID, "a comment")
			bErr <- err
		}()
		gb := nextBegin("the comment")
		close(ga.release)
		wait("the comment's commit", gb.reached)

		// y: the group's last member, whose commit fails.
		go func() {
			tx, err := gs.Begin(ctx, true)
			if err != nil {
				yErr <- err
				return
			}
			if err := tx.PutSetting(ctx, "fail-commit", []byte("x")); err != nil {
				_ = tx.Rollback()
				yErr <- err
				return
			}
			yErr <- tx.Commit()
		}()
		gy := nextBegin("the failing writer")
		gs.armed.Store(false)
		close(gb.release)
		close(gy.release)

		for name, c := range map[string]chan error{"x": xErr, "the removal": aErr, "the comment": bErr, "y": yErr} {
			select {
			case err := <-c:
				if err == nil {
					t.Fatalf("%s: its group's commit failed, but it got no error", name)
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("%s never returned", name)
			}
		}
		// Nothing of the group happened: p2 still reads the memo.
		if _, err := d.Svc.GetMemo(ctx, d.Principals[1], m.ID); err != nil {
			t.Errorf("p2, whose removal failed, cannot open the memo: %v", err)
		}
		for _, a := range []*service.Actor{d.Office, alice, p1} {
			if _, err := d.Svc.GetMemo(ctx, a, m.ID); err != nil {
				t.Errorf("%s cannot open the memo after a failed group commit: %v", a.User.Username, err)
			}
		}
		// The ledger grows past the index the rolled-back removal had.
		for range 3 {
			if _, err := d.Svc.Comment(ctx, d.Principals[1], m.ID, "later"); err != nil {
				t.Logf("p2 comments: %v", err)
			}
			_ = d.SignIn("alice")
		}
		for _, a := range []*service.Actor{d.Office, alice, p1} {
			if _, err := d.Svc.GetMemo(ctx, a, m.ID); err != nil {
				t.Errorf("%s cannot open the memo once the ledger grew: %v", a.User.Username, err)
			}
		}
		if err := d.Svc.Ready(ctx); err != nil {
			t.Errorf("the node no longer reports ready: %v", err)
		}
	})
}
