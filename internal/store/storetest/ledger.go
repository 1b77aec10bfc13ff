package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
)

// appendLeaf appends leaf to the ledger the way package ledger does: lock
// the head, compute the new stored hashes from those already stored, write.
func appendLeaf(ctx context.Context, ls store.LedgerStorage, leaf []byte) (int64, error) {
	n, err := ls.LockedSize(ctx)
	if err != nil {
		return 0, err
	}
	hashes, err := tlog.StoredHashesForRecordHash(n, tlog.RecordHash(leaf), storedHashes(ctx, ls))
	if err != nil {
		return 0, err
	}
	indexes := make([]int64, len(hashes))
	for i := range hashes {
		indexes[i] = tlog.StoredHashIndex(0, n) + int64(i)
	}
	return n, ls.WriteLeaf(ctx, n, leaf, indexes, hashes)
}

// appendLeaves appends leaves in one transaction.
func appendLeaves(t testing.TB, ls store.LedgerStorage, leaves ...[]byte) {
	t.Helper()
	for _, leaf := range leaves {
		if _, err := appendLeaf(t.Context(), ls, leaf); err != nil {
			t.Fatalf("append %q: %v", leaf, err)
		}
	}
}

// storedHashes adapts a LedgerStorage to tlog.HashReader.
func storedHashes(ctx context.Context, ls store.LedgerStorage) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) { return ls.ReadHashes(ctx, indexes) })
}

// inMemory reads stored hashes from *hashes.
func inMemory(hashes *[]tlog.Hash) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			out[i] = (*hashes)[x]
		}
		return out, nil
	})
}

// memoryTree returns the stored hashes of a tree of leaves, built in memory.
func memoryTree(t testing.TB, leaves [][]byte) []tlog.Hash {
	t.Helper()
	var hashes []tlog.Hash
	r := inMemory(&hashes)
	for i, leaf := range leaves {
		hs, err := tlog.StoredHashes(int64(i), leaf, r)
		check(t, err)
		hashes = append(hashes, hs...)
	}
	return hashes
}

// checkTree checks that the stored ledger holds exactly leaves, and that its
// stored hashes and tree hash are those of leaves built in memory.
func checkTree(t testing.TB, s store.Store, leaves [][]byte) {
	t.Helper()
	n := int64(len(leaves))
	write(t, s, func(ctx context.Context, tx store.Tx) {
		ls := tx.LedgerStorage("", "")
		size, err := ls.LockedSize(ctx)
		check(t, err)
		if size != n {
			t.Fatalf("ledger size %d, want %d", size, n)
		}
		got, err := ls.ReadLeaves(ctx, 0, n)
		check(t, err)
		sameBlobs(t, "leaves", got, leaves)

		want := memoryTree(t, leaves)
		indexes := make([]int64, tlog.StoredHashCount(n))
		for i := range indexes {
			indexes[i] = int64(i)
		}
		stored, err := ls.ReadHashes(ctx, indexes)
		check(t, err)
		same(t, "stored hashes", stored, want)

		th, err := tlog.TreeHash(n, storedHashes(ctx, ls))
		check(t, err)
		wantTH, err := tlog.TreeHash(n, inMemory(&want))
		check(t, err)
		if th != wantTH {
			t.Errorf("tree hash of the stored ledger %v, want %v", th, wantTH)
		}
	})
}

func testLedger(t *testing.T, s store.Store) {
	t.Run("an empty ledger has size zero", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) {
			n, err := tx.LedgerStorage("", "").LockedSize(ctx)
			check(t, err)
			same(t, "size", n, int64(0))
			leaves, err := tx.LedgerStorage("", "").ReadLeaves(ctx, 0, 0)
			check(t, err)
			same(t, "leaves", len(leaves), 0)
		})
	})

	var leaves [][]byte
	const rd = store.ReadAction
	about := []struct{ memo, action string }{
		{"m1", "memo.create"}, {"", ""}, {"m2", "memo.create"}, {"m1", rd}, {"", "ignored without a memo"},
		{"m1", "memo.submit"}, {"m2", rd}, {"m1", rd}, {"m1", rd}, {"m1", "memo.acknowledge"},
	}
	for i, a := range about {
		leaf := fmt.Appendf(nil, "event %d about %q\x00\xff", i, a.memo)
		leaves = append(leaves, leaf)
		write(t, s, func(ctx context.Context, tx store.Tx) { appendLeaves(t, tx.LedgerStorage(a.memo, a.action), leaf) })
	}
	// And some in one transaction, as a service call that records two events;
	// within it the size and the tree the transaction sees (a store may keep
	// what it read or wrote) are those of every leaf so far.
	write(t, s, func(ctx context.Context, tx store.Tx) {
		ls := tx.LedgerStorage("", "")
		before, err := ls.LockedSize(ctx)
		check(t, err)
		more := [][]byte{[]byte("two events"), []byte("in one transaction"), {}}
		appendLeaves(t, ls, more...)
		leaves = append(leaves, more...)
		after, err := ls.LockedSize(ctx)
		check(t, err)
		same(t, "sizes before and after", [2]int64{before, after}, [2]int64{int64(len(leaves)) - 3, int64(len(leaves))})
		root, err := tlog.TreeHash(after, storedHashes(ctx, ls))
		check(t, err)
		want := memoryTree(t, leaves)
		wantRoot, err := tlog.TreeHash(after, inMemory(&want))
		check(t, err)
		same(t, "tree hash in the transaction", root, wantRoot)
	})
	n := int64(len(leaves))

	t.Run("the stored tree is the tree of the leaves", func(t *testing.T) { checkTree(t, s, leaves) })

	t.Run("a read transaction reads leaves and hashes", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.LedgerStorage("", "").ReadLeaves(ctx, 2, 5)
			check(t, err)
			sameBlobs(t, "leaves", got, leaves[2:5])
			h, err := tx.LedgerStorage("", "").ReadHashes(ctx, []int64{0, 0})
			check(t, err)
			same(t, "hashes", h, []tlog.Hash{tlog.RecordHash(leaves[0]), tlog.RecordHash(leaves[0])})
			// Readers that offer an unlocked size (ledger.Sizer) must agree
			// with the locked one, and need no write transaction.
			if sizer, ok := tx.LedgerStorage("", "").(interface {
				Size(context.Context) (int64, error)
			}); ok {
				size, err := sizer.Size(ctx)
				check(t, err)
				same(t, "unlocked size", size, n)
			}
		})
	})

	entries := func(indexes ...int64) []store.LedgerEntry {
		var out []store.LedgerEntry
		for _, i := range indexes {
			out = append(out, store.LedgerEntry{Index: i, Data: leaves[i]})
		}
		return out
	}
	for _, c := range []struct {
		name string
		memo string
		want []store.LedgerEntry
	}{
		{"memo ledger lists that memo's leaves in order, but not its reads", "m1", entries(0, 5, 9)},
		{"memo ledger of another memo", "m2", entries(2)},
		{"memo ledger of a memo without leaves is empty", "m-none", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			read(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := tx.MemoLedger(ctx, c.memo)
				check(t, err)
				sameEntries(t, got, c.want)
				latest, err := tx.MemoLatest(ctx, c.memo)
				check(t, err)
				want := int64(-1)
				if len(c.want) > 0 {
					want = c.want[len(c.want)-1].Index
				}
				if latest != want {
					t.Errorf("MemoLatest(%s) = %d, want %d, the last of MemoLedger's", c.memo, latest, want)
				}
			})
		})
	}
	for _, c := range []struct {
		name           string
		memos, actions []string
		want           []store.LedgerEntry
	}{
		{"memo steps: the leaves of several memos with the actions asked, in order", []string{"m1", "m2"}, []string{"memo.create", "memo.submit"}, entries(0, 2, 5)},
		{"memo steps: one memo, one action", []string{"m1"}, []string{"memo.acknowledge"}, entries(9)},
		{"memo steps: reads, if asked", []string{"m2"}, []string{rd}, entries(6)},
		{"memo steps: no memo", nil, []string{"memo.create"}, nil},
		{"memo steps: a memo without leaves", []string{"m-none"}, []string{"memo.create"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			read(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := tx.MemoSteps(ctx, c.memos, c.actions)
				check(t, err)
				sameEntries(t, got, c.want)
			})
		})
	}
	for _, c := range []struct {
		name  string
		memo  string
		after int64
		limit int
		want  []store.LedgerEntry
	}{
		{"a memo's reads, in order", "m1", -1, 10, entries(3, 7, 8)},
		{"a first page of reads", "m1", -1, 2, entries(3, 7)},
		{"the page after it", "m1", 7, 2, entries(8)},
		{"the page after the last read is empty", "m1", 8, 2, nil},
		{"another memo's reads", "m2", -1, 10, entries(6)},
		{"a memo never read has none", "m-none", -1, 10, nil},
		{"a limit of zero reads nothing", "m1", -1, 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			read(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := tx.MemoReads(ctx, c.memo, c.after, c.limit)
				check(t, err)
				sameEntries(t, got, c.want)
			})
		})
	}
	t.Run("a leaf about a memo without its action fails and changes nothing", func(t *testing.T) {
		inTx(t, s, true, func(ctx context.Context, tx store.Tx) {
			err := tx.LedgerStorage("m1", "").WriteLeaf(ctx, n, []byte("no action"), []int64{tlog.StoredHashIndex(0, n)}, []tlog.Hash{tlog.RecordHash([]byte("no action"))})
			if failsByCommit(tx, err) == nil {
				t.Errorf("succeeded, want an error")
			}
		})
		checkTree(t, s, leaves)
	})

	for _, c := range []struct {
		name string
		f    func(ctx context.Context, ls store.LedgerStorage) error
	}{
		{"reading leaves past the end fails", func(ctx context.Context, ls store.LedgerStorage) error {
			_, err := ls.ReadLeaves(ctx, n-1, n+1)
			return err
		}},
		{"reading a hash not stored fails", func(ctx context.Context, ls store.LedgerStorage) error {
			_, err := ls.ReadHashes(ctx, []int64{0, tlog.StoredHashCount(n)})
			return err
		}},
		{"writing a leaf past the end fails", func(ctx context.Context, ls store.LedgerStorage) error {
			return ls.WriteLeaf(ctx, n+1, []byte("gap"), []int64{tlog.StoredHashIndex(0, n+1)}, []tlog.Hash{tlog.RecordHash([]byte("gap"))})
		}},
		{"rewriting a leaf fails", func(ctx context.Context, ls store.LedgerStorage) error {
			return ls.WriteLeaf(ctx, n-1, []byte("fork"), nil, nil)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			inTx(t, s, true, func(ctx context.Context, tx store.Tx) {
				if err := failsByCommit(tx, c.f(ctx, tx.LedgerStorage("m1", "memo.submit"))); err == nil {
					t.Errorf("succeeded, want an error")
				}
			})
			checkTree(t, s, leaves)
		})
	}
}

func testLedgerDetails(t *testing.T, s store.Store) {
	leaves := [][]byte{[]byte("leaf 0"), []byte("leaf 1"), []byte("leaf 2")}
	write(t, s, func(ctx context.Context, tx store.Tx) {
		appendLeaves(t, tx.LedgerStorage("m1", "memo.create"), leaves[0])
		appendLeaves(t, tx.LedgerStorage("m2", store.ReadAction), leaves[1])
		appendLeaves(t, tx.LedgerStorage("m1", "memo.submit"), leaves[2])
		check(t, tx.PutLedgerDetail(ctx, 0, []byte("detail 0")))
		check(t, tx.PutLedgerDetail(ctx, 1, []byte("detail 1")))
	})
	t.Run("a memo's ledger and its reads carry each leaf's detail, nil for none", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.MemoLedger(ctx, "m1")
			check(t, err)
			same(t, "entries", got, []store.LedgerEntry{
				{Index: 0, Data: leaves[0], Detail: []byte("detail 0")},
				{Index: 2, Data: leaves[2]},
			})
			reads, err := tx.MemoReads(ctx, "m2", -1, 10)
			check(t, err)
			same(t, "reads", reads, []store.LedgerEntry{{Index: 1, Data: leaves[1], Detail: []byte("detail 1")}})
		})
	})
	t.Run("a write that fails late fails the calls after it and commits nothing", func(t *testing.T) {
		inTx(t, s, true, func(ctx context.Context, tx store.Tx) {
			check(t, tx.PutSetting(ctx, "written before the failure", []byte("x")))
			if err := tx.PutLedgerDetail(ctx, 1, []byte("a duplicate")); err != nil {
				// Reported at once: the caller rolls back (inTx does).
				if !errors.Is(err, store.ErrConflict) {
					t.Errorf("got error %v, want %v", err, store.ErrConflict)
				}
				return
			}
			// Reported late: by the next call, and by Commit.
			if _, err := tx.MemoReads(ctx, "m2", -1, 10); !errors.Is(err, store.ErrConflict) {
				t.Errorf("the call after the failed write: got %v, want %v", err, store.ErrConflict)
			}
			if err := tx.Commit(); !errors.Is(err, store.ErrConflict) {
				t.Errorf("Commit after a failed write: got %v, want %v", err, store.ErrConflict)
			}
		})
		wantErr(t, s, store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.Setting(ctx, "written before the failure")
			return err
		})
	})
	t.Run("a second detail for a leaf is a conflict", func(t *testing.T) {
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error { return tx.PutLedgerDetail(ctx, 1, []byte("other")) })
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.MemoReads(ctx, "m2", -1, 10)
			check(t, err)
			same(t, "detail", string(got[0].Detail), "detail 1")
		})
	})
}

func testCheckpoints(t *testing.T, s store.Store) {
	t.Run("no checkpoint yet is not found", func(t *testing.T) {
		wantErr(t, s, store.ErrNotFound, func(ctx context.Context, tx store.Tx) error { _, _, err := tx.LatestCheckpoint(ctx); return err })
	})

	write(t, s, func(ctx context.Context, tx store.Tx) {
		for _, size := range []int64{3, 10, 7} {
			check(t, tx.PutCheckpoint(ctx, size, fmt.Appendf(nil, "note %d", size), t0+size))
		}
	})

	t.Run("latest is the largest size", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			size, note, err := tx.LatestCheckpoint(ctx)
			check(t, err)
			same(t, "size", size, int64(10))
			same(t, "note", string(note), "note 10")
		})
	})

	t.Run("get returns one size", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			note, err := tx.Checkpoint(ctx, 7)
			check(t, err)
			same(t, "note", string(note), "note 7")
		})
	})

	t.Run("put again at a size keeps the first note", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) {
			check(t, tx.PutCheckpoint(ctx, 10, []byte("note 10, signed again"), t0+99))
		})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			size, note, err := tx.LatestCheckpoint(ctx)
			check(t, err)
			same(t, "size", size, int64(10))
			same(t, "note", string(note), "note 10")
		})
	})

	t.Run("missing size is not found", func(t *testing.T) {
		wantErr(t, s, store.ErrNotFound, func(ctx context.Context, tx store.Tx) error { _, err := tx.Checkpoint(ctx, 5); return err })
	})

	t.Run("cosigning replaces a note only while it is the one read", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) {
			ok, err := tx.CosignCheckpoint(ctx, 7, []byte("note 7"), []byte("note 7, cosigned"))
			check(t, err)
			same(t, "cosigned", ok, true)
			ok, err = tx.CosignCheckpoint(ctx, 7, []byte("note 7"), []byte("note 7, cosigned by another"))
			check(t, err)
			same(t, "cosigned over a changed note", ok, false)
			ok, err = tx.CosignCheckpoint(ctx, 5, []byte("note 5"), []byte("note 5, cosigned"))
			check(t, err)
			same(t, "cosigned a missing size", ok, false)
		})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			note, err := tx.Checkpoint(ctx, 7)
			check(t, err)
			same(t, "note", string(note), "note 7, cosigned")
			_, err = tx.Checkpoint(ctx, 5)
			same(t, "missing size", errors.Is(err, store.ErrNotFound), true)
		})
	})
}

// sameEntries compares ledger entries, nil and empty alike.
func sameEntries(t testing.TB, got, want []store.LedgerEntry) {
	t.Helper()
	same(t, "entries", len(got), len(want))
	if len(got) == len(want) && len(got) > 0 {
		same(t, "entries", got, want)
	}
}

// testLeafIndex: LeafIndexMismatch finds a leaf filed under a memo or an
// action other than its data's, which MemoLedger would then leave out of
// the memo's history or put in another's.
func testLeafIndex(t *testing.T, s store.Store) {
	leaf := func(memo, action string) []byte {
		b, err := ledger.Leaf{Version: 1, Time: time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC), Action: action, Memo: memo, Role: ledger.RoleSystem}.Encode()
		check(t, err)
		return b
	}
	write(t, s, func(ctx context.Context, tx store.Tx) {
		appendLeaves(t, tx.LedgerStorage("m1", "memo.submit"), leaf("m1", "memo.submit"))
		appendLeaves(t, tx.LedgerStorage("", ""), leaf("", "user.create"))
		appendLeaves(t, tx.LedgerStorage("m1", store.ReadAction), leaf("m1", store.ReadAction))
		appendLeaves(t, tx.LedgerStorage("m2", "memo.revoke"), leaf("m2", "memo.revoke"))
	})
	mismatch := func() int64 {
		var bad int64
		read(t, s, func(ctx context.Context, tx store.Tx) {
			var err error
			bad, err = tx.LeafIndexMismatch(ctx, 0, 4)
			check(t, err)
		})
		return bad
	}
	if bad := mismatch(); bad != -1 {
		t.Fatalf("leaves filed as written: mismatch at %d", bad)
	}
	db := s.(interface {
		Raw() *sql.DB
		Rebind(string) string
	})
	elsewhere := func(memo string) int64 {
		var bad int64
		read(t, s, func(ctx context.Context, tx store.Tx) {
			var err error
			bad, err = tx.MemoLeafFiledElsewhere(ctx, memo, 0)
			check(t, err)
		})
		return bad
	}
	misfiledRead := func(memo string) int64 {
		var bad int64
		read(t, s, func(ctx context.Context, tx store.Tx) {
			var err error
			bad, err = tx.MemoMisfiledRead(ctx, memo)
			check(t, err)
		})
		return bad
	}
	for _, m := range []string{"m1", "m2", "m"} {
		if bad := elsewhere(m); bad != -1 {
			t.Errorf("%s's leaves, filed as written: %d filed elsewhere", m, bad)
		}
		if bad := misfiledRead(m); bad != -1 {
			t.Errorf("%s's reads, filed as written: %d not a read", m, bad)
		}
	}
	for _, c := range []struct {
		name, set string
		idx       int64
		memo      string // whose history loses the leaf, if any
	}{
		{"a leaf about a memo filed under none", `memo_id = NULL, action = NULL`, 3, "m2"},
		{"a leaf about a memo filed under another", `memo_id = 'm1'`, 3, "m2"},
		{"a leaf filed as a read", `action = '` + store.ReadAction + `'`, 3, "m2"},
		{"a read filed as another action", `action = 'memo.submit'`, 2, "m1"},
		{"a leaf filed under another action", `action = 'memo.acknowledge'`, 0, ""},
		{"a leaf about no memo filed under one", `memo_id = 'm1', action = 'memo.submit'`, 1, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var memo, action sql.NullString
			check(t, db.Raw().QueryRowContext(t.Context(), db.Rebind(`SELECT memo_id, action FROM ledger_leaves WHERE idx = ?`), c.idx).Scan(&memo, &action))
			_, err := db.Raw().ExecContext(t.Context(), db.Rebind(`UPDATE ledger_leaves SET `+c.set+` WHERE idx = ?`), c.idx)
			check(t, err)
			if bad := mismatch(); bad != c.idx {
				t.Errorf("mismatch at %d, want %d", bad, c.idx)
			}
			if c.set == `action = '`+store.ReadAction+`'` {
				if bad := misfiledRead(c.memo); bad != c.idx {
					t.Errorf("%s's leaf filed as a read: MemoMisfiledRead %d, want %d", c.memo, bad, c.idx)
				}
			}
			if c.memo != "" {
				if bad := elsewhere(c.memo); bad != c.idx {
					t.Errorf("%s's leaf filed elsewhere at %d, want %d", c.memo, bad, c.idx)
				}
			}
			_, err = db.Raw().ExecContext(t.Context(), db.Rebind(`UPDATE ledger_leaves SET memo_id = ?, action = ? WHERE idx = ?`), memo, action, c.idx)
			check(t, err)
		})
	}
}
