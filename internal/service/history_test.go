package service_test

import (
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestSubmissionReadsTheHistoryOnce: a submission checks its co-signers'
// signatures against their latest steps in the memo's ledger
// (signaturesStand), and its presubmit reads that ledger already, to vouch
// for the memo's keys. The write transaction, one at a time behind the
// single writer, used to read it again; it now takes presubmit's steps
// while the memo's latest entry is the one presubmit saw. Opening a memo
// to read it likewise reads its history once, for its keys and its events.
func TestSubmissionReadsTheHistoryOnce(t *testing.T) {
	st := &hookStore{Store: storetest.OpenSQLite(t)}
	d := servicetest.NewDeployment(t, st)
	alice, bob := d.Member("alice"), d.Member("bob")
	m := signedByBoth(t, d, alice, bob, "read once")

	before := st.ledger.Load()
	if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	if got := st.ledger.Load() - before; got != 1 {
		t.Errorf("a submission read the memo's history %d times, want 1", got)
	}

	before = st.ledger.Load()
	if _, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID); err != nil {
		t.Fatal(err)
	}
	if got := st.ledger.Load() - before; got != 1 {
		t.Errorf("opening a memo read its history %d times, want 1", got)
	}
}

// TestStepsAfterPresubmitAreSeen: bob takes his signature back after
// presubmit read the memo's ledger and before the write transaction, and
// whoever writes the database puts back the roster saved while he had
// signed. The steps presubmit read say he signed; the write transaction
// must see the memo's history grew since and read it again, and refuse.
func TestStepsAfterPresubmitAreSeen(t *testing.T) {
	st := &hookStore{Store: storetest.OpenSQLite(t)}
	d := servicetest.NewDeployment(t, st)
	alice, bob := d.Member("alice"), d.Member("bob")
	m := signedByBoth(t, d, alice, bob, "taken back meanwhile")
	db := st.Store.(*sqlstore.DB)
	var saved []byte
	if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT roster FROM memos WHERE id = ?`), m.ID).Scan(&saved); err != nil {
		t.Fatal(err)
	}
	fired := false
	hookArm(st, &st.beforeWrite, func() bool {
		fired = true
		if _, err := d.Svc.Unsign(d.Ctx, bob, m.ID); err != nil {
			t.Error(err)
		}
		execSQL(t, db, `UPDATE memos SET roster = ? WHERE id = ?`, saved, m.ID)
		return true
	})
	if rc, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err == nil {
		t.Errorf("submitted with the signature bob took back after presubmit: %+v", rc)
	}
	if !fired {
		t.Fatal("the submission began no write transaction")
	}
}

func signedByBoth(t *testing.T, d *servicetest.Deployment, alice, bob *service.Actor, title string) *service.Memo {
	t.Helper()
	m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: title, Body: "b", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.InviteSigners(d.Ctx, alice, m.ID, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*service.Actor{bob, alice} {
		if _, err := d.Svc.Sign(d.Ctx, a, m.ID, 1); err != nil {
			t.Fatal(err)
		}
	}
	return m
}
