package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/dissent-channel/dissent/internal/store"
)

// memoNow reads memo id as it stands, in a transaction of its own.
func memoNow(t *testing.T, s store.Store, id string) *store.Memo {
	t.Helper()
	var m *store.Memo
	read(t, s, func(ctx context.Context, tx store.Tx) {
		var err error
		m, err = tx.MemoByID(ctx, id)
		check(t, err)
	})
	return m
}

func testMemos(t *testing.T, s store.Store) {
	m1, m2 := newMemo("m1"), newMemo("m2")
	m2.State, m2.Receipt, m2.SubmittedAt, m2.DueAt = "draft", nil, 0, 0
	createMemos(t, s, m1, m2)
	if m1.Version != 1 {
		t.Errorf("CreateMemo set Version %d, want 1", m1.Version)
	}

	t.Run("get returns what was created", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			for _, want := range []*store.Memo{m1, m2} {
				got, err := tx.MemoByID(ctx, want.ID)
				check(t, err)
				same(t, "memo", got, want)
			}
		})
	})

	t.Run("missing memo is not found", func(t *testing.T) {
		wantErr(t, s, store.ErrNotFound, func(ctx context.Context, tx store.Tx) error { _, err := tx.MemoByID(ctx, "m-none"); return err })
		wantErr(t, s, store.ErrNotFound, func(ctx context.Context, tx store.Tx) error { _, err := tx.MemoVersion(ctx, "m-none"); return err })
	})

	t.Run("duplicate id is a conflict", func(t *testing.T) {
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error { return tx.CreateMemo(ctx, newMemo("m1")) })
	})

	for _, c := range []struct {
		name string
		ids  []string
		want []string
	}{
		{"by ids returns those that exist", []string{"m2", "m-none", "m1"}, []string{"m1", "m2"}},
		{"by ids of none is empty", nil, []string{}},
		{"by ids of only missing ones is empty", []string{"m-none"}, []string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			read(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := tx.MemosByIDs(ctx, c.ids)
				check(t, err)
				gotIDs := ids(got, memoID)
				slices.Sort(gotIDs) // MemosByIDs promises no order
				same(t, "memos", gotIDs, c.want)
			})
		})
	}

	t.Run("update writes every field and bumps the version", func(t *testing.T) {
		var m *store.Memo
		write(t, s, func(ctx context.Context, tx store.Tx) {
			var err error
			m, err = tx.MemoByID(ctx, "m1")
			check(t, err)
			m.State, m.Profile, m.Revision, m.KeyVersion = "replied", "eu-2019-1937", 3, 2
			m.CreatedAt, m.UpdatedAt, m.SubmittedAt, m.AcknowledgedAt, m.RepliedAt, m.EndedAt = t0+1, t0+2, t0+3, t0+4, t0+5, t0+6
			m.AcknowledgeBy, m.ReplyBy, m.ReplyLatest, m.DueAt, m.CheckAt, m.AuthorsCount = t0+7, t0+8, t0+9, 0, t0+10, 52
			m.AppealBy, m.AppealedAt, m.AppealReplyBy, m.AppealRepliedAt = t0+11, t0+12, t0+13, t0+14
			m.OfficeMessageAt = t0 + 15
			m.Roster, m.Receipt = []byte("new roster"), nil
			check(t, tx.UpdateMemo(ctx, m))
		})
		same(t, "Version after update", m.Version, int64(2))
		same(t, "updated memo", memoNow(t, s, "m1"), m)
		for _, c := range []struct {
			id   string
			want int64
		}{{"m1", 2}, {"m2", 1}} {
			read(t, s, func(ctx context.Context, tx store.Tx) {
				v, err := tx.MemoVersion(ctx, c.id)
				check(t, err)
				same(t, "MemoVersion of "+c.id, v, c.want)
			})
		}
	})

	t.Run("update at a stale version is a conflict and changes nothing", func(t *testing.T) {
		before := memoNow(t, s, "m1")
		stale := *before
		stale.Version--
		stale.State = "withdrawn"
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error { return tx.UpdateMemo(ctx, &stale) })
		same(t, "Version of the refused update", stale.Version, before.Version-1)
		same(t, "memo after a refused update", memoNow(t, s, "m1"), before)
	})

	t.Run("set check writes check_at alone, at the version read, without bumping it", func(t *testing.T) {
		before := memoNow(t, s, "m1")
		write(t, s, func(ctx context.Context, tx store.Tx) {
			ok, err := tx.SetMemoCheck(ctx, "m1", before.Version-1, t0+99)
			check(t, err)
			same(t, "set at a stale version", ok, false)
			ok, err = tx.SetMemoCheck(ctx, "m-none", 1, t0+99)
			check(t, err)
			same(t, "set on a missing memo", ok, false)
			ok, err = tx.SetMemoCheck(ctx, "m1", before.Version, t0+77)
			check(t, err)
			same(t, "set at the version read", ok, true)
		})
		want := *before
		want.CheckAt = t0 + 77
		same(t, "memo after set check", memoNow(t, s, "m1"), &want)
	})

	t.Run("update of a missing memo is a conflict", func(t *testing.T) {
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error { return tx.UpdateMemo(ctx, newMemo("m-none")) })
	})
}

func testListMemos(t *testing.T, s store.Store) {
	// Ties on the sort keys are deliberate: m2 and m4 share updated_at,
	// m3 and m4 share due_at, and m1, m5 have no deadline.
	memo := func(id, state string, updated, due int64) *store.Memo {
		m := newMemo(id)
		m.State, m.UpdatedAt, m.DueAt, m.CheckAt = state, t0+updated, 0, 0
		if state == "draft" {
			m.SubmittedAt = 0
		}
		if due > 0 {
			// The next check falls before the deadline, in the reverse
			// order of updates, with a tie between m2 and m4.
			m.DueAt, m.CheckAt = t0+due, t0+1000-updated
		}
		return m
	}
	rotated := memo("m6", "replied", 400, 9000)
	rotated.KeyVersion = 2
	createMemos(t, s,
		memo("m1", "draft", 100, 0),
		memo("m2", "submitted", 300, 5000),
		memo("m3", "acknowledged", 200, 3000),
		memo("m4", "submitted", 300, 3000),
		memo("m5", "closed", 50, 0),
		rotated,
	)
	write(t, s, func(ctx context.Context, tx store.Tx) {
		for _, a := range []*store.Access{
			{MemoID: "m2", Grantee: "group:office", KeyVersion: 1},
			{MemoID: "m3", Grantee: "group:office", KeyVersion: 1},
			{MemoID: "m1", Grantee: "u-alice", KeyVersion: 1},
			// Two key versions must not list m6 twice.
			{MemoID: "m6", Grantee: "u-alice", KeyVersion: 1},
			{MemoID: "m6", Grantee: "u-alice", KeyVersion: 2},
			{MemoID: "m4", Grantee: "u-bob", KeyVersion: 1},
		} {
			a.Wrapped = []byte("wrapped")
			check(t, tx.PutAccess(ctx, a))
		}
	})
	byUpdate := []string{"m6", "m4", "m2", "m3", "m1", "m5"}
	// ByDue lists only memos that owe something (a deadline); the office's
	// queue relies on that. store.MemoFilter's comment says memos with no
	// deadline come last, which no store does.
	byDue := []string{"m3", "m4", "m2", "m6"}
	// CheckBy lists memos whose check has come, earliest first.
	byCheck := []string{"m6", "m2", "m4", "m3"}

	for _, c := range []struct {
		name string
		f    store.MemoFilter
		want []string
	}{
		{"default order is newest update first, ties by id", store.MemoFilter{Limit: 100}, byUpdate},
		{"limit cuts the list", store.MemoFilter{Limit: 2}, byUpdate[:2]},
		{"by id, every memo", store.MemoFilter{ByID: true, Limit: 100}, []string{"m1", "m2", "m3", "m4", "m5", "m6"}},
		{"by id after an id, a page at a time", store.MemoFilter{ByID: true, AfterID: "m2", Limit: 3}, []string{"m3", "m4", "m5"}},
		{"by id after the last id", store.MemoFilter{ByID: true, AfterID: "m6", Limit: 100}, []string{}},
		{"ids select those memos", store.MemoFilter{IDs: []string{"m1", "m3", "m-none"}, Limit: 100}, []string{"m3", "m1"}},
		{"empty ids select nothing", store.MemoFilter{IDs: []string{}, Limit: 100}, []string{}},
		{"grantee selects memos wrapped to it", store.MemoFilter{Grantee: "group:office", Limit: 100}, []string{"m2", "m3"}},
		{"grantee with two key versions lists a memo once", store.MemoFilter{Grantee: "u-alice", Limit: 100}, []string{"m6", "m1"}},
		{"grantee without access rows selects nothing", store.MemoFilter{Grantee: "u-mallory", Limit: 100}, []string{}},
		{"states select memos in any of them", store.MemoFilter{States: []string{"submitted", "acknowledged"}, Limit: 100}, []string{"m4", "m2", "m3"}},
		{"rotated selects memos whose key was rotated", store.MemoFilter{Rotated: true, Limit: 100}, []string{"m6"}},
		{"submitted selects memos that were submitted", store.MemoFilter{Submitted: true, States: []string{"draft", "closed", "replied"}, Limit: 100}, []string{"m6", "m5"}},
		{"rotated and grantee combine", store.MemoFilter{Rotated: true, Grantee: "group:office", Limit: 100}, []string{}},
		{"filters combine", store.MemoFilter{Grantee: "group:office", States: []string{"submitted"}, Limit: 100}, []string{"m2"}},
		{"ids and states combine", store.MemoFilter{IDs: []string{"m1", "m2", "m4"}, States: []string{"submitted"}, Limit: 100}, []string{"m4", "m2"}},
		{"by due is nearest first, ties by id, without memos that owe nothing", store.MemoFilter{ByDue: true, Limit: 100}, byDue},
		{"by due with states", store.MemoFilter{ByDue: true, States: []string{"submitted", "closed"}, Limit: 100}, []string{"m4", "m2"}},
		{"after a key and id continues the default order", store.MemoFilter{AfterKey: t0 + 300, AfterID: "m4", Limit: 100}, byUpdate[2:]},
		{"after a key and id continues by due", store.MemoFilter{ByDue: true, AfterKey: t0 + 3000, AfterID: "m3", Limit: 100}, byDue[1:]},
		{"after the last deadline there is nothing", store.MemoFilter{ByDue: true, AfterKey: t0 + 9000, AfterID: "m6", Limit: 100}, []string{}},
		{"after a tie on the key continues by id", store.MemoFilter{ByDue: true, AfterKey: t0 + 3000, AfterID: "m4", Limit: 100}, byDue[2:]},
		{"check by lists memos whose check has come, earliest first, ties by id", store.MemoFilter{CheckBy: t0 + 800, Limit: 100}, byCheck},
		{"check by leaves out later checks", store.MemoFilter{CheckBy: t0 + 700, Limit: 100}, byCheck[:3]},
		{"check by before every check is empty", store.MemoFilter{CheckBy: t0 + 599, Limit: 100}, []string{}},
		{"check by takes precedence over by due", store.MemoFilter{CheckBy: t0 + 800, ByDue: true, Limit: 100}, byCheck},
		{"check by with states", store.MemoFilter{CheckBy: t0 + 800, States: []string{"submitted"}, Limit: 100}, []string{"m2", "m4"}},
		{"after a tie continues by check and id", store.MemoFilter{CheckBy: t0 + 800, AfterKey: t0 + 700, AfterID: "m2", Limit: 100}, byCheck[2:]},
		{"limit cuts the check list", store.MemoFilter{CheckBy: t0 + 800, Limit: 1}, byCheck[:1]},
	} {
		t.Run(c.name, func(t *testing.T) {
			read(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := tx.ListMemos(ctx, c.f)
				check(t, err)
				same(t, "memos", ids(got, memoID), c.want)
			})
		})
	}

	t.Run("light rows are the rows without roster and receipt", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			full, err := tx.ListMemos(ctx, store.MemoFilter{ByDue: true, Limit: 100})
			check(t, err)
			light, err := tx.ListMemos(ctx, store.MemoFilter{ByDue: true, Limit: 100, Light: true})
			check(t, err)
			if len(full) != len(light) {
				t.Fatalf("%d light rows, %d full ones", len(light), len(full))
			}
			for i, m := range full {
				if len(light[i].Roster) != 0 || len(light[i].Receipt) != 0 {
					t.Errorf("light %s has a roster or receipt", light[i].ID)
				}
				want := *m
				want.Roster, want.Receipt = light[i].Roster, light[i].Receipt
				same(t, "light memo", light[i], &want)
			}
		})
		err := inWriteTx(t.Context(), s, func(tx store.Tx) error {
			light, err := tx.ListMemos(t.Context(), store.MemoFilter{ByDue: true, Limit: 1, Light: true})
			if err != nil {
				return err
			}
			return tx.UpdateMemo(t.Context(), light[0])
		})
		if err == nil {
			t.Error("UpdateMemo wrote a light row back")
		}
	})

	for _, c := range []struct {
		name  string
		byDue bool
		key   func(*store.Memo) int64
		want  []string
	}{
		{"pages cover the default order once", false, func(m *store.Memo) int64 { return m.UpdatedAt }, byUpdate},
		{"pages cover the due order once", true, func(m *store.Memo) int64 { return m.DueAt }, byDue},
	} {
		t.Run(c.name, func(t *testing.T) {
			read(t, s, func(ctx context.Context, tx store.Tx) {
				all := []string{}
				f := store.MemoFilter{ByDue: c.byDue, Limit: 2}
				for range len(c.want) + 1 {
					page, err := tx.ListMemos(ctx, f)
					check(t, err)
					if len(page) == 0 {
						break
					}
					all = append(all, ids(page, memoID)...)
					last := page[len(page)-1]
					f.AfterKey, f.AfterID = c.key(last), last.ID
				}
				same(t, "pages", all, c.want)
			})
		})
	}
}

func testRevisions(t *testing.T, s store.Store) {
	createMemos(t, s, newMemo("m1"), newMemo("m2"))
	revs := []*store.Revision{
		{MemoID: "m1", Revision: 2, KeyVersion: 1, Sealed: []byte("second text"), ContentHash: []byte{2}, CreatedAt: t0 + 2},
		{MemoID: "m1", Revision: 1, KeyVersion: 1, Sealed: []byte("first text"), ContentHash: []byte{1}, CreatedAt: t0 + 1},
		{MemoID: "m2", Revision: 1, KeyVersion: 1, Sealed: []byte("other memo"), ContentHash: []byte{3}, CreatedAt: t0},
		{MemoID: "m1", Revision: 10, KeyVersion: 2, Sealed: []byte("tenth text"), ContentHash: []byte{10}, CreatedAt: t0 + 10},
	}
	write(t, s, func(ctx context.Context, tx store.Tx) {
		for _, r := range revs {
			check(t, tx.PutRevision(ctx, r))
		}
	})

	t.Run("get returns one revision", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			for _, want := range revs {
				got, err := tx.Revision(ctx, want.MemoID, want.Revision)
				check(t, err)
				same(t, "revision", got, want)
			}
		})
	})

	t.Run("list is oldest revision first", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.Revisions(ctx, "m1", 0, 0)
			check(t, err)
			same(t, "revisions", got, []*store.Revision{revs[1], revs[0], revs[3]})
		})
	})

	t.Run("a page starts after its cursor and holds at most its limit", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.Revisions(ctx, "m1", 1, 1)
			check(t, err)
			same(t, "first page after revision 1", got, []*store.Revision{revs[0]})
			got, err = tx.Revisions(ctx, "m1", 2, 5)
			check(t, err)
			same(t, "page after revision 2", got, []*store.Revision{revs[3]})
			got, err = tx.Revisions(ctx, "m1", 10, 5)
			check(t, err)
			same(t, "page after the last", len(got), 0)
		})
	})

	t.Run("stamps are every revision without its text", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.RevisionStamps(ctx, "m1")
			check(t, err)
			var want []*store.Revision
			for _, r := range []*store.Revision{revs[1], revs[0], revs[3]} {
				stamp := *r
				stamp.Sealed = nil
				want = append(want, &stamp)
			}
			same(t, "stamps", got, want)
		})
	})

	t.Run("duplicate revision is a conflict and keeps the first", func(t *testing.T) {
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
			return tx.PutRevision(ctx, &store.Revision{MemoID: "m1", Revision: 1, KeyVersion: 1, Sealed: []byte("rewritten"), ContentHash: []byte{9}, CreatedAt: t0})
		})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.Revision(ctx, "m1", 1)
			check(t, err)
			same(t, "revision", got, revs[1])
		})
	})

	t.Run("missing revision is not found", func(t *testing.T) {
		wantErr(t, s, store.ErrNotFound, func(ctx context.Context, tx store.Tx) error { _, err := tx.Revision(ctx, "m2", 2); return err })
	})

	t.Run("headings of given revisions, those without one left out", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) {
			check(t, tx.PutRevision(ctx, &store.Revision{MemoID: "m1", Revision: 11, KeyVersion: 2, Sealed: []byte("x"), ContentHash: []byte{11}, CreatedAt: t0 + 11, Heading: []byte("m1 heading 11")}))
			check(t, tx.PutRevision(ctx, &store.Revision{MemoID: "m1", Revision: 12, KeyVersion: 2, Sealed: []byte("y"), ContentHash: []byte{12}, CreatedAt: t0 + 12, Heading: []byte("m1 heading 12")}))
		})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.Headings(ctx, map[string]int{"m1": 11, "m2": 1, "nope": 1})
			check(t, err)
			same(t, "headings", got, map[string]store.Heading{"m1": {Revision: 11, KeyVersion: 2, Sealed: []byte("m1 heading 11")}})
			got, err = tx.Headings(ctx, map[string]int{})
			check(t, err)
			same(t, "no headings", got, map[string]store.Heading{})
		})
	})

	t.Run("a heading is kept apart from the text, and only when given", func(t *testing.T) {
		withHeading := &store.Revision{MemoID: "m2", Revision: 2, KeyVersion: 3, Sealed: []byte("long text"), ContentHash: []byte{4}, CreatedAt: t0 + 3, Heading: []byte("sealed title")}
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.PutRevision(ctx, withHeading)) })
		read(t, s, func(ctx context.Context, tx store.Tx) {
			heads, err := tx.Headings(ctx, map[string]int{"m2": 2})
			check(t, err)
			same(t, "heading", heads, map[string]store.Heading{"m2": {Revision: 2, KeyVersion: 3, Sealed: []byte("sealed title")}})
			got, err := tx.Revision(ctx, "m2", 2)
			check(t, err)
			want := *withHeading
			want.Heading = nil
			same(t, "revision", got, &want)
		})
		for _, rev := range []int{1, 3} { // one made without a heading, one that does not exist
			read(t, s, func(ctx context.Context, tx store.Tx) {
				heads, err := tx.Headings(ctx, map[string]int{"m2": rev})
				check(t, err)
				same(t, "headings of revision without one", heads, map[string]store.Heading{})
			})
		}
	})
}

func testItems(t *testing.T, s store.Store) {
	createMemos(t, s, newMemo("m1"), newMemo("m2"))
	items := []*store.Item{
		{ID: "i-c", MemoID: "m1", Kind: "reply", KeyVersion: 1, Sealed: []byte("reply"), CreatedAt: t0 + 3},
		{ID: "i-b", MemoID: "m1", Kind: "comment", KeyVersion: 1, Sealed: []byte("comment b"), CreatedAt: t0 + 1},
		{ID: "i-a", MemoID: "m1", Kind: "comment", KeyVersion: 1, Sealed: []byte("comment a"), CreatedAt: t0 + 1},
		{ID: "i-z", MemoID: "m1", Kind: "meeting", KeyVersion: 2, Sealed: []byte("meeting"), CreatedAt: t0},
		{ID: "i-x", MemoID: "m2", Kind: "reason", KeyVersion: 1, Sealed: []byte("other memo"), CreatedAt: t0},
	}
	write(t, s, func(ctx context.Context, tx store.Tx) {
		for _, it := range items {
			check(t, tx.AddItem(ctx, it))
		}
	})

	t.Run("list is oldest first, ties by id, one memo only", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.Items(ctx, "m1")
			check(t, err)
			same(t, "items", got, []*store.Item{items[3], items[2], items[1], items[0]})
		})
	})

	t.Run("count is of one memo's items of one kind", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			for _, c := range []struct {
				memo, kind string
				want       int
			}{{"m1", "comment", 2}, {"m1", "reply", 1}, {"m1", "message", 0}, {"m2", "comment", 0}, {"m-none", "comment", 0}} {
				n, err := tx.CountItems(ctx, c.memo, c.kind)
				check(t, err)
				same(t, c.memo+"'s "+c.kind+"s", n, c.want)
			}
		})
	})

	t.Run("list of a memo without items is empty", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.Items(ctx, "m-none")
			check(t, err)
			same(t, "items", len(got), 0)
		})
	})

	t.Run("duplicate id is a conflict", func(t *testing.T) {
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
			return tx.AddItem(ctx, &store.Item{ID: "i-a", MemoID: "m2", Kind: "comment", KeyVersion: 1, Sealed: []byte("x"), CreatedAt: t0})
		})
	})
}

func testAccess(t *testing.T, s store.Store) {
	createMemos(t, s, newMemo("m1"), newMemo("m2"))
	rows := []*store.Access{
		{MemoID: "m1", Grantee: "group:office", KeyVersion: 1, Wrapped: []byte("to office v1"), AddedBy: "u-alice", Standing: true, AddedAt: t0},
		{MemoID: "m1", Grantee: "u-bob", KeyVersion: 1, Wrapped: []byte("to bob v1"), AddedBy: "u-office", Reason: []byte("sealed reason"), AddedAt: t0 + 5},
		{MemoID: "m1", Grantee: "group:office", KeyVersion: 2, Wrapped: []byte("to office v2"), AddedBy: "u-alice", Standing: true, AddedAt: t0},
		{MemoID: "m1", Grantee: "group:principals", KeyVersion: 1, Wrapped: []byte("to principals v1"), AddedBy: "u-alice", Standing: true, AddedAt: t0},
		{MemoID: "m2", Grantee: "u-bob", KeyVersion: 1, Wrapped: []byte("other memo"), AddedBy: "u-carol", AddedAt: t0},
	}
	write(t, s, func(ctx context.Context, tx store.Tx) {
		for _, a := range rows {
			check(t, tx.PutAccess(ctx, a))
		}
	})

	t.Run("get returns one grantee's key version", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			for _, want := range rows {
				got, err := tx.AccessFor(ctx, want.MemoID, want.Grantee, want.KeyVersion)
				check(t, err)
				same(t, "access", got, want)
			}
		})
	})

	t.Run("a page's wraps to some grantees at once", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.AccessForMemos(ctx, []string{"m1", "m2", "m3"}, []string{"group:office", "u-bob"})
			check(t, err)
			slices.SortFunc(got, func(a, b *store.Access) int {
				return cmp.Or(cmp.Compare(a.MemoID, b.MemoID), cmp.Compare(a.Grantee, b.Grantee), cmp.Compare(a.KeyVersion, b.KeyVersion))
			})
			same(t, "access", got, []*store.Access{rows[0], rows[2], rows[1], rows[4]})
			got, err = tx.AccessForMemos(ctx, []string{"m2"}, []string{"group:principals"})
			check(t, err)
			same(t, "access", len(got), 0)
		})
	})

	t.Run("list is by time added, grantee, key version", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.AccessList(ctx, "m1")
			check(t, err)
			same(t, "access list", got, []*store.Access{rows[0], rows[2], rows[3], rows[1]})
		})
	})

	t.Run("put again replaces the wrapped key", func(t *testing.T) {
		rewrap := *rows[1]
		rewrap.Wrapped = []byte("rewrapped to bob v1")
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.PutAccess(ctx, &rewrap)) })
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.AccessFor(ctx, "m1", "u-bob", 1)
			check(t, err)
			same(t, "access", got, &rewrap)
			all, err := tx.AccessList(ctx, "m1")
			check(t, err)
			same(t, "rows", len(all), 4)
		})
	})

	t.Run("many at once, a repeated one last wins, an existing one replaced", func(t *testing.T) {
		createMemos(t, s, newMemo("m-many"))
		wrap := func(i int, wrapped string) *store.Access {
			return &store.Access{MemoID: "m-many", Grantee: fmt.Sprintf("u-%02d", i), KeyVersion: 1,
				Wrapped: []byte(wrapped), AddedBy: "u-office", Reason: []byte("r"), AddedAt: t0 + int64(i)}
		}
		existing := wrap(0, "to 0, first")
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.PutAccess(ctx, existing)) })
		var batch []*store.Access
		for i := range 70 { // more than one statement holds
			batch = append(batch, wrap(i, fmt.Sprintf("to %d", i)))
		}
		again := wrap(3, "to 3, again")
		batch = append(batch, again)
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.PutAccess(ctx, batch...)) })
		read(t, s, func(ctx context.Context, tx store.Tx) {
			all, err := tx.AccessList(ctx, "m-many")
			check(t, err)
			same(t, "rows", len(all), 70)
			for _, want := range []*store.Access{batch[0], again, batch[69]} {
				got, err := tx.AccessFor(ctx, "m-many", want.Grantee, 1)
				check(t, err)
				same(t, "access", got, want)
			}
		})
	})
	t.Run("none at once writes nothing", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.PutAccess(ctx)) })
	})

	t.Run("delete removes every key version of one grantee on one memo", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.DeleteAccess(ctx, "m1", "group:office")) })
		read(t, s, func(ctx context.Context, tx store.Tx) {
			all, err := tx.AccessList(ctx, "m1")
			check(t, err)
			got := ids(all, func(a *store.Access) string { return a.Grantee })
			same(t, "grantees left", got, []string{"group:principals", "u-bob"})
			other, err := tx.AccessList(ctx, "m2")
			check(t, err)
			same(t, "other memo", other, []*store.Access{rows[4]})
		})
	})

	t.Run("delete of no rows is not an error", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.DeleteAccess(ctx, "m1", "u-nobody")) })
	})

	t.Run("delete of a grantee's wraps removes them on every memo, and no other's", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.DeleteAccessOf(ctx, "u-bob")) })
		read(t, s, func(ctx context.Context, tx store.Tx) {
			all, err := tx.AccessList(ctx, "m1")
			check(t, err)
			same(t, "grantees left on m1", ids(all, func(a *store.Access) string { return a.Grantee }), []string{"group:principals"})
			other, err := tx.AccessList(ctx, "m2")
			check(t, err)
			same(t, "wraps left on m2", len(other), 0)
		})
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.DeleteAccessOf(ctx, "u-nobody")) })
	})

	for _, c := range []struct {
		name          string
		memo, grantee string
		keyVersion    int
	}{
		{"another key version is not found", "m1", "u-bob", 2},
		{"another memo is not found", "m2", "group:principals", 1},
		{"a deleted grantee is not found", "m1", "group:office", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, s, store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.AccessFor(ctx, c.memo, c.grantee, c.keyVersion)
				return err
			})
		})
	}
}

func testWithheld(t *testing.T, s store.Store) {
	createUsers(t, s, newUser("u-pia", "pia", "Pia Post"), newUser("u-quin", "quin", "Quin Quay"))
	createMemos(t, s, newMemo("m1"), newMemo("m2"), newMemo("m3"))
	withheldFrom := func(user string, want ...string) {
		t.Helper()
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.WithheldFrom(ctx, user)
			check(t, err)
			if want == nil {
				want = []string{}
			}
			if got == nil {
				got = []string{}
			}
			same(t, "memos withheld from "+user, got, want)
		})
	}
	write(t, s, func(ctx context.Context, tx store.Tx) {
		check(t, tx.Withhold(ctx, "m2", "u-pia", "u-quin"))
		check(t, tx.Withhold(ctx, "m1", "u-pia"))
		check(t, tx.Withhold(ctx, "m3"))
	})

	t.Run("listed by memo, one user's only", func(t *testing.T) {
		withheldFrom("u-pia", "m1", "m2")
		withheldFrom("u-quin", "m2")
		withheldFrom("u-nobody")
	})
	t.Run("listed by user, one memo's only", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.WithheldOf(ctx, "m2")
			check(t, err)
			same(t, "users m2 was withheld from", got, []string{"u-pia", "u-quin"})
			got, err = tx.WithheldOf(ctx, "m3")
			check(t, err)
			same(t, "users m3 was withheld from", len(got), 0)
		})
	})
	t.Run("withheld twice is recorded once", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.Withhold(ctx, "m1", "u-pia", "u-quin")) })
		withheldFrom("u-pia", "m1", "m2")
		withheldFrom("u-quin", "m1", "m2")
	})
	t.Run("unwithhold forgets one memo of one user", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) {
			check(t, tx.Unwithhold(ctx, "u-pia", "m2"))
			check(t, tx.Unwithhold(ctx, "u-pia", "m3")) // none: not an error
		})
		withheldFrom("u-pia", "m1")
		withheldFrom("u-quin", "m1", "m2")
	})
	t.Run("a memo that does not exist is refused", func(t *testing.T) {
		ctx := t.Context()
		tx, err := s.Begin(ctx, true)
		check(t, err)
		defer tx.Rollback()
		// A store may report the failure of a write at commit (store.Tx).
		if err := tx.Withhold(ctx, "m-none", "u-pia"); err == nil && tx.Commit() == nil {
			t.Error("withheld a memo that does not exist")
		}
		withheldFrom("u-pia", "m1")
	})
}

func testMemoFacts(t *testing.T, s store.Store) {
	memo := func(id, state string, submitted int64) *store.Memo {
		m := newMemo(id)
		m.State, m.SubmittedAt = state, submitted
		m.AcknowledgedAt, m.RepliedAt, m.AuthorsCount = submitted+1, submitted+2, len(id)
		if state == "closed" {
			m.EndedAt = submitted + 3
		}
		if state == "replied" { // a decision on appeal
			m.AppealedAt, m.AppealReplyBy, m.AppealRepliedAt = submitted+4, submitted+6, submitted+5
		}
		return m
	}
	ms := []*store.Memo{
		memo("m-draft", "draft", 0),
		memo("m-2015", "closed", 1420070400e6-1),
		memo("m-2016a", "replied", 1451606400e6), // first instant of 2016
		memo("m-2016b", "acknowledged", 1470000000e6),
		memo("m-2017", "submitted", 1483228800e6), // first instant of 2017
	}
	createMemos(t, s, ms...)
	facts := func(m *store.Memo) store.MemoFacts {
		return store.MemoFacts{ID: m.ID, State: m.State, SubmittedAt: m.SubmittedAt, AcknowledgedAt: m.AcknowledgedAt, RepliedAt: m.RepliedAt, EndedAt: m.EndedAt,
			AcknowledgeBy: m.AcknowledgeBy, ReplyBy: m.ReplyBy, ReplyLatest: m.ReplyLatest, AuthorsCount: m.AuthorsCount,
			AppealedAt: m.AppealedAt, AppealReplyBy: m.AppealReplyBy, AppealRepliedAt: m.AppealRepliedAt}
	}
	for _, c := range []struct {
		name     string
		from, to int64
		want     []*store.Memo
	}{
		{"a year is from its first instant up to the next", 1451606400e6, 1483228800e6, ms[2:4]},
		{"an empty range has no facts", 1451606400e6, 1451606400e6, nil},
		// A draft has no submission time; counting it would tell the
		// organisation that someone is writing a memo.
		{"drafts are never counted", 0, 1 << 62, []*store.Memo{ms[1], ms[2], ms[3], ms[4]}},
	} {
		t.Run(c.name, func(t *testing.T) {
			read(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := tx.MemoFacts(ctx, c.from, c.to)
				check(t, err)
				want := []store.MemoFacts{}
				for _, m := range c.want {
					want = append(want, facts(m))
				}
				if got == nil {
					got = []store.MemoFacts{}
				}
				same(t, "facts", got, want)
			})
		})
	}
}
