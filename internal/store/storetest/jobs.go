package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/dissent-channel/dissent/internal/store"
)

// testJobs checks the leases of periodic jobs: one holder at a time, due
// only at its time, taken over when a holder's lease runs out.
func testJobs(t *testing.T, s store.Store) {
	claim := func(t *testing.T, name, owner string, now, until int64, want bool) {
		t.Helper()
		write(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.ClaimJob(ctx, name, owner, now, until)
			check(t, err)
			if got != want {
				t.Errorf("ClaimJob(%q, %q, now=%d) = %v, want %v", name, owner, now-t0, got, want)
			}
		})
	}
	job := func(t *testing.T, name string) *store.Job {
		t.Helper()
		var out *store.Job
		read(t, s, func(ctx context.Context, tx store.Tx) {
			js, err := tx.Jobs(ctx)
			check(t, err)
			for _, j := range js {
				if j.Name == name {
					out = j
				}
			}
		})
		if out == nil {
			t.Fatalf("job %q is not listed", name)
		}
		return out
	}

	t.Run("an unknown job is created due and claimed", func(t *testing.T) {
		claim(t, "reminders", "node-a", t0, t0+100, true)
		same(t, "job", job(t, "reminders"), &store.Job{Name: "reminders", RunAt: 0, LeaseUntil: t0 + 100, LeaseOwner: "node-a"})
	})
	t.Run("a held lease refuses everyone else", func(t *testing.T) {
		claim(t, "reminders", "node-b", t0+99, t0+200, false)
		claim(t, "reminders", "node-a", t0+99, t0+200, false)
	})
	t.Run("only the holder finishes", func(t *testing.T) {
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
			return tx.FinishJob(ctx, "reminders", "node-b", t0+50, t0+1000, "")
		})
	})
	t.Run("finishing sets the next run and releases the lease", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) {
			check(t, tx.FinishJob(ctx, "reminders", "node-a", t0+50, t0+1000, "smtp down"))
		})
		same(t, "job", job(t, "reminders"), &store.Job{Name: "reminders", RunAt: t0 + 1000, LastRun: t0 + 50, LastError: "smtp down"})
	})
	t.Run("a job is not claimed before it is due", func(t *testing.T) {
		claim(t, "reminders", "node-b", t0+999, t0+2000, false)
		claim(t, "reminders", "node-b", t0+1000, t0+2000, true)
	})
	t.Run("an expired lease is taken over and the old holder cannot finish", func(t *testing.T) {
		claim(t, "checkpoint", "node-a", t0, t0+100, true)
		claim(t, "checkpoint", "node-b", t0+100, t0+200, true)
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error {
			return tx.FinishJob(ctx, "checkpoint", "node-a", t0+150, t0+500, "")
		})
		write(t, s, func(ctx context.Context, tx store.Tx) {
			check(t, tx.FinishJob(ctx, "checkpoint", "node-b", t0+150, t0+500, ""))
		})
	})
	t.Run("jobs are listed by name", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			js, err := tx.Jobs(ctx)
			check(t, err)
			same(t, "names", ids(js, func(j *store.Job) string { return j.Name }), []string{"checkpoint", "reminders"})
		})
	})
}

// testReminders checks that a reminder is recorded once per memo, kind and
// deadline.
func testReminders(t *testing.T, s store.Store) {
	createMemos(t, s, newMemo("m1"), newMemo("m2"))
	for _, c := range []struct {
		name       string
		memo, kind string
		due        int64
		want       bool
	}{
		{"the first of a kind is new", "m1", "remind.acknowledge", t0 + 10, true},
		{"the same again is not", "m1", "remind.acknowledge", t0 + 10, false},
		{"another deadline is new", "m1", "remind.acknowledge", t0 + 20, true},
		{"another kind is new", "m1", "overdue.acknowledge", t0 + 10, true},
		{"another memo is new", "m2", "remind.acknowledge", t0 + 10, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			write(t, s, func(ctx context.Context, tx store.Tx) {
				got, err := tx.MarkReminder(ctx, c.memo, c.kind, c.due, t0)
				check(t, err)
				same(t, "new", got, c.want)
			})
		})
	}
	t.Run("a rolled-back mark is forgotten", func(t *testing.T) {
		inTx(t, s, true, func(ctx context.Context, tx store.Tx) {
			got, err := tx.MarkReminder(ctx, "m2", "remind.reply", t0, t0)
			check(t, err)
			same(t, "new", got, true)
		})
		write(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.MarkReminder(ctx, "m2", "remind.reply", t0, t0)
			check(t, err)
			same(t, "new after rollback", got, true)
		})
	})
}

// outboxRow is a notification with an e-mail copy due at next.
func outboxRow(id, user string, next int64) *store.Notification {
	return &store.Notification{ID: id, UserID: user, Kind: "remind.acknowledge", MemoID: "m1", DueAt: t0 + 1e9,
		CreatedAt: t0, Email: user + "@example.org", EmailState: "pending", NextTry: next}
}

// mailState reads one notification's outbox fields.
func mailState(t *testing.T, s store.Store, user, id string) (state string, attempts int, next int64) {
	t.Helper()
	read(t, s, func(ctx context.Context, tx store.Tx) {
		ns, err := tx.Notifications(ctx, user, 1000)
		check(t, err)
		for _, n := range ns {
			if n.ID == id {
				state, attempts, next = n.EmailState, n.Attempts, n.NextTry
				return
			}
		}
		t.Fatalf("notification %q not found", id)
	})
	return
}

// testOutbox checks claiming and settling e-mails.
func testOutbox(t *testing.T, s store.Store) {
	createUsers(t, s, newUser("u-alice", "alice", "Alice"))
	rows := []*store.Notification{
		outboxRow("n1", "u-alice", t0),
		outboxRow("n2", "u-alice", t0+10),
		outboxRow("n3", "u-alice", t0+1000),
		outboxRow("n4", "u-alice", t0),
	}
	rows[3].EmailState = "none" // in-app only
	write(t, s, func(ctx context.Context, tx store.Tx) {
		for _, n := range rows {
			check(t, tx.AddNotification(ctx, n))
		}
	})
	claim := func(t *testing.T, now, until int64, limit int) []*store.Notification {
		t.Helper()
		var got []*store.Notification
		write(t, s, func(ctx context.Context, tx store.Tx) {
			var err error
			got, err = tx.ClaimMail(ctx, now, until, limit)
			check(t, err)
		})
		return got
	}
	claimedIDs := func(ns []*store.Notification) []string {
		return ids(ns, func(n *store.Notification) string { return n.ID })
	}

	t.Run("only due pending rows are claimed, oldest first, up to the limit", func(t *testing.T) {
		got := claim(t, t0+10, t0+100, 1)
		same(t, "claimed", claimedIDs(got), []string{"n1"})
		same(t, "attempt", got[0].Attempts, 1)
		same(t, "lease", got[0].NextTry, t0+100)
		same(t, "address", got[0].Email, "u-alice@example.org")
		got = claim(t, t0+10, t0+100, 10)
		same(t, "claimed", claimedIDs(got), []string{"n2"})
	})
	t.Run("leased rows are not claimed again until the lease ends", func(t *testing.T) {
		same(t, "claimed", claimedIDs(claim(t, t0+99, t0+200, 10)), []string{})
	})
	t.Run("a claim settles as sent once", func(t *testing.T) {
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error { return tx.MailSent(ctx, "n1", 2, t0+20) })
		write(t, s, func(ctx context.Context, tx store.Tx) { check(t, tx.MailSent(ctx, "n1", 1, t0+20)) })
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error { return tx.MailSent(ctx, "n1", 1, t0+20) })
		state, attempts, _ := mailState(t, s, "u-alice", "n1")
		same(t, "state", state, "sent")
		same(t, "attempts", attempts, 1)
	})
	t.Run("a lapsed claim is taken over and the old claim cannot settle", func(t *testing.T) {
		got := claim(t, t0+100, t0+300, 10)
		same(t, "claimed", claimedIDs(got), []string{"n2"})
		same(t, "attempt", got[0].Attempts, 2)
		wantErr(t, s, store.ErrConflict, func(ctx context.Context, tx store.Tx) error { return tx.MailSent(ctx, "n2", 1, t0+110) })
	})
	t.Run("a transient failure is tried again later", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) {
			check(t, tx.MailFailed(ctx, "n2", 2, t0+500, false, "451 try again"))
		})
		state, attempts, next := mailState(t, s, "u-alice", "n2")
		same(t, "outbox", []any{state, attempts, next}, []any{"pending", 2, t0 + 500})
		same(t, "claimed before", claimedIDs(claim(t, t0+499, t0+600, 10)), []string{})
		got := claim(t, t0+500, t0+600, 10)
		same(t, "claimed at", claimedIDs(got), []string{"n2"})
		same(t, "attempt", got[0].Attempts, 3)
	})
	t.Run("a permanent failure is never tried again", func(t *testing.T) {
		write(t, s, func(ctx context.Context, tx store.Tx) {
			check(t, tx.MailFailed(ctx, "n2", 3, t0+700, true, "550 no such user"))
		})
		state, _, _ := mailState(t, s, "u-alice", "n2")
		same(t, "state", state, "failed")
		got := claim(t, t0+5000, t0+6000, 10)
		same(t, "claimed", claimedIDs(got), []string{"n3"}) // never n1 (sent), n2 (failed) or n4 (in-app only)
	})
}

// testConcurrentJobClaims checks that of many nodes claiming one due job at
// once, exactly one gets it.
func testConcurrentJobClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	won := make([]bool, writers)
	errs := concurrently(writers, func(i int) error {
		return inWriteTx(ctx, s, func(tx store.Tx) error {
			var err error
			won[i], err = tx.ClaimJob(ctx, "reminders", fmt.Sprintf("node-%d", i), t0, t0+100)
			return err
		})
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, w := range won {
		if w {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d nodes claimed the job, want exactly 1", n)
	}
}

// testConcurrentMailClaims checks that nodes draining the outbox at once
// each take different rows, and together take every row exactly once.
func testConcurrentMailClaims(t *testing.T, s store.Store) {
	const total = 120
	createUsers(t, s, newUser("u-alice", "alice", "Alice"))
	write(t, s, func(ctx context.Context, tx store.Tx) {
		for i := range total {
			check(t, tx.AddNotification(ctx, outboxRow(fmt.Sprintf("n%03d", i), "u-alice", t0+int64(i%7))))
		}
	})
	ctx := t.Context()
	var mu sync.Mutex
	var claimed []string
	errs := concurrently(writers, func(i int) error {
		for {
			var got []*store.Notification
			err := inWriteTx(ctx, s, func(tx store.Tx) error {
				var err error
				got, err = tx.ClaimMail(ctx, t0+10, t0+1e6, 4)
				return err
			})
			if err != nil {
				return err
			}
			if len(got) == 0 {
				return nil
			}
			mu.Lock()
			for _, n := range got {
				claimed = append(claimed, n.ID)
			}
			mu.Unlock()
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	slices.Sort(claimed)
	if len(claimed) != total || len(slices.Compact(slices.Clone(claimed))) != total {
		t.Fatalf("claimed %d rows, %d distinct; want each of %d exactly once", len(claimed), len(slices.Compact(slices.Clone(claimed))), total)
	}
}
