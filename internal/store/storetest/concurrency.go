package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/store"
)

// writers is how many goroutines write at once: several app nodes' worth of
// connections on PostgreSQL, a queue on SQLite's one writer.
const writers = 8

// inWriteTx runs f in a write transaction of its own and commits it, for
// goroutines that may not call t.Fatal.
func inWriteTx(ctx context.Context, s store.Store, f func(tx store.Tx) error) (err error) {
	tx, err := s.Begin(ctx, true)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, tx.Rollback()) }()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// concurrently runs f(0) … f(n-1) in goroutines released together, and
// returns their errors in order.
func concurrently(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// errUndo makes inWriteTx roll back.
var errUndo = errors.New("undo")

// testConcurrentAppends checks that appends from concurrent transactions
// form one ledger with no gaps, no forks and no lost leaves: on PostgreSQL
// the head-row lock must sequence them across connections. Among them are
// transactions that append and then roll back, and ones that read the size
// and hashes before appending, as a submission does: transactions grouped
// into one commit (group.go) must not take anything from one undone.
func testConcurrentAppends(t *testing.T, s store.Store) {
	const each = 50
	ctx := t.Context()
	errs := concurrently(writers, func(w int) error {
		for i := range each {
			ls := func(tx store.Tx) store.LedgerStorage { return tx.LedgerStorage(fmt.Sprintf("m%d", w), "memo.submit") }
			if i%7 == 3 {
				err := inWriteTx(ctx, s, func(tx store.Tx) error {
					if _, err := appendLeaf(ctx, ls(tx), []byte("undone")); err != nil {
						return err
					}
					return errUndo
				})
				if !errors.Is(err, errUndo) {
					return fmt.Errorf("writer %d undone append %d: %w", w, i, err)
				}
			}
			err := inWriteTx(ctx, s, func(tx store.Tx) error {
				if i%5 == 2 {
					n, err := ls(tx).LockedSize(ctx)
					if err != nil {
						return err
					}
					if n > 0 {
						if _, err := ls(tx).ReadHashes(ctx, []int64{tlog.StoredHashIndex(0, n-1)}); err != nil {
							return err
						}
					}
				}
				_, err := appendLeaf(ctx, ls(tx), fmt.Appendf(nil, "writer %d append %d", w, i))
				return err
			})
			if err != nil {
				return fmt.Errorf("writer %d append %d: %w", w, i, err)
			}
		}
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	var leaves [][]byte
	read(t, s, func(ctx context.Context, tx store.Tx) {
		var err error
		leaves, err = tx.LedgerStorage("", "").ReadLeaves(ctx, 0, writers*each)
		check(t, err)
		for w := range writers {
			entries, err := tx.MemoLedger(ctx, fmt.Sprintf("m%d", w))
			check(t, err)
			if len(entries) != each {
				t.Fatalf("writer %d has %d leaves, want %d", w, len(entries), each)
			}
			// Each writer appended in order, so its leaves are in order.
			for i, e := range entries {
				if want := fmt.Sprintf("writer %d append %d", w, i); string(e.Data) != want || !slices.Equal(leaves[e.Index], e.Data) {
					t.Fatalf("writer %d leaf %d at index %d is %q, want %q", w, i, e.Index, e.Data, want)
				}
			}
		}
	})
	checkTree(t, s, leaves)
}

// testConcurrentFailures runs writers at once of which some roll back and
// some commit after a statement of theirs failed (a unique violation),
// among writers that simply commit. Grouped into one database transaction
// or not, one writer's failure must stay its own: every other writer's
// commit succeeds and is there, nothing rolled back is, and a writer that
// commits after a failed statement either gets an error and left nothing
// (PostgreSQL, where a failed statement spoils the transaction) or gets
// nil and its other write is there (SQLite).
func testConcurrentFailures(t *testing.T, s store.Store) {
	const each = 25
	ctx := t.Context()
	createUsers(t, s, newUser("u-taken", "taken", "Taken"))
	committed := make([][]bool, writers)
	errs := concurrently(writers, func(w int) error {
		committed[w] = make([]bool, each)
		for i := range each {
			name := fmt.Sprintf("w%d-%d", w, i)
			tx, err := s.Begin(ctx, true)
			if err != nil {
				return err
			}
			if err := tx.PutSetting(ctx, name, []byte(name)); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("%s: %w", name, err)
			}
			switch i % 4 {
			case 1:
				if err := tx.Rollback(); err != nil {
					return fmt.Errorf("%s: rollback: %w", name, err)
				}
				continue
			case 2:
				taken := newUser(fmt.Sprintf("u-%s", name), "taken", "Taken")
				if err := tx.CreateUser(ctx, taken); !errors.Is(err, store.ErrConflict) {
					_ = tx.Rollback()
					return fmt.Errorf("%s: creating a taken username: %v, want ErrConflict", name, err)
				}
				committed[w][i] = tx.Commit() == nil
				continue
			}
			if err := tx.Commit(); err != nil {
				return fmt.Errorf("%s: commit: %w", name, err)
			}
			committed[w][i] = true
		}
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	read(t, s, func(ctx context.Context, tx store.Tx) {
		for w := range writers {
			for i := range each {
				name := fmt.Sprintf("w%d-%d", w, i)
				v, err := tx.Setting(ctx, name)
				switch {
				case committed[w][i] && (err != nil || string(v) != name):
					t.Errorf("%s committed but reads %q, %v", name, v, err)
				case !committed[w][i] && !errors.Is(err, store.ErrNotFound):
					t.Errorf("%s did not commit but reads %q, %v", name, v, err)
				}
			}
		}
	})
}

// testConcurrentMemoUpdates checks optimistic locking under contention: of
// several updates at the same version exactly one wins, every round.
func testConcurrentMemoUpdates(t *testing.T, s store.Store) {
	const rounds = 5
	ctx := t.Context()
	createMemos(t, s, newMemo("m1"))
	for round := range rounds {
		var base *store.Memo
		read(t, s, func(ctx context.Context, tx store.Tx) {
			var err error
			base, err = tx.MemoByID(ctx, "m1")
			check(t, err)
		})
		errs := concurrently(writers, func(w int) error {
			m := *base
			m.State = fmt.Sprintf("round %d writer %d", round, w)
			return inWriteTx(ctx, s, func(tx store.Tx) error { return tx.UpdateMemo(ctx, &m) })
		})
		winner := -1
		for w, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: writers %d and %d both won", round, winner, w)
			case err == nil:
				winner = w
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("round %d writer %d: %v, want nil or ErrConflict", round, w, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: every writer lost", round)
		}
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.MemoByID(ctx, "m1")
			check(t, err)
			same(t, "version", got.Version, base.Version+1)
			same(t, "state", got.State, fmt.Sprintf("round %d writer %d", round, winner))
		})
	}
}

// testConcurrentNotifications checks that notifications added at once to
// one user still get distinct, gapless seqs: "mark read up to" must never
// cover one the user has not seen.
func testConcurrentNotifications(t *testing.T, s store.Store) {
	const each = 10
	ctx := t.Context()
	createUsers(t, s, newUser("u-alice", "alice", "Alice"))
	errs := concurrently(writers, func(w int) error {
		for i := range each {
			n := &store.Notification{ID: fmt.Sprintf("n-%d-%d", w, i), UserID: "u-alice", Kind: "reply-due", MemoID: "m1", CreatedAt: t0, EmailState: "none"}
			if err := inWriteTx(ctx, s, func(tx store.Tx) error { return tx.AddNotification(ctx, n) }); err != nil {
				return fmt.Errorf("writer %d notification %d: %w", w, i, err)
			}
		}
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	read(t, s, func(ctx context.Context, tx store.Tx) {
		got, err := tx.Notifications(ctx, "u-alice", 2*writers*each)
		check(t, err)
		seqs := []int64{}
		for _, n := range got {
			seqs = append(seqs, n.Seq)
		}
		want := []int64{}
		for seq := int64(writers * each); seq > 0; seq-- {
			want = append(want, seq)
		}
		same(t, "seqs, newest first", seqs, want)
	})
}
