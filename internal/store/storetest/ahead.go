package storetest

import (
	"context"
	"testing"

	"github.com/dissent-channel/dissent/internal/store"
)

// testReadAhead: after ReadAhead, the reads it names answer as they would
// without it — for a memo with wraps, items, ledger entries with and without
// details and an index entry; for a memo that does not exist; for an index
// entry that does not exist — and a second call of each still reads.
func testReadAhead(t *testing.T, s store.Store) {
	createMemos(t, s, newMemo("m1"))
	owner, entry := []byte("owner tag"), []byte("entry tag")
	write(t, s, func(ctx context.Context, tx store.Tx) {
		for _, g := range []string{"group:office", "u-p1"} {
			check(t, tx.PutAccess(ctx, &store.Access{MemoID: "m1", Grantee: g, KeyVersion: 1, Wrapped: []byte("wrapped to " + g), AddedAt: t0}))
		}
		check(t, tx.AddItem(ctx, &store.Item{ID: "i-1", MemoID: "m1", Kind: "comment", KeyVersion: 1, Sealed: []byte("sealed"), CreatedAt: t0}))
		appendLeaves(t, tx.LedgerStorage("m1", "memo.submit"), []byte("leaf 0"), []byte("leaf 1"))
		check(t, tx.PutLedgerDetail(ctx, 1, []byte("detail 1")))
		check(t, tx.PutIndexEntry(ctx, owner, entry, []byte("sealed entry")))
	})

	type reads struct {
		memo     *store.Memo
		memoErr  error
		access   []*store.Access
		items    []*store.Item
		ledger   []store.LedgerEntry
		index    []byte
		indexErr error
	}
	readAll := func(ctx context.Context, tx store.Tx, memoID string, entry []byte) reads {
		var r reads
		var err error
		r.memo, r.memoErr = tx.MemoByID(ctx, memoID)
		r.access, err = tx.AccessList(ctx, memoID)
		check(t, err)
		r.items, err = tx.Items(ctx, memoID)
		check(t, err)
		r.ledger, err = tx.MemoLedger(ctx, memoID)
		check(t, err)
		r.index, r.indexErr = tx.IndexEntry(ctx, owner, entry)
		return r
	}
	for _, c := range []struct {
		name, memo string
		entry      []byte
	}{
		{"a memo with everything", "m1", entry},
		{"a memo that does not exist", "m-none", entry},
		{"an index entry that does not exist", "m1", []byte("no such entry")},
	} {
		t.Run(c.name, func(t *testing.T) {
			var want reads
			read(t, s, func(ctx context.Context, tx store.Tx) { want = readAll(ctx, tx, c.memo, c.entry) })
			read(t, s, func(ctx context.Context, tx store.Tx) {
				check(t, tx.ReadAhead(ctx, c.memo, owner, c.entry))
				same(t, "reads after ReadAhead", readAll(ctx, tx, c.memo, c.entry), want)
				same(t, "the same reads again", readAll(ctx, tx, c.memo, c.entry), want)
			})
		})
	}
	t.Run("a reader without an index", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			check(t, tx.ReadAhead(ctx, "m1", nil, nil))
			m, err := tx.MemoByID(ctx, "m1")
			check(t, err)
			same(t, "memo", m.ID, "m1")
		})
	})
}
