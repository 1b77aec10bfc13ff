package service_test

// Each test here proves a finding of the review of the cryptography as
// used (helper-43), fixed since; its comment says what went wrong before.

import (
	"strconv"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
)

// TestSignedHashIsTheTextsHash: what a signer signs, and what the ledger's
// submission leaf and the receipt record, was the hash in
// revisions.content_hash, a column in the clear, never the hash of the
// sealed text the signer was shown. Someone who writes the database set
// it, on a draft, to the hash of a text of their own; the author signed
// and submitted their own text, and their signature, the leaf and the
// receipt attested the other. The stored hash is now checked against the
// text's, and a draft whose hash was changed opens for no one.
func TestSignedHashIsTheTextsHash(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	alice := d.Member("alice")
	m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "Syria policy", Body: "We disagree with the policy.", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	fake := vault.ContentHash("Confession", "I leaked the cable to the press.", "UNCLASSIFIED")
	execSQL(t, st.(*sqlstore.DB), `UPDATE revisions SET content_hash = ? WHERE memo_id = ? AND revision = ?`, fake[:], m.ID, m.Revision)

	if got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID); err == nil {
		t.Errorf("the draft opens as if sound, showing content hash %s", got.ContentHash)
	}
	if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, m.Revision); err == nil {
		t.Error("alice signed the administrator's hash")
	}
	if rc, err := d.Svc.Submit(d.Ctx, alice, m.ID, m.Revision); err == nil {
		t.Errorf("submitted, with a receipt for content hash %s", rc.ContentHash)
	}
}

// TestSubstitutedMemoKeyIsNotTrusted: an administrator who can write the
// database, and who holds no key that opens any memo, makes a key of their
// own, wraps it with age to the office's public key (a public value), and
// writes it as the office's access row for a new key version of a
// submitted memo, with a roster sealed under it naming someone else as the
// author. age authenticates nothing about who wrapped a key, and nothing
// bound a key version to anything the database could not forge: the office
// opened the memo, was shown the made-up author, and sealed its reply under
// the administrator's key. A version above the first is now trusted only
// if the memo.revoke entry that made it opens under it.
func TestSubstitutedMemoKeyIsNotTrusted(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	alice := d.Member("alice")
	mallory := d.Member("mallory") // whom the forged roster names
	m, _ := d.Submitted(alice, "a memo the administrator may not read")
	db := st.(*sqlstore.DB)
	raw := db.Raw()
	evil := plantVersion(t, d, db, m.ID, mallory)

	// The office goes on with its work.
	office := d.SignIn("office")
	if got, err := d.Svc.GetMemo(d.Ctx, office, m.ID); err == nil {
		t.Errorf("the office sees the memo %q with authors %+v, under a key no rotation made", got.Title, got.Authors)
	}
	const secret = "REPLY-ONLY-THE-AUTHORS-AND-OFFICE-MAY-READ"
	if _, err := d.Svc.Reply(d.Ctx, office, m.ID, secret); err == nil {
		t.Error("the office replied under a key no rotation made")
	}

	// The administrator opens every item of the memo with K'.
	rows, err := raw.QueryContext(d.Ctx, db.Rebind(`SELECT id, key_version, sealed FROM items WHERE memo_id = ?`), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var ikv int
		var sealed []byte
		if err := rows.Scan(&id, &ikv, &sealed); err != nil {
			t.Fatal(err)
		}
		plain, err := vault.Open(evil, vault.AD("memo", m.ID, "item:"+id, strconv.Itoa(ikv)), sealed)
		if err == nil && strings.Contains(string(plain), secret) {
			t.Fatalf("the administrator, holding only the database, read the office's reply: %s", plain)
		}
	}
}

// TestRosterRollbackRevivesNoWithdrawnSignature: the roster is sealed
// under the memo's key with nothing that says which save it is. A copy
// saved while bob had signed, written back after he took his signature
// back, opened as well, and the memo went out with bob's signature: the
// memo.unsign entry in the ledger was never looked at. A submission now
// checks each co-signer's latest signing step in the ledger.
func TestRosterRollbackRevivesNoWithdrawnSignature(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	alice, bob := d.Member("alice"), d.Member("bob")
	m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "t", Body: "b", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.InviteSigners(d.Ctx, alice, m.ID, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*service.Actor{alice, bob} {
		if _, err := d.Svc.Sign(d.Ctx, a, m.ID, 1); err != nil {
			t.Fatal(err)
		}
	}
	db := st.(*sqlstore.DB)
	var saved []byte
	if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT roster FROM memos WHERE id = ?`), m.ID).Scan(&saved); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Unsign(d.Ctx, bob, m.ID); err != nil {
		t.Fatal(err)
	}
	execSQL(t, db, `UPDATE memos SET roster = ? WHERE id = ?`, saved, m.ID)
	if rc, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err == nil {
		t.Errorf("submitted with bob's withdrawn signature: %+v", rc)
	}

	// Signing again after taking it back counts, as before.
	m2, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "t2", Body: "b2", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.InviteSigners(d.Ctx, alice, m2.ID, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { _, err := d.Svc.Sign(d.Ctx, bob, m2.ID, 1); return err },
		func() error { _, err := d.Svc.Unsign(d.Ctx, bob, m2.ID); return err },
		func() error { _, err := d.Svc.Sign(d.Ctx, bob, m2.ID, 1); return err },
		func() error { _, err := d.Svc.Sign(d.Ctx, alice, m2.ID, 1); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if rc, err := d.Svc.Submit(d.Ctx, alice, m2.ID, 1); err != nil || rc.Dropped != 0 {
		t.Errorf("bob signed again after taking his signature back: %+v, %v", rc, err)
	}
}

// TestItemKindIsBound: an item's kind (comment, reply, return, withdraw,
// meeting) is a column in the clear, and its seal did not name it. A
// principal's comment to the office, which authors never see, relabelled
// "reply" by whoever writes the database, opened as before and was shown
// to the authors as the office's reply. The seal now names the kind.
func TestItemKindIsBound(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	alice := d.Member("alice")
	m, _ := d.Submitted(alice, "a memo")
	const candid = "Between us: the authors are right, but we will bury this."
	if _, err := d.Svc.Comment(d.Ctx, d.Principals[0], m.ID, candid); err != nil {
		t.Fatal(err)
	}
	execSQL(t, st.(*sqlstore.DB), `UPDATE items SET kind = 'reply' WHERE memo_id = ? AND kind = 'comment'`, m.ID)
	got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
	if err == nil {
		t.Errorf("the memo opens with a comment relabelled as the reply (reply shown: %+v)", got.Reply)
	}
}

// TestRevisionTextIsBoundToItsRevision: a revision's text was sealed with
// nothing that names the revision. After alice submits revision 2,
// whoever writes the database copies her abandoned first draft, and its
// content hash, over revision 2: the office read, as the submitted memo,
// a text she took back before anyone signed. The seal now names the
// revision.
func TestRevisionTextIsBoundToItsRevision(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	alice := d.Member("alice")
	const draft, sent = "first draft, abandoned: intemperate words alice took out", "the text alice signed and sent"
	m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "t", Body: draft, Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.EditMemo(d.Ctx, alice, m.ID, service.EditInput{Title: "t", Body: sent, Marking: "UNCLASSIFIED", ExpectedRevision: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 2); err != nil {
		t.Fatal(err)
	}
	execSQL(t, st.(*sqlstore.DB), `UPDATE revisions SET
		sealed = (SELECT sealed FROM revisions WHERE memo_id = ? AND revision = 1),
		content_hash = (SELECT content_hash FROM revisions WHERE memo_id = ? AND revision = 1)
		WHERE memo_id = ? AND revision = 2`, m.ID, m.ID, m.ID)
	if got, err := d.Svc.GetMemo(d.Ctx, d.SignIn("office"), m.ID); err == nil {
		t.Errorf("the office reads, as submitted revision %d, %q", got.Revision, got.Body)
	}
}
