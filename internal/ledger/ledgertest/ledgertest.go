// Package ledgertest is the conformance suite for ledger.Storage
// implementations: every store (SQLite, PostgreSQL, ledger.MemStorage) runs
// TestStorage against itself, so the ledger behaves the same on all of them.
// It imports testing, which is why it lives apart from package ledger.
package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/ledger"
)

// Update runs fn in one transaction of the storage under test, passing fn the
// transaction's ledger.Storage: it commits if fn returns nil and rolls back
// and returns fn's error otherwise.
type Update func(ctx context.Context, fn func(ledger.Storage) error) error

// TestStorage checks a Storage implementation through update. The ledger must
// be empty when it starts; it is left holding a few hundred leaves.
func TestStorage(t *testing.T, update Update) {
	ctx := context.Background()
	// ref is the same ledger in memory: the store must agree with it hash for hash.
	ref := new(ledger.MemStorage)
	var next int64

	appendOne := func(t *testing.T, s ledger.Storage, leaf []byte) int64 {
		t.Helper()
		idx, err := ledger.Append(ctx, s, leaf)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		return idx
	}

	t.Run("empty", func(t *testing.T) {
		err := update(ctx, func(s ledger.Storage) error {
			n, err := s.LockedSize(ctx)
			if err != nil || n != 0 {
				return fmt.Errorf("LockedSize = %d, %v; want 0, nil", n, err)
			}
			if leaves, err := s.ReadLeaves(ctx, 0, 0); err != nil || len(leaves) != 0 {
				return fmt.Errorf("ReadLeaves(0, 0) = %d leaves, %v; want none", len(leaves), err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		missingIsErrRange(t, ctx, update, 0)
	})

	t.Run("append one per transaction", func(t *testing.T) {
		// 300 leaves cross a 256-leaf tile and complete subtrees up to level 8.
		for i := range 300 {
			leaf := Leaf(i)
			err := update(ctx, func(s ledger.Storage) error {
				if got := appendOne(t, s, leaf); got != next {
					return fmt.Errorf("append returned index %d, want %d", got, next)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			appendOne(t, ref, leaf)
			next++
		}
		compare(t, ctx, update, ref, next)
	})

	t.Run("append several in one transaction", func(t *testing.T) {
		var leaves [][]byte
		err := update(ctx, func(s ledger.Storage) error {
			for i := range 5 {
				leaf := Leaf(1000 + i)
				if got := appendOne(t, s, leaf); got != next+int64(i) {
					return fmt.Errorf("append returned index %d, want %d", got, next+int64(i))
				}
				leaves = append(leaves, leaf)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, leaf := range leaves {
			appendOne(t, ref, leaf)
			next++
		}
		compare(t, ctx, update, ref, next)
	})

	t.Run("rollback leaves no trace", func(t *testing.T) {
		errAbort := errors.New("abort")
		err := update(ctx, func(s ledger.Storage) error {
			appendOne(t, s, Leaf(2000))
			appendOne(t, s, Leaf(2001))
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("update = %v, want the transaction's own error", err)
		}
		leaf := Leaf(2002)
		err = update(ctx, func(s ledger.Storage) error {
			if got := appendOne(t, s, leaf); got != next {
				return fmt.Errorf("append after a rollback returned index %d, want %d", got, next)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		appendOne(t, ref, leaf)
		next++
		compare(t, ctx, update, ref, next)
	})

	t.Run("concurrent appends get distinct indexes", func(t *testing.T) {
		const goroutines, each = 8, 8
		var (
			mu   sync.Mutex
			seen = make(map[int64]bool)
			wg   sync.WaitGroup
			errs = make(chan error, goroutines*each)
		)
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					leaf := Leaf(3000 + g*each + i)
					err := update(ctx, func(s ledger.Storage) error {
						idx, err := ledger.Append(ctx, s, leaf)
						if err != nil {
							return err
						}
						mu.Lock()
						defer mu.Unlock()
						if seen[idx] {
							return fmt.Errorf("index %d appended twice", idx)
						}
						seen[idx] = true
						return nil
					})
					if err != nil {
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
		if t.Failed() {
			return
		}
		// The order is the store's; copy it into the reference.
		err := update(ctx, func(s ledger.Storage) error {
			leaves, err := s.ReadLeaves(ctx, next, next+goroutines*each)
			if err != nil {
				return err
			}
			for _, leaf := range leaves {
				appendOne(t, ref, leaf)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		next += goroutines * each
		compare(t, ctx, update, ref, next)
	})

	t.Run("missing hashes and leaves are ErrRange", func(t *testing.T) {
		missingIsErrRange(t, ctx, update, next)
	})

	t.Run("self-check passes", func(t *testing.T) {
		root, err := ledger.TreeHash(ctx, ref, next)
		if err != nil {
			t.Fatal(err)
		}
		cp := ledger.Checkpoint{Origin: "ledgertest", Size: next, Root: root}
		err = update(ctx, func(s ledger.Storage) error {
			return ledger.SelfCheck(ctx, s, &cp)
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// missingIsErrRange checks that reading past the end of a ledger of n leaves
// fails with ledger.ErrRange, which SelfCheck relies on to tell a missing row
// (tampering, named by leaf) from a storage failure.
func missingIsErrRange(t *testing.T, ctx context.Context, update Update, n int64) {
	t.Helper()
	err := update(ctx, func(s ledger.Storage) error {
		if _, err := s.ReadHashes(ctx, []int64{tlog.StoredHashCount(n)}); !errors.Is(err, ledger.ErrRange) {
			t.Errorf("ReadHashes of stored hash %d, never written = %v; want an error wrapping ledger.ErrRange", tlog.StoredHashCount(n), err)
		}
		if _, err := s.ReadLeaves(ctx, n, n+1); !errors.Is(err, ledger.ErrRange) {
			t.Errorf("ReadLeaves(%d, %d) past the end = %v; want an error wrapping ledger.ErrRange", n, n+1, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// compare checks that the store holds exactly ref's first n leaves and hashes.
func compare(t *testing.T, ctx context.Context, update Update, ref *ledger.MemStorage, n int64) {
	t.Helper()
	want, err := ref.ReadLeaves(ctx, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	err = update(ctx, func(s ledger.Storage) error {
		size, err := s.LockedSize(ctx)
		if err != nil || size != n {
			return fmt.Errorf("LockedSize = %d, %v; want %d", size, err, n)
		}
		got, err := s.ReadLeaves(ctx, 0, n)
		if err != nil {
			return fmt.Errorf("ReadLeaves(0, %d): %v", n, err)
		}
		for i := range want {
			if string(got[i]) != string(want[i]) {
				return fmt.Errorf("leaf %d = %q, want %q", i, got[i], want[i])
			}
		}
		for _, size := range []int64{0, 1, n / 3, n - 1, n} {
			g, err := ledger.TreeHash(ctx, s, size)
			if err != nil {
				return err
			}
			w, err := ledger.TreeHash(ctx, ref, size)
			if err != nil {
				return err
			}
			if g != w {
				return fmt.Errorf("TreeHash(%d) = %s, want %s", size, g, w)
			}
		}
		for _, idx := range []int64{0, n / 2, n - 1} {
			g, err := ledger.ProveInclusion(ctx, s, idx, n)
			if err != nil {
				return err
			}
			w, err := ledger.ProveInclusion(ctx, ref, idx, n)
			if err != nil {
				return err
			}
			if fmt.Sprint(g) != fmt.Sprint(w) {
				return fmt.Errorf("ProveInclusion(%d, %d) differs from the reference", idx, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Leaf returns the canonical encoding of a distinct, valid leaf for seed.
func Leaf(seed int) []byte {
	l := ledger.Leaf{
		Version: ledger.LeafVersion,
		Time:    time.Date(2026, 1, 2, 3, 4, 5, seed, time.UTC),
		Action:  "memo.read",
		Memo:    fmt.Sprintf("memo-%d", seed%97),
		Actor:   fmt.Sprintf("user-%d", seed),
		Role:    ledger.RolePrincipal,
	}
	b, err := l.Encode()
	if err != nil {
		panic("ledgertest: " + err.Error())
	}
	return b
}
