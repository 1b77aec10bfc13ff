package service_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// What the office's confirmation mails after key rotations, and what the
// rotation trusts: from a review of that work (helper-29).

// mailInStoredOrder returns the mailbox's entry ids in the order the
// database stored them: PostgreSQL's ctid; on SQLite (a WITHOUT ROWID
// table) posted_at, which in production is a fresh microsecond per mail
// (s.now() per PostMail) but the tests' clock stands still.
func mailInStoredOrder(r anchorRig) []string {
	r.t.Helper()
	if r.db.Rebind("?") != "?" {
		return r.ids(`SELECT id FROM mailbox ORDER BY ctid`)
	}
	return r.ids(`SELECT id FROM mailbox ORDER BY posted_at, id`)
}

// rotatedInListOrder is the rotated memos the office holds in the
// order mailRotatedKeys lists them (updated_at DESC, id DESC), read from
// plaintext columns.
func rotatedInListOrder(r anchorRig) []string {
	r.t.Helper()
	return r.ids(`SELECT id FROM memos WHERE key_version > 1 ORDER BY updated_at DESC, id DESC`)
}

// ids returns the first column of query's rows.
func (r anchorRig) ids(query string) []string {
	r.t.Helper()
	rows, err := r.db.Raw().QueryContext(r.Ctx, query)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			r.t.Fatal(err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// TestCollectingTheConfirmationsMailTellsNothing: the confirmation posts
// one mail per rotated memo, and the person's next collection deletes all
// of them. The ledger names whose keys the confirmation was for, and the
// mails are stored in the order the rotated memos are listed: had the
// collection deleted only some (those for the memos the person wrote, the
// others sealed to a key thrown away), the database would read from the
// gaps which memos the person wrote.
func TestCollectingTheConfirmationsMailTellsNothing(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		co, other, bob := rotatedWhileHeld(t, d)
		listed := rotatedInListOrder(r)
		before := mailInStoredOrder(r)
		if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, "bob", service.KeyConfirmation{Fingerprint: fingerprint(t, d.Svc, bob)}); err != nil {
			t.Fatal(err)
		}
		var posted []string // the confirmation's mails, in stored order
		for _, id := range mailInStoredOrder(r) {
			if !slices.Contains(before, id) {
				posted = append(posted, id)
			}
		}
		if len(posted) != len(listed) {
			t.Fatalf("the confirmation posted %d mails for %d rotated memos", len(posted), len(listed))
		}
		// Bob signs in and opens his memo: his mail is collected.
		bob = d.SignInOn(d.Svc, "bob", "bob's recovered phrase")
		if _, err := d.Svc.GetMemo(d.Ctx, bob, co.ID); err != nil {
			t.Fatal(err)
		}
		left := mailInStoredOrder(r)
		var gone []string
		for i, id := range posted {
			if !slices.Contains(left, id) {
				gone = append(gone, listed[i])
			}
		}
		if len(gone) != len(posted) {
			// The memos named are those at the positions of the deleted
			// mails in the listing order.
			t.Errorf("bob's collection deleted %d of the %d mails his confirmation posted, and left the others: by their stored order the database would read that bob wrote memo(s) %v (co-signed memo %s, alice's own %s)",
				len(gone), len(posted), gone, co.ID, other.ID)
		}
	})
}

// TestConfirmationsMailLeavesNothing: every mail a confirmation posts is
// collected and deleted: none sealed to a key nobody holds stays in the
// mailbox for every member's scan to try, growing with each confirmation.
func TestConfirmationsMailLeavesNothing(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	r := anchorRig{Deployment: d, t: t, db: d.Store.(*sqlstore.DB)}
	alice := d.Member("alice")
	var people []*service.Actor
	for i := range 3 {
		d.Member(fmt.Sprintf("member%d", i))
	}
	for i := range 3 {
		m, _ := d.Submitted(alice, fmt.Sprintf("memo %d", i))
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "not for p2"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		people = append(people, recovered(t, d, fmt.Sprintf("member%d", i)))
	}
	base := r.count(`SELECT COUNT(*) FROM mailbox`)
	for i, p := range people {
		if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, p.User.Username, service.KeyConfirmation{Fingerprint: fingerprint(t, d.Svc, p)}); err != nil {
			t.Fatal(err)
		}
		// Each collects their mail.
		a := d.SignInOn(d.Svc, p.User.Username, fmt.Sprintf("member%d's recovered phrase", i))
		if _, err := d.Svc.ListMemos(d.Ctx, a, service.BoxMine, nil, "", 50); err != nil {
			t.Fatal(err)
		}
	}
	d.Clock.Advance(400 * 24 * 3600 * 1e9)
	if _, err := d.Svc.ListMemos(d.Ctx, d.SignIn("alice"), service.BoxMine, nil, "", 50); err != nil {
		t.Fatal(err)
	}
	if n := r.count(`SELECT COUNT(*) FROM mailbox`) - base; n > 0 {
		t.Errorf("%d mails that no key opens stay in the mailbox for good after 3 confirmations over 3 rotated memos", n)
	}
}

// TestHiddenRemovalIsRefused: the rotation reads the memo's ledger entries
// by the memo and action each leaf is filed under, which the leaves'
// hashes do not cover. Someone with the database files the office's
// removal of p2 under no memo, or as a read, and writes an access row for
// p2, so that the office's next rotation wraps the new key to p2, whom it
// took off. The rotation finds the leaf filed elsewhere and refuses, the
// node stops reporting ready, and the self-check reports it. (Review:
// helper-29.)
func TestHiddenRemovalIsRefused(t *testing.T) {
	for _, hide := range []string{`memo_id = NULL, action = NULL`, `action = '` + store.ReadAction + `'`} {
		storetest.Stores(t, func(t *testing.T, st store.Store) {
			d := servicetest.NewDeployment(t, st)
			r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
			alice := d.Member("alice")
			p2 := d.Principals[1]
			m, _ := d.Submitted(alice, "read by p1 and p2")
			if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "p2 is conflicted"); err != nil {
				t.Fatal(err) // version 2, without p2
			}
			r.exec(`UPDATE ledger_leaves SET `+hide+` WHERE memo_id = ? AND action = 'memo.revoke'`, m.ID)
			r.exec(`INSERT INTO access (memo_id, grantee, key_version, wrapped, added_by, reason, standing, added_at) VALUES (?, ?, 2, ?, 'system', NULL, 1, 0)`,
				m.ID, p2.User.ID, []byte("planted"))
			if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p1", "no longer concerned"); err == nil {
				t.Error("the office's removal of p1 rotated the key over a removal of p2 filed elsewhere")
			}
			if n := r.count(`SELECT COUNT(*) FROM access WHERE memo_id = ? AND key_version = 3`, m.ID); n != 0 {
				t.Errorf("the refused rotation wrote %d wraps of a new key", n)
			}
			if d.Svc.Ready(d.Ctx) == nil {
				t.Error("the node still reports ready")
			}
			if check, err := d.Svc.CheckLedger(d.Ctx, nil); err != nil || check.OK {
				t.Errorf("the self-check does not see the leaf filed elsewhere: %+v %v", check, err)
			}
		})
	}
}

// TestAfreshKeysGetNoMemoRotatedBefore: an administrator
// takes alice's account over (resets the password, starts afresh with keys
// of their own), and the office confirms the keys. Keys made afresh get no
// memo made before them (THREAT-MODEL.md; OPERATIONS: "losing access to
// memos shared with the old ones"), rotated or not: the confirmation mails
// rotated memos' keys only to keys the account had before (recovered, put
// back), whose index holds the older versions already.
func TestAfreshKeysGetNoMemoRotatedBefore(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		rotated, _ := d.Submitted(alice, "rotated before the takeover")
		plain, _ := d.Submitted(alice, "never rotated")
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, rotated.ID, "p2", "not for p2"); err != nil {
			t.Fatal(err)
		}
		taken := takeOver(t, d, "alice")
		if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, "alice", service.KeyConfirmation{Fingerprint: fingerprint(t, d.Svc, taken)}); err != nil {
			t.Fatal(err)
		}
		taken = d.SignInOn(d.Svc, "alice", "alice's new phrase")
		if _, err := d.Svc.GetMemo(d.Ctx, taken, plain.ID); err == nil {
			t.Fatal("the control: keys made afresh open a memo made before them")
		}
		if got, err := d.Svc.GetMemo(d.Ctx, taken, rotated.ID); err == nil {
			t.Errorf("keys made afresh after a reset open %q (body %q), a memo whose key was rotated before the reset: the confirmation mailed them all its key versions", got.Title, got.Body)
		}
	})
}
