package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/dissent-channel/dissent/internal/store"
)

func testNotifications(t *testing.T, s store.Store) {
	createUsers(t, s, newUser("u-alice", "alice", "Alice"), newUser("u-bob", "bob", "Bob"))
	notification := func(id, user string, at int64) *store.Notification {
		return &store.Notification{ID: id, UserID: user, Kind: "acknowledge-due", MemoID: "m1", DueAt: at + 1000,
			CreatedAt: at, Email: "", EmailState: "none"}
	}
	ns := []*store.Notification{
		notification("n1", "u-alice", t0),
		notification("n2", "u-bob", t0+1),
		notification("n3", "u-alice", t0+2),
		notification("n4", "u-alice", t0+3),
	}
	ns[2].Email, ns[2].EmailState, ns[2].Attempts, ns[2].NextTry = "alice@example.org", "pending", 2, t0+60e6
	write(t, s, func(ctx context.Context, tx store.Tx) {
		for _, n := range ns {
			check(t, tx.AddNotification(ctx, n))
		}
	})

	t.Run("seq counts per user from one", func(t *testing.T) {
		got := []int64{ns[0].Seq, ns[1].Seq, ns[2].Seq, ns[3].Seq}
		same(t, "seqs", got, []int64{1, 1, 2, 3})
	})

	for _, c := range []struct {
		name  string
		user  string
		limit int
		want  []*store.Notification
	}{
		{"list is newest first", "u-alice", 10, []*store.Notification{ns[3], ns[2], ns[0]}},
		{"limit keeps the newest", "u-alice", 2, []*store.Notification{ns[3], ns[2]}},
		{"list is one user's only", "u-bob", 10, []*store.Notification{ns[1]}},
		{"list of a user without any is empty", "u-carol", 10, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			read(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := tx.Notifications(ctx, c.user, c.limit)
				check(t, err)
				same(t, "notifications", len(got), len(c.want))
				if len(got) == len(c.want) && len(got) > 0 {
					same(t, "notifications", got, c.want)
				}
			})
		})
	}

	unread := func(t *testing.T, user string, want int) {
		t.Helper()
		read(t, s, func(ctx context.Context, tx store.Tx) {
			n, err := tx.UnreadNotifications(ctx, user)
			check(t, err)
			same(t, "unread "+user, n, want)
		})
	}

	t.Run("all are unread at first", func(t *testing.T) {
		unread(t, "u-alice", 3)
		unread(t, "u-bob", 1)
	})

	t.Run("mark read up to a seq leaves later ones and other users", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.MarkNotificationsRead(ctx, "u-alice", 2)) })
		unread(t, "u-alice", 1)
		unread(t, "u-bob", 1)
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.Notifications(ctx, "u-alice", 10)
			check(t, err)
			read := []bool{}
			for _, n := range got {
				read = append(read, n.Read)
			}
			same(t, "read flags, newest first", read, []bool{false, true, true})
		})
	})

	t.Run("a later notification continues the seq", func(t *testing.T) {
		n := notification("n5", "u-alice", t0+4)
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.AddNotification(ctx, n)) })
		same(t, "seq", n.Seq, int64(4))
		unread(t, "u-alice", 2)
	})

	t.Run("duplicate id is a conflict", func(t *testing.T) {
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
			return tx.AddNotification(ctx, notification("n1", "u-bob", t0))
		})
	})

	t.Run("several at once are numbered after each user's last, in order", func(t *testing.T) {
		createUsers(t, s, newUser("u-dave", "dave", "Dave"), newUser("u-erin", "erin", "Erin"))
		batch := []*store.Notification{
			notification("b1", "u-dave", t0+10), notification("b2", "u-erin", t0+10),
			notification("b3", "u-dave", t0+10), notification("b4", "u-erin", t0+10),
		}
		for i := range 40 { // more than one INSERT holds
			batch = append(batch, notification(fmt.Sprintf("b-many-%02d", i), "u-erin", t0+11))
		}
		write(t, s, func(ctx context.Context, tx store.Tx) {
			check(t, tx.AddNotification(ctx, notification("b0", "u-dave", t0+9)))
			check(t, tx.AddNotifications(ctx, batch))
		})
		same(t, "dave's seqs", []int64{batch[0].Seq, batch[2].Seq}, []int64{2, 3})
		same(t, "erin's seqs", []int64{batch[1].Seq, batch[3].Seq, batch[4].Seq, batch[43].Seq}, []int64{1, 2, 3, 42})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.Notifications(ctx, "u-erin", 100)
			check(t, err)
			same(t, "erin's notifications", len(got), 42)
			got, err = tx.Notifications(ctx, "u-dave", 100)
			check(t, err)
			same(t, "dave's newest", got[0].ID, "b3")
		})
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
			return tx.AddNotifications(ctx, []*store.Notification{notification("b9", "u-dave", t0), notification("b1", "u-dave", t0)})
		})
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.Notifications(ctx, "u-dave", 100)
			check(t, err)
			same(t, "dave's notifications after a failed batch", len(got), 3)
		})
	})
}
