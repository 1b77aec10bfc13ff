package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/store"
)

func testTransactions(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if d := s.Dialect(); d != "sqlite" && d != "postgres" {
		t.Errorf("Dialect() = %q, want sqlite or postgres", d)
	}

	t.Run("rollback discards everything", func(t *testing.T) {
		tx, err := s.Begin(ctx, true)
		check(t, err)
		check(t, tx.CreateUser(ctx, newUser("u-gone", "gone", "Gone")))
		check(t, tx.CreateMemo(ctx, newMemo("m-gone")))
		check(t, tx.PutSetting(ctx, "gone", []byte("x")))
		check(t, tx.PostMail(ctx, &store.Mail{ID: "mail-gone", PostedAt: t0, Sealed: []byte("x")}))
		appendLeaves(t, tx.LedgerStorage("m-gone", "memo.submit"), []byte("leaf-gone"))
		check(t, tx.Rollback())

		read(t, s, func(ctx context.Context, tx store.Tx) {
			if _, err := tx.UserByID(ctx, "u-gone"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("UserByID after rollback: %v, want ErrNotFound", err)
			}
			if _, err := tx.MemoByID(ctx, "m-gone"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("MemoByID after rollback: %v, want ErrNotFound", err)
			}
			if _, err := tx.Setting(ctx, "gone"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Setting after rollback: %v, want ErrNotFound", err)
			}
			mail, err := tx.MailSince(ctx, 0, "", 10)
			check(t, err)
			same(t, "mail after rollback", len(mail), 0)
			entries, err := tx.MemoLedger(ctx, "m-gone")
			check(t, err)
			same(t, "ledger entries after rollback", len(entries), 0)
		})
		write(t, s, func(ctx context.Context, tx store.Tx) {
			n, err := tx.LedgerStorage("", "").LockedSize(ctx)
			check(t, err)
			same(t, "ledger size after rollback", n, int64(0))
		})
	})

	t.Run("rollback after commit is a no-op", func(t *testing.T) {
		tx, err := s.Begin(ctx, true)
		check(t, err)
		check(t, tx.CreateUser(ctx, newUser("u-kept", "kept", "Kept")))
		check(t, tx.Commit())
		if err := tx.Rollback(); err != nil {
			t.Errorf("Rollback after Commit: %v, want nil", err)
		}
		read(t, s, func(ctx context.Context, tx store.Tx) {
			_, err := tx.UserByID(ctx, "u-kept")
			check(t, err)
		})
	})

	t.Run("a second rollback is a no-op", func(t *testing.T) {
		tx, err := s.Begin(ctx, true)
		check(t, err)
		check(t, tx.Rollback())
		if err := tx.Rollback(); err != nil {
			t.Errorf("second Rollback: %v, want nil", err)
		}
	})

	t.Run("read transaction sees committed data only", func(t *testing.T) {
		w, err := s.Begin(ctx, true)
		check(t, err)
		defer func() { _ = w.Rollback() }()
		check(t, w.CreateUser(ctx, newUser("u-late", "late", "Late")))
		read(t, s, func(ctx context.Context, tx store.Tx) {
			if _, err := tx.UserByID(ctx, "u-late"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("uncommitted user seen by a reader: %v, want ErrNotFound", err)
			}
		})
		check(t, w.Commit())
		read(t, s, func(ctx context.Context, tx store.Tx) {
			if _, err := tx.UserByID(ctx, "u-late"); err != nil {
				t.Errorf("committed user not seen by a new reader: %v", err)
			}
		})
	})

	t.Run("a request that ends stops its transaction's next statement and gives its connection back", func(t *testing.T) {
		createUsers(t, s, newUser("u-ended", "ended", "Ended"))
		// More than any pool holds: a connection kept by an ended
		// transaction would leave the later ones waiting.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for i := range 40 {
			write := i%4 == 3
			rctx, end := context.WithCancel(wctx)
			tx, err := s.Begin(rctx, write)
			if err != nil {
				t.Fatalf("Begin(write=%v) after %d ended transactions: %v", write, i, err)
			}
			_, err = tx.UserByID(rctx, "u-ended")
			check(t, err)
			end()
			if _, err := tx.UserByID(rctx, "u-ended"); !errors.Is(err, context.Canceled) {
				t.Fatalf("statement after the request ended (write %v): %v, want context.Canceled", write, err)
			}
			_ = tx.Rollback()
		}
		for _, write := range []bool{false, true} {
			tx, err := s.Begin(wctx, write)
			if err != nil {
				t.Fatalf("Begin(write=%v) after 40 ended transactions: %v", write, err)
			}
			if _, err := tx.UserByID(wctx, "u-ended"); err != nil {
				t.Errorf("a statement after 40 ended transactions: %v", err)
			}
			check(t, tx.Rollback())
		}
	})

	t.Run("a read transaction refuses writes and keeps none", func(t *testing.T) {
		r, err := s.Begin(ctx, false)
		check(t, err)
		if err := r.CreateUser(ctx, newUser("u-in-read", "inread", "In Read")); err == nil {
			t.Errorf("CreateUser in a read transaction succeeded")
		}
		_ = r.Rollback()
		read(t, s, func(ctx context.Context, tx store.Tx) {
			if _, err := tx.UserByID(ctx, "u-in-read"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a user written in a read transaction is there: %v, want ErrNotFound", err)
			}
		})
	})
}

// testBlobs checks that sealed bytes come back exactly: a single flipped or
// trimmed byte makes a sealed box fail to open. Nil and empty are the same
// blob to a store (the SQLite driver reads an empty blob as nil); only where
// a column may hold no value at all does nil come back as nil.
func testBlobs(t *testing.T, s store.Store) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	type blobCase struct {
		name string
		blob []byte
	}
	cases := []blobCase{
		{"empty comes back empty", []byte{}},
		{"zero byte survives", []byte{0}},
		{"every byte value survives", all},
		{"invalid utf-8 survives", []byte{0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1}},
		{"trailing zeros survive", []byte{1, 0, 0, 0}},
		{"one mebibyte survives", bytes.Repeat([]byte("sealed\x00\xff"), 1<<17)},
	}

	for i, c := range append(cases, blobCase{"nil comes back empty", nil}) {
		t.Run("column that needs a value: "+c.name, func(t *testing.T) {
			name := fmt.Sprintf("blob-%d", i)
			rev := &store.Revision{MemoID: name, Revision: 1, KeyVersion: 1, Sealed: c.blob, ContentHash: c.blob, CreatedAt: t0}
			writeIndex(t, s, func(ctx context.Context, tx store.Tx) {
				check(t, tx.PutSetting(ctx, name, c.blob))
				check(t, tx.CreateMemo(ctx, &store.Memo{ID: rev.MemoID, State: "draft", Roster: c.blob}))
				check(t, tx.PutRevision(ctx, rev))
				check(t, tx.PostMail(ctx, &store.Mail{ID: name, PostedAt: t0 + int64(i), Sealed: c.blob}))
				check(t, tx.PutIndexEntry(ctx, []byte(name), []byte("tag"), c.blob))
			})
			read(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := tx.Setting(ctx, name)
				check(t, err)
				sameBlob(t, "setting", got, c.blob)
				m, err := tx.MemoByID(ctx, rev.MemoID)
				check(t, err)
				sameBlob(t, "memo roster", m.Roster, c.blob)
				r, err := tx.Revision(ctx, rev.MemoID, 1)
				check(t, err)
				sameBlob(t, "revision", r.Sealed, c.blob)
				sameBlob(t, "content hash", r.ContentHash, c.blob)
				mail, err := tx.MailSince(ctx, t0+int64(i), "", 1)
				check(t, err)
				if len(mail) != 1 {
					t.Fatalf("mail: got %d entries, want 1", len(mail))
				}
				sameBlob(t, "mail", mail[0].Sealed, c.blob)
				entry, err := tx.IndexEntry(ctx, [][]byte{[]byte(name)}, []byte("tag"))
				check(t, err)
				sameBlob(t, "index entry", entry, c.blob)
			})
		})
	}

	for i, c := range append(cases, blobCase{"nil comes back nil", nil}) {
		t.Run("column that may be empty: "+c.name, func(t *testing.T) {
			id := fmt.Sprintf("m-null-%d", i)
			write(t, s, func(ctx context.Context, tx store.Tx) {
				check(t, tx.CreateMemo(ctx, &store.Memo{ID: id, State: "draft", Roster: []byte("r"), Receipt: c.blob}))
				check(t, tx.PutAccess(ctx, &store.Access{MemoID: id, Grantee: "u", KeyVersion: 1, Wrapped: []byte("w"), Reason: c.blob}))
			})
			read(t, s, func(ctx context.Context, tx store.Tx) {
				m, err := tx.MemoByID(ctx, id)
				check(t, err)
				sameBlob(t, "memo receipt", m.Receipt, c.blob)
				a, err := tx.AccessFor(ctx, id, "u", 1)
				check(t, err)
				sameBlob(t, "access reason", a.Reason, c.blob)
				if c.blob == nil && (m.Receipt != nil || a.Reason != nil) {
					t.Errorf("nil came back as receipt %#v, reason %#v; want nil", m.Receipt, a.Reason)
				}
			})
		})
	}

	t.Run("a record read with empty blobs can be written back", func(t *testing.T) {
		u := newUser("u-empty", "empty", "Empty")
		u.SignPublic, u.KeysSealed, u.KeysRecovery = []byte{}, []byte{}, nil
		createUsers(t, s, u)
		write(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.UserByID(ctx, u.ID)
			check(t, err)
			got.DisplayName = "Still empty"
			check(t, tx.UpdateUser(ctx, got))
		})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.UserByID(ctx, u.ID)
			check(t, err)
			same(t, "display name", got.DisplayName, "Still empty")
			sameBlob(t, "sign public", got.SignPublic, nil)
			sameBlob(t, "keys sealed", got.KeysSealed, nil)
			sameBlob(t, "keys recovery", got.KeysRecovery, nil)
		})
	})
}

// sameBlob checks that got holds exactly the bytes of want.
func sameBlob(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %d bytes %.32x…, want %d bytes %.32x…", what, len(got), got, len(want), want)
	}
}

// sameBlobs checks lists of blobs with sameBlob.
func sameBlobs(t testing.TB, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		sameBlob(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

// testTimes checks that times, stored as unix microseconds, come back to the
// microsecond, far from the epoch in both directions.
func testTimes(t *testing.T, s store.Store) {
	for i, c := range []struct {
		name string
		at   int64
	}{
		{"zero means unset", 0},
		{"microseconds survive", t0},
		{"before 1970 survives", time.Date(1969, time.July, 20, 20, 17, 40, 999999000, time.UTC).UnixMicro()},
		{"year 9999 survives", time.Date(9999, time.December, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()},
		{"largest int64 survives", math.MaxInt64},
		{"smallest int64 survives", math.MinInt64},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := "m-time-" + string(rune('a'+i))
			m := &store.Memo{ID: id, State: "closed", Roster: []byte("r"),
				CreatedAt: c.at, UpdatedAt: c.at, SubmittedAt: c.at, AcknowledgedAt: c.at, RepliedAt: c.at, EndedAt: c.at,
				AcknowledgeBy: c.at, ReplyBy: c.at, ReplyLatest: c.at, DueAt: c.at}
			sess := &store.Session{ID: []byte(id), Sealed: []byte("s"), ExpiresAt: c.at, IdleUntil: c.at}
			createMemos(t, s, m)
			write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.CreateSession(ctx, sess)) })
			read(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := tx.MemoByID(ctx, id)
				check(t, err)
				same(t, "memo", got, m)
				gotSess, err := tx.SessionByID(ctx, sess.ID)
				check(t, err)
				same(t, "session", gotSess, sess)
			})
		})
	}
}
