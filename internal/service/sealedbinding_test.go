package service_test

// Each test here proves a finding of the review of the cryptography as
// used (helper-43), fixed since; its comment says what went wrong before.

import (
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
