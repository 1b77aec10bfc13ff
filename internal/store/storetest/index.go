package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/dissent-channel/dissent/internal/store"
)

func testAuthorIndex(t *testing.T, s store.Store) {
	// Tags are binary: entries sort by their bytes, zero and 0xff included.
	alice, bob := []byte{0x00, 0xa1}, []byte{0xb0, 0x00}
	entries := []struct{ owner, entry, sealed []byte }{
		{alice, []byte{0xff}, []byte("alice's entry ff")},
		{alice, []byte{0x00, 0x01}, []byte("alice's entry 0001")},
		{alice, []byte{0x00}, []byte("alice's entry 00")},
		{bob, []byte{0x00}, []byte("bob's entry 00")},
	}
	writeIndex(t, s, func(ctx context.Context, tx store.Tx) {
		for _, e := range entries {
			check(t, tx.PutIndexEntry(ctx, e.owner, e.entry, e.sealed))
		}
	})

	t.Run("get returns one entry", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			for _, e := range entries {
				got, err := tx.IndexEntry(ctx, [][]byte{e.owner}, e.entry)
				check(t, err)
				sameBlob(t, "entry", got, e.sealed)
			}
		})
	})

	t.Run("entries under given tags are one owner's only", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.IndexEntriesFor(ctx, [][]byte{alice}, [][]byte{{0xff}, {0x00}, {0x42}})
			check(t, err)
			if len(got) != 2 || string(got["\xff"]) != "alice's entry ff" || string(got["\x00"]) != "alice's entry 00" {
				t.Errorf("IndexEntriesFor(alice) = %q", got)
			}
			got, err = tx.IndexEntriesFor(ctx, [][]byte{bob}, [][]byte{{0xff}, {0x00, 0x01}})
			check(t, err)
			if len(got) != 0 {
				t.Errorf("bob has alice's entries: %q", got)
			}
		})
	})

	t.Run("an entry is found under any of several owners, and only under theirs", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.IndexEntry(ctx, [][]byte{[]byte("nobody"), bob}, []byte{0x00})
			check(t, err)
			sameBlob(t, "bob's entry through two owners", got, []byte("bob's entry 00"))
			got, err = tx.IndexEntry(ctx, [][]byte{alice, bob}, []byte{0x00})
			check(t, err)
			sameBlob(t, "the first owner's entry where both hold the tag", got, []byte("alice's entry 00"))
			if _, err := tx.IndexEntry(ctx, [][]byte{bob, []byte("nobody")}, []byte{0xff}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("alice's entry through other owners: %v", err)
			}
			if _, err := tx.IndexEntry(ctx, nil, []byte{0xff}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("an entry through no owner: %v", err)
			}
			many, err := tx.IndexEntriesFor(ctx, [][]byte{bob, alice}, [][]byte{{0xff}, {0x00, 0x01}})
			check(t, err)
			if len(many) != 2 || string(many["\xff"]) != "alice's entry ff" {
				t.Errorf("IndexEntriesFor(bob, alice) = %q", many)
			}
		})
	})

	t.Run("list is by entry bytes and one owner only", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.IndexEntries(ctx, alice)
			check(t, err)
			sameBlobs(t, "entries", got, [][]byte{entries[2].sealed, entries[1].sealed, entries[0].sealed})
		})
	})

	t.Run("only a transaction begun for it writes the index", func(t *testing.T) {
		inTx(t, s, true, func(ctx context.Context, tx store.Tx) {
			if err := failsByCommit(tx, tx.PutIndexEntry(ctx, bob, []byte{0x07}, []byte("not begun for it"))); err == nil {
				t.Error("an author-index write in a transaction begun by Begin worked")
			}
		})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			if _, err := tx.IndexEntry(ctx, [][]byte{bob}, []byte{0x07}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the refused entry: %v", err)
			}
		})
	})

	t.Run("put again replaces the entry", func(t *testing.T) {
		writeIndex(t, s, func(ctx context.Context, tx store.Tx) {
			check(t, tx.PutIndexEntry(ctx, bob, []byte{0x00}, []byte("replaced")))
		})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.IndexEntries(ctx, bob)
			check(t, err)
			sameBlobs(t, "entries", got, [][]byte{[]byte("replaced")})
		})
	})

	for _, c := range []struct {
		name         string
		owner, entry []byte
	}{
		{"missing entry is not found", alice, []byte{0x01}},
		{"another owner's entry is not found", bob, []byte{0xff}},
		{"a prefix of an owner is not found", alice[:1], []byte{0xff}},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, s, store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.IndexEntry(ctx, [][]byte{c.owner}, c.entry)
				return err
			})
		})
	}

	t.Run("list of an unknown owner is empty", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.IndexEntries(ctx, []byte("nobody"))
			check(t, err)
			same(t, "entries", len(got), 0)
		})
	})
}

func testMailbox(t *testing.T, s store.Store) {
	mail := []*store.Mail{
		{ID: "mail-c", PostedAt: t0 + 20, Sealed: []byte("c")},
		{ID: "mail-b", PostedAt: t0 + 10, Sealed: []byte("b")},
		{ID: "mail-a", PostedAt: t0 + 10, Sealed: []byte("a")},
		{ID: "mail-z", PostedAt: t0, Sealed: []byte("z")},
	}
	write(t, s, func(ctx context.Context, tx store.Tx) {
		for _, m := range mail {
			check(t, tx.PostMail(ctx, m))
		}
	})

	for _, c := range []struct {
		name  string
		since int64
		after string
		limit int
		want  []*store.Mail
	}{
		{"everything oldest first, ties by id", 0, "", 100, []*store.Mail{mail[3], mail[2], mail[1], mail[0]}},
		{"since is inclusive", t0 + 10, "", 100, []*store.Mail{mail[2], mail[1], mail[0]}},
		{"a page ends within a tie and the next starts after it", t0 + 10, "mail-a", 100, []*store.Mail{mail[1], mail[0]}},
		{"after the last of a tie", t0 + 10, "mail-b", 100, []*store.Mail{mail[0]}},
		{"limit keeps the oldest", 0, "", 2, []*store.Mail{mail[3], mail[2]}},
		{"nothing after the newest", t0 + 21, "", 100, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			read(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := tx.MailSince(ctx, c.since, c.after, c.limit)
				check(t, err)
				same(t, "mail", ids(got, mailID), ids(c.want, mailID))
				if len(got) == len(c.want) {
					same(t, "mail", got, c.want)
				}
			})
		})
	}

	t.Run("duplicate id is a conflict", func(t *testing.T) {
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
			return tx.PostMail(ctx, &store.Mail{ID: "mail-a", PostedAt: t0, Sealed: []byte("again")})
		})
	})

	t.Run("delete removes the listed entries only", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) {
			check(t, tx.DeleteMail(ctx, []string{"mail-a", "mail-c", "mail-none"}))
			check(t, tx.DeleteMail(ctx, nil))
		})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.MailSince(ctx, 0, "", 100)
			check(t, err)
			same(t, "mail left", ids(got, mailID), []string{"mail-z", "mail-b"})
		})
	})
}

func mailID(m *store.Mail) string { return m.ID }
