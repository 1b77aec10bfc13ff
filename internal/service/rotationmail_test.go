package service_test

import (
	"slices"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// mailRows returns the lengths of the mailbox's entries by id.
func mailRows(r anchorRig) map[string]int {
	r.t.Helper()
	rows, err := r.db.Raw().QueryContext(r.Ctx, `SELECT id, LENGTH(sealed) FROM mailbox`)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			r.t.Fatal(err)
		}
		out[id] = n
	}
	return out
}

// newMail returns the sorted lengths of the entries in after that were not
// in before.
func newMail(before, after map[string]int) []int {
	var out []int
	for id, n := range after {
		if _, ok := before[id]; !ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// rotatedWhileHeld: alice and bob write one memo and alice another, both
// submitted; bob's keys are recovered (held until the office confirms
// them), and the office then takes a reader off each memo, rotating their
// keys.
func rotatedWhileHeld(t *testing.T, d *servicetest.Deployment) (co, other *service.Memo, bob *service.Actor) {
	t.Helper()
	alice := d.Member("alice")
	d.Member("bob")
	co = d.Cosigned(alice, d.SignIn("bob"), "co-signed by bob")
	other, _ = d.Submitted(alice, "alice's alone")
	bob = recovered(t, d, "bob")
	if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, co.ID, "p1", "not for p1 after all"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, other.ID, "p2", "not for p2"); err != nil {
		t.Fatal(err)
	}
	return co, other, bob
}

// TestRotationWhileAnAuthorIsHeld: the office removes a reader from a memo
// while one of its authors has keys that await the office's confirmation.
// The rotation mails the new key to every author but that one; the
// confirmation must give it, or the author no longer opens their own
// memo. And the database must not learn from the confirmation which
// rotated memos the person wrote: confirming an author and confirming
// someone else post the same mail.
func TestRotationWhileAnAuthorIsHeld(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		d.Member("carol")
		carol := recovered(t, d, "carol")
		co, _, bob := rotatedWhileHeld(t, d)
		confirm := func(a *service.Actor) []int {
			before := mailRows(r)
			if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, a.User.Username, service.KeyConfirmation{Fingerprint: fingerprint(t, d.Svc, a)}); err != nil {
				t.Fatal(err)
			}
			return newMail(before, mailRows(r))
		}
		forBob, forCarol := confirm(bob), confirm(carol)
		if !slices.Equal(forBob, forCarol) {
			t.Errorf("confirming bob, an author of a rotated memo, posted mail of sizes %v; confirming carol, who wrote none, %v: the database tells which memos bob wrote", forBob, forCarol)
		}
		bob = d.SignInOn(d.Svc, "bob", "bob's recovered phrase")
		m, err := d.Svc.GetMemo(d.Ctx, bob, co.ID)
		if err != nil {
			t.Fatalf("bob, whose keys the office confirmed, cannot open the memo he co-signed after its key was rotated: %v", err)
		}
		if m.Title != "co-signed by bob" {
			t.Errorf("bob reads the title %q", m.Title)
		}
		if _, err := d.Svc.GetMemo(d.Ctx, d.SignInOn(d.Svc, "carol", "carol's recovered phrase"), co.ID); err == nil {
			t.Error("carol, who wrote neither memo, opens bob's after her confirmation")
		}
	})
}

// TestRotationKeepsOnlyReadersTheLedgerGranted: someone with the database
// writes an access row for a principal the office confirmed but who was
// never given the memo (not on the distribution at its submission, not
// added by the office). The office's next rotation of the memo's key must
// not turn that row into a real wrap of the new key: a reader is carried
// over only if the memo's ledger entries gave them the memo, and was not
// taken off it since. The readers the ledger did grant keep reading.
func TestRotationKeepsOnlyReadersTheLedgerGranted(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		alice := d.Member("alice")
		p3, p4, p5 := d.Principal("p3"), d.Principal("p4"), d.Principal("p5")
		m, _ := d.Submitted(alice, "read by p1, p2 and those the office adds")
		if _, err := d.Svc.AddReaders(d.Ctx, d.Office, m.ID, service.ReadersInput{Usernames: []string{"p4", "p5"}, Reason: "they decide"}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p5", "not after all"); err != nil {
			t.Fatal(err) // the key is at version 2 now
		}
		for _, p := range []*service.Actor{p3, p5} {
			r.exec(`INSERT INTO access (memo_id, grantee, key_version, wrapped, added_by, reason, standing, added_at) VALUES (?, ?, 2, ?, 'system', NULL, 1, 0)`,
				m.ID, p.User.ID, []byte("planted"))
		}
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "no longer concerned"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []*service.Actor{p3, p5} {
			if n := r.count(`SELECT COUNT(*) FROM access WHERE memo_id = ? AND grantee = ? AND key_version = 3`, m.ID, p.User.ID); n != 0 {
				t.Errorf("the rotation wrapped the memo's new key to %s on a row the database writer planted", p.User.Username)
			}
		}
		for _, p := range []*service.Actor{d.Principals[0], p4} {
			if _, err := d.Svc.GetMemo(d.Ctx, p, m.ID); err != nil {
				t.Errorf("%s, given the memo by the ledger, cannot read it after the rotation: %v", p.User.Username, err)
			}
		}
	})
}

// TestRotationWithTheSubmissionsDetailDeleted: someone with the database
// deletes the sealed detail of a memo's submission entry, which named its
// readers, hoping the rotation takes the memo for one of an earlier
// release and trusts the access rows. It carries no one over instead.
func TestRotationWithTheSubmissionsDetailDeleted(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		alice := d.Member("alice")
		p3 := d.Principal("p3")
		m, _ := d.Submitted(alice, "read by p1 and p2")
		r.exec(`INSERT INTO access (memo_id, grantee, key_version, wrapped, added_by, reason, standing, added_at) VALUES (?, ?, 1, ?, 'system', NULL, 1, 0)`,
			m.ID, p3.User.ID, []byte("planted"))
		seen, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		r.exec(`DELETE FROM ledger_details WHERE idx = ?`, d.EntryIndex(seen, "memo.submit", "alice"))
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "no longer concerned"); err != nil {
			t.Fatal(err)
		}
		if n := r.count(`SELECT COUNT(*) FROM access WHERE memo_id = ? AND grantee = ? AND key_version = 2`, m.ID, p3.User.ID); n != 0 {
			t.Error("the rotation wrapped the memo's new key to a planted row once the submission's detail was deleted")
		}
	})
}

// TestAnAuthorsProofAfterARotation: the office removes a reader, which
// mails the memo's new key to its authors. alice then asks for the proof
// of her submission entry before anything else: the entitlement check, a
// read, looked in her index, which holds the new key only once her mail
// is collected, and she got the hashes without her entry, as if the memo
// were not hers.
func TestAnAuthorsProofAfterARotation(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice := d.Member("alice")
	m, _ := d.Submitted(alice, "proved after a rotation")
	seen, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	idx := d.EntryIndex(seen, "memo.submit", "alice")
	if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "not for p2"); err != nil {
		t.Fatal(err)
	}
	p, err := d.Svc.InclusionProof(d.Ctx, alice, idx, 0)
	if err != nil || p.Leaf == "" {
		t.Errorf("alice's proof of her own submission, after the office removed a reader: leaf %q, %v", p.Leaf, err)
	}
}
