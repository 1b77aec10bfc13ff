package service_test

import (
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestReceiptTimeIsTheLeafs: the time a receipt states is the time its
// submission leaf states, to the nanosecond, so that a verifier comparing
// them (docs/LEDGER.md §4) accepts a genuine receipt. The clock here is
// the real one, whose readings differ from one call to the next.
func TestReceiptTimeIsTheLeafs(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	d.Svc.Now = time.Now
	alice := d.Member("alice")
	for i := range 3 {
		_, rc := d.Submitted(alice, "a memo")
		l, err := ledger.DecodeLeaf([]byte(rc.Leaf))
		if err != nil {
			t.Fatal(err)
		}
		if !l.Time.Equal(rc.SubmittedAt) {
			t.Errorf("receipt %d says submitted at %v, its leaf %v", i, rc.SubmittedAt, l.Time)
		}
	}
}

// TestMemberSignInsAreUnlinkable: a plain member's sign-ins are in the
// ledger behind a commitment; two sign-ins of one member must not carry the
// same commitment, or anyone reading the ledger could follow one person's
// comings and goings beside the memos' activity.
func TestMemberSignInsAreUnlinkable(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		d.Member("alice") // signs in once
		for range 2 {
			d.Clock.Advance(time.Hour)
			d.SignIn("alice")
		}

		db := st.(*sqlstore.DB)
		rows, err := db.Raw().QueryContext(d.Ctx, `SELECT data FROM ledger_leaves ORDER BY idx`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		seen := map[string]bool{}
		n := 0
		for rows.Next() {
			var data []byte
			if err := rows.Scan(&data); err != nil {
				t.Fatal(err)
			}
			l, err := ledger.DecodeLeaf(data)
			if err != nil {
				t.Fatal(err)
			}
			if l.Action != "session.create" || l.Role != string(channel.RoleMember) {
				continue
			}
			if l.Actor != "" || l.ActorCommit == "" {
				t.Fatalf("a member's sign-in names its actor or commits to none: %s", data)
			}
			if seen[l.ActorCommit] {
				t.Errorf("two sign-ins carry the same commitment %s", l.ActorCommit)
			}
			seen[l.ActorCommit] = true
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Fatalf("%d member sign-ins in the ledger, want 3", n)
		}
	})
}
