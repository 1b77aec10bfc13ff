package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/dissent-channel/dissent/internal/store"
)

// testReadAhead: after ReadAhead, the reads it names answer as they would
// without it — for a memo with wraps, items, ledger entries with and without
// details, an index entry and revisions (the current one, an older one, one
// that does not exist), settings present and absent and a group's members;
// for a memo that does not exist; for an index entry that does not exist —
// in a read transaction and in a write one, and a second call of each still
// reads. In a write transaction, a write drops what was read ahead: the
// reads after it see the transaction's own writes.
func testReadAhead(t *testing.T, s store.Store) {
	createMemos(t, s, newMemo("m1"))
	officer := newUser("u-officer", "officer", "Officer")
	createUsers(t, s, officer)
	owner, entry := []byte("owner tag"), []byte("entry tag")
	owners := [][]byte{owner, []byte("another owner tag")}
	settings := []string{"ahead a", "ahead none", "ahead b"}
	writeIndex(t, s, func(ctx context.Context, tx store.Tx) {
		for _, g := range []string{"group:office", "u-p1"} {
			check(t, tx.PutAccess(ctx, &store.Access{MemoID: "m1", Grantee: g, KeyVersion: 1, Wrapped: []byte("wrapped to " + g), AddedAt: t0}))
		}
		check(t, tx.AddItem(ctx, &store.Item{ID: "i-1", MemoID: "m1", Kind: "comment", KeyVersion: 1, Sealed: []byte("sealed"), CreatedAt: t0}))
		appendLeaves(t, tx.LedgerStorage("m1", "memo.submit"), []byte("leaf 0"), []byte("leaf 1"))
		check(t, tx.PutLedgerDetail(ctx, 1, []byte("detail 1")))
		check(t, tx.PutIndexEntry(ctx, owner, entry, []byte("sealed entry")))
		for rev := 1; rev <= 2; rev++ { // newMemo is at revision 2
			check(t, tx.PutRevision(ctx, &store.Revision{MemoID: "m1", Revision: rev, KeyVersion: 1, Sealed: fmt.Appendf(nil, "text %d", rev),
				ContentHash: []byte("hash"), CreatedAt: t0, Heading: []byte("heading")}))
		}
		check(t, tx.PutSetting(ctx, "ahead a", []byte("A")))
		check(t, tx.PutSetting(ctx, "ahead b", []byte("B")))
		check(t, tx.PutGroupKey(ctx, &store.GroupKey{Group: "office", UserID: officer.ID, Wrapped: []byte("office key"), GrantedBy: "u-admin", GrantedAt: t0}))
	})

	type reads struct {
		memo     *store.Memo
		memoErr  error
		access   []*store.Access
		items    []*store.Item
		ledger   []store.LedgerEntry
		index    []byte
		indexErr error
		revs     []*store.Revision
		revErrs  []error
		settings map[string][]byte
		members  []*store.User
	}
	// revs are the revisions read, in this order: ReadAhead must answer an
	// older one asked for first as well as the current one.
	readAll := func(ctx context.Context, tx store.Tx, memoID string, entry []byte, revs ...int) reads {
		var r reads
		var err error
		for _, rev := range revs {
			v, err := tx.Revision(ctx, memoID, rev)
			r.revs, r.revErrs = append(r.revs, v), append(r.revErrs, err)
		}
		r.memo, r.memoErr = tx.MemoByID(ctx, memoID)
		r.access, err = tx.AccessList(ctx, memoID)
		check(t, err)
		r.items, err = tx.Items(ctx, memoID)
		check(t, err)
		r.ledger, err = tx.MemoLedger(ctx, memoID)
		check(t, err)
		r.index, r.indexErr = tx.IndexEntry(ctx, owners, entry)
		r.settings, err = tx.Settings(ctx, settings...)
		check(t, err)
		r.members, err = tx.GroupMembers(ctx, "office")
		check(t, err)
		return r
	}
	for _, writable := range []bool{false, true} {
		for _, c := range []struct {
			name, memo string
			entry      []byte
		}{
			{"a memo with everything", "m1", entry},
			{"a memo that does not exist", "m-none", entry},
			{"an index entry that does not exist", "m1", []byte("no such entry")},
		} {
			t.Run(fmt.Sprintf("%s, write %v", c.name, writable), func(t *testing.T) {
				for _, revs := range [][]int{{2, 1, 3}, {1, 2, 3}, {3, 2}} {
					var want reads
					read(t, s, func(ctx context.Context, tx store.Tx) { want = readAll(ctx, tx, c.memo, c.entry, revs...) })
					inTx(t, s, writable, func(ctx context.Context, tx store.Tx) {
						check(t, tx.ReadAhead(ctx, store.Ahead{Memo: c.memo, Owners: owners, Entry: c.entry, View: true, Settings: settings, Group: "office"}))
						same(t, fmt.Sprintf("reads of revisions %v after ReadAhead", revs), readAll(ctx, tx, c.memo, c.entry, revs...), want)
						same(t, "the same reads again", readAll(ctx, tx, c.memo, c.entry, revs...), want)
					})
				}
			})
		}
	}
	t.Run("a reader without an index", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			check(t, tx.ReadAhead(ctx, store.Ahead{Memo: "m1"}))
			m, err := tx.MemoByID(ctx, "m1")
			check(t, err)
			same(t, "memo", m.ID, "m1")
		})
	})
	t.Run("a write drops what was read ahead", func(t *testing.T) {
		inIndexTx(t, s, func(ctx context.Context, tx store.Tx) {
			check(t, tx.ReadAhead(ctx, store.Ahead{Memo: "m1", Owners: owners, Entry: entry, Settings: settings, Group: "office"}))
			m, err := tx.MemoByID(ctx, "m1")
			check(t, err)
			m.State = "acknowledged"
			check(t, tx.UpdateMemo(ctx, m))
			check(t, tx.PutSetting(ctx, "ahead a", []byte("changed")))
			check(t, tx.PutIndexEntry(ctx, owner, []byte("entry tag 2"), []byte("sealed entry 2")))
			check(t, tx.DeleteGroupKey(ctx, "office", officer.ID))
			check(t, tx.PutRevision(ctx, &store.Revision{MemoID: "m1", Revision: 3, KeyVersion: 1, Sealed: []byte("text 3"), ContentHash: []byte("hash"), CreatedAt: t0, Heading: []byte("heading")}))

			set, err := tx.Settings(ctx, settings...)
			check(t, err)
			same(t, "setting written after ReadAhead", string(set["ahead a"]), "changed")
			members, err := tx.GroupMembers(ctx, "office")
			check(t, err)
			same(t, "office members after one was removed", len(members), 0)
			rev, err := tx.Revision(ctx, "m1", 3)
			check(t, err)
			same(t, "revision written after ReadAhead", string(rev.Sealed), "text 3")
			got, err := tx.MemoByID(ctx, "m1")
			check(t, err)
			same(t, "memo written after ReadAhead", got.State, "acknowledged")
		})
		// Rolled back: the fixture is as it was.
		read(t, s, func(ctx context.Context, tx store.Tx) {
			set, err := tx.Settings(ctx, "ahead a")
			check(t, err)
			same(t, "setting after the rollback", string(set["ahead a"]), "A")
		})
	})
}

// testReadPageAhead: after ReadPageAhead, the page's reads it names answer
// as they would without it — headings of the current and an older
// revision, index entries present and absent, wraps to two grantees, a memo
// that does not exist — and a second call of each still reads.
func testReadPageAhead(t *testing.T, s store.Store) {
	createMemos(t, s, newMemo("p1"), newMemo("p2"), newMemo("p3"))
	owner := []byte("page owner")
	owners := [][]byte{[]byte("another page owner"), owner}
	writeIndex(t, s, func(ctx context.Context, tx store.Tx) {
		for _, id := range []string{"p1", "p2"} {
			for rev := 1; rev <= 2; rev++ {
				check(t, tx.PutRevision(ctx, &store.Revision{MemoID: id, Revision: rev, KeyVersion: 1, Sealed: []byte("text"), ContentHash: []byte("hash"), CreatedAt: t0, Heading: []byte("heading " + id)}))
			}
		}
		for _, g := range []string{"group:office", "u-o1", "u-other"} {
			check(t, tx.PutAccess(ctx, &store.Access{MemoID: "p1", Grantee: g, KeyVersion: 1, Wrapped: []byte("wrapped to " + g), AddedAt: t0}))
		}
		check(t, tx.PutAccess(ctx, &store.Access{MemoID: "p3", Grantee: "group:office", KeyVersion: 1, Wrapped: []byte("p3 to the office"), AddedAt: t0}))
		check(t, tx.PutIndexEntry(ctx, owner, []byte("entry p2"), []byte("sealed p2")))
	})

	ids := []string{"p3", "p1", "p-none", "p2"} // a page's order, not sorted
	revs := map[string]int{"p1": 2, "p2": 1, "p3": 1, "p-none": 1}
	entries := [][]byte{[]byte("entry p3"), []byte("entry p1"), []byte("entry p-none"), []byte("entry p2")}
	grantees := []string{"u-o1", "group:office"}
	type reads struct {
		heads  map[string]store.Heading
		index  map[string][]byte
		access []*store.Access
	}
	readAll := func(ctx context.Context, tx store.Tx) reads {
		var r reads
		var err error
		r.heads, err = tx.Headings(ctx, revs)
		check(t, err)
		r.index, err = tx.IndexEntriesFor(ctx, owners, entries)
		check(t, err)
		r.access, err = tx.AccessForMemos(ctx, ids, grantees)
		check(t, err)
		return r
	}
	var want reads
	read(t, s, func(ctx context.Context, tx store.Tx) { want = readAll(ctx, tx) })
	if len(want.heads) != 2 || len(want.index) != 1 || len(want.access) != 3 {
		t.Fatalf("the fixture reads %d headings, %d entries, %d wraps; want 2, 1, 3", len(want.heads), len(want.index), len(want.access))
	}
	read(t, s, func(ctx context.Context, tx store.Tx) {
		check(t, tx.ReadPageAhead(ctx, ids, owners, entries, grantees))
		same(t, "reads after ReadPageAhead", readAll(ctx, tx), want)
		same(t, "the same reads again", readAll(ctx, tx), want)
	})
	read(t, s, func(ctx context.Context, tx store.Tx) {
		check(t, tx.ReadPageAhead(ctx, ids, nil, nil, grantees))
		got, err := tx.AccessForMemos(ctx, ids, grantees)
		check(t, err)
		same(t, "wraps after a page read ahead without an index", got, want.access)
		check(t, tx.ReadPageAhead(ctx, nil, nil, nil, nil))
	})
}
