package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/dissent-channel/dissent/internal/store"
)

func testSessions(t *testing.T, s store.Store) {
	now := t0
	sess := &store.Session{ID: []byte{0x00, 0x01, 0xfe, 0xff}, Sealed: []byte("sealed under the token"), ExpiresAt: now + 3600e6, IdleUntil: now + 900e6}
	write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.CreateSession(ctx, sess)) })

	t.Run("get returns what was created", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.SessionByID(ctx, sess.ID)
			check(t, err)
			same(t, "session", got, sess)
		})
	})

	t.Run("duplicate id is a conflict", func(t *testing.T) {
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateSession(ctx, &store.Session{ID: sess.ID, Sealed: []byte("other"), ExpiresAt: now, IdleUntil: now})
		})
	})

	t.Run("touch moves only the idle deadline", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.TouchSession(ctx, sess.ID, now+1800e6)) })
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.SessionByID(ctx, sess.ID)
			check(t, err)
			want := *sess
			want.IdleUntil = now + 1800e6
			same(t, "session", got, &want)
		})
	})

	missing := []byte("no such session")
	for _, c := range []struct {
		name string
		f    func(ctx context.Context, tx store.Tx) error
	}{
		{"get of a missing session is not found", func(ctx context.Context, tx store.Tx) error { _, err := tx.SessionByID(ctx, missing); return err }},
		{"touch of a missing session is not found", func(ctx context.Context, tx store.Tx) error { return tx.TouchSession(ctx, missing, now) }},
		{"delete of a missing session is not found", func(ctx context.Context, tx store.Tx) error { return tx.DeleteSession(ctx, missing) }},
		// Session IDs are hashes compared byte for byte: a prefix is another ID.
		{"a prefix of an id is not found", func(ctx context.Context, tx store.Tx) error { _, err := tx.SessionByID(ctx, sess.ID[:3]); return err }},
	} {
		t.Run(c.name, func(t *testing.T) { wantErr(t, s, store.ErrNotFound, c.f) })
	}

	t.Run("delete signs out", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.DeleteSession(ctx, sess.ID)) })
		wantErr(t, s, store.ErrNotFound, func(ctx context.Context, tx store.Tx) error { _, err := tx.SessionByID(ctx, sess.ID); return err })
	})

	t.Run("expiry removes sessions past either deadline", func(t *testing.T) {
		kept := []*store.Session{
			{ID: []byte("fresh"), ExpiresAt: now + 10, IdleUntil: now + 10},
			{ID: []byte("one microsecond left"), ExpiresAt: now + 1, IdleUntil: now + 1},
		}
		gone := []*store.Session{
			{ID: []byte("expired"), ExpiresAt: now - 1, IdleUntil: now + 10},
			{ID: []byte("idle"), ExpiresAt: now + 10, IdleUntil: now - 1},
			{ID: []byte("expires now"), ExpiresAt: now, IdleUntil: now + 10},
			{ID: []byte("idle now"), ExpiresAt: now + 10, IdleUntil: now},
		}
		write(t, s, func(ctx context.Context, tx store.Tx) {
			for _, x := range append(append([]*store.Session{}, kept...), gone...) {
				x.Sealed = []byte("s")
				check(t, tx.CreateSession(ctx, x))
			}
			n, err := tx.DeleteExpiredSessions(ctx, now)
			check(t, err)
			same(t, "sessions deleted", n, len(gone))
		})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			for _, x := range kept {
				if _, err := tx.SessionByID(ctx, x.ID); err != nil {
					t.Errorf("session %q: %v, want kept", x.ID, err)
				}
			}
			for _, x := range gone {
				if _, err := tx.SessionByID(ctx, x.ID); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("session %q: %v, want deleted", x.ID, err)
				}
			}
		})
	})
}

func testSettings(t *testing.T, s store.Store) {
	t.Run("missing setting is not found", func(t *testing.T) {
		wantErr(t, s, store.ErrNotFound, func(ctx context.Context, tx store.Tx) error { _, err := tx.Setting(ctx, "distribution"); return err })
	})
	t.Run("several at once, a missing one absent", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) {
			check(t, tx.PutSetting(ctx, "several a", []byte("A")))
			check(t, tx.PutSetting(ctx, "several b", []byte{}))
		})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.Settings(ctx, "several a", "several missing", "several b")
			check(t, err)
			same(t, "names", len(got), 2)
			sameBlob(t, "a", got["several a"], []byte("A"))
			if b, ok := got["several b"]; !ok || len(b) != 0 {
				t.Errorf("an empty value: got %q, %v; want present and empty", b, ok)
			}
			none, err := tx.Settings(ctx)
			check(t, err)
			same(t, "none asked", len(none), 0)
		})
	})
	for _, c := range []struct {
		name   string
		values [][]byte
	}{
		{"put stores a value", [][]byte{[]byte("first")}},
		{"put again replaces the value", [][]byte{[]byte("first"), []byte("second")}},
		{"put again can shorten the value", [][]byte{[]byte("a long value"), []byte("x")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := "setting " + c.name
			for _, v := range c.values {
				write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.PutSetting(ctx, name, v)) })
			}
			read(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := tx.Setting(ctx, name)
				check(t, err)
				sameBlob(t, "value", got, c.values[len(c.values)-1])
			})
		})
	}
}

func testGroupKeys(t *testing.T, s store.Store) {
	alice, bob, carol := newUser("u-alice", "alice", "Alice"), newUser("u-bob", "bob", "Bob"), newUser("u-carol", "carol", "Carol")
	createUsers(t, s, alice, bob, carol)
	keys := []*store.GroupKey{
		{Group: "office", UserID: bob.ID, Wrapped: []byte("office key to bob"), GrantedBy: "u-admin", GrantedAt: t0},
		{Group: "office", UserID: alice.ID, Wrapped: []byte("office key to alice"), GrantedBy: "u-admin", GrantedAt: t0},
		{Group: "office", UserID: carol.ID, Wrapped: []byte("office key to carol"), GrantedBy: "u-bob", GrantedAt: t0 + 1},
		{Group: "principals", UserID: alice.ID, Wrapped: []byte("principals key to alice"), GrantedBy: "u-admin", GrantedAt: t0 - 1},
	}
	write(t, s, func(ctx context.Context, tx store.Tx) {
		for _, g := range keys {
			check(t, tx.PutGroupKey(ctx, g))
		}
	})

	t.Run("get returns one member's wrap", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			for _, want := range keys {
				got, err := tx.GroupKey(ctx, want.Group, want.UserID)
				check(t, err)
				same(t, "group key", got, want)
			}
		})
	})

	t.Run("list is by grant time then user and only that group", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GroupKeys(ctx, "office")
			check(t, err)
			same(t, "office keys", got, []*store.GroupKey{keys[1], keys[0], keys[2]})
		})
	})

	t.Run("members are the users holding a wrap, in the list's order", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GroupMembers(ctx, "office")
			check(t, err)
			same(t, "office members", got, []*store.User{alice, bob, carol})
			none, err := tx.GroupMembers(ctx, "nobody")
			check(t, err)
			same(t, "members of an unknown group", len(none), 0)
		})
	})

	t.Run("put again replaces the wrap", func(t *testing.T) {
		rewrapped := &store.GroupKey{Group: "office", UserID: bob.ID, Wrapped: []byte("rotated office key to bob"), GrantedBy: "u-carol", GrantedAt: t0 + 5}
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.PutGroupKey(ctx, rewrapped)) })
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GroupKey(ctx, "office", bob.ID)
			check(t, err)
			same(t, "group key", got, rewrapped)
			all, err := tx.GroupKeys(ctx, "office")
			check(t, err)
			same(t, "office members", len(all), 3)
		})
	})

	t.Run("delete removes one member", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.DeleteGroupKey(ctx, "office", alice.ID)) })
		wantErr(t, s, store.ErrNotFound, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.GroupKey(ctx, "office", alice.ID)
			return err
		})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			if _, err := tx.GroupKey(ctx, "principals", alice.ID); err != nil {
				t.Errorf("alice's other group: %v", err)
			}
		})
	})

	for _, c := range []struct {
		name string
		f    func(ctx context.Context, tx store.Tx) error
	}{
		{"get of a non-member is not found", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.GroupKey(ctx, "principals", bob.ID)
			return err
		}},
		{"delete of a non-member is not found", func(ctx context.Context, tx store.Tx) error { return tx.DeleteGroupKey(ctx, "principals", bob.ID) }},
	} {
		t.Run(c.name, func(t *testing.T) { wantErr(t, s, store.ErrNotFound, c.f) })
	}

	t.Run("list of an unknown group is empty", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GroupKeys(ctx, "nobody")
			check(t, err)
			same(t, "keys", len(got), 0)
		})
	})
}
