package service_test

import (
	"errors"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestReview76MailServerReplyThatIsNotUTF8IsRecorded: clip's comment says
// "a mail server's reply or an error may be UTF-8, which PostgreSQL refuses
// to store cut in the middle of a character (or otherwise invalid)", but
// clip only mends the text when it cuts it: a reply of 500 bytes or fewer
// goes to the TEXT column as it came. SQLite stores anything; PostgreSQL
// refuses invalid UTF-8 and NUL (SQLSTATE 22021). A mail server answering
// in Latin-1 ("Empfänger unbekannt") then makes the permanent refusal
// unrecordable on PostgreSQL alone: MailFailed fails, the e-mail stays
// pending and is claimed and refused again at every lease, for ever, and
// the job's own failure (FinishJob, same clip) is not recorded either.
func TestReview76MailServerReplyThatIsNotUTF8IsRecorded(t *testing.T) {
	for _, reply := range []string{
		"550 5.1.1 Empf\xe4nger unbekannt",       // Latin-1, not UTF-8
		"550 5.1.1 no such user\x00 (truncated)", // a NUL byte
	} {
		storetest.Stores(t, func(t *testing.T, st store.Store) {
			h := noticeDeployment(t, st)
			if _, err := h.Svc.CreateUser(h.Ctx, h.Admin, service.NewUser{Username: "dana", DisplayName: "Dana", Email: "dana@example.test",
				Password: servicetest.InitialPassword("dana"), Roles: []string{"member"}, Eligible: true}); err != nil {
				t.Fatal(err)
			}
			mails, err := h.Svc.ClaimMail(h.Ctx, time.Minute, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(mails) == 0 {
				t.Fatal("no e-mail to claim")
			}
			if err := h.Svc.MailFailed(h.Ctx, mails[0], 0, true, reply); err != nil {
				t.Errorf("MailFailed(permanent, %q) = %v; want the refusal recorded, as the other store does", reply, err)
			}
			// The refused e-mail must not come back.
			h.Clock.Advance(2 * time.Minute)
			again, err := h.Svc.ClaimMail(h.Ctx, time.Minute, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range again {
				if m.ID == mails[0].ID {
					t.Errorf("e-mail %s, refused for good, was claimed again (attempt %d)", m.ID, m.Attempt)
				}
			}

			ok, err := h.Svc.ClaimJob(h.Ctx, "review76", "node-1", time.Minute)
			if err != nil || !ok {
				t.Fatalf("ClaimJob = %v, %v", ok, err)
			}
			if err := h.Svc.FinishJob(h.Ctx, "review76", "node-1", time.Hour, errors.New(reply)); err != nil {
				t.Errorf("FinishJob(error %q) = %v; want the run recorded", reply, err)
			}
		})
	}
}

// TestReview76SubmissionHiddenByRetypingItsLeavesIsFound: the threat model
// says a memo set back to a draft so that it leaves the office's inbox "is
// found within the hour" (the `lifecycles` check), and that a lifecycle
// entry filed so that the memo's queries miss it is reported by "the
// ledger's self-check". On SQLite, an administrator who sets an
// acknowledged memo's row back to a draft and rewrites the memo_id of its
// submission and acknowledgement leaves as BLOBs of the same bytes defeats
// both: MemoSteps and MemoLedger (memo_id IN / = a TEXT id) no longer find
// the leaves, so the row agrees with what is left of its ledger, and
// LeafIndexMismatch reads the BLOB as the memo's own id. The node stays
// ready. (On PostgreSQL the same rewrite stores other text, and is found.)
func TestReview76SubmissionHiddenByRetypingItsLeavesIsFound(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		acked := submitted(t, d, alice, "acknowledged")
		if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, acked.ID); err != nil {
			t.Fatal(err)
		}
		if checked, bad, err := d.Svc.CheckLifecycles(d.Ctx); err != nil || bad != 0 || checked != 1 {
			t.Fatalf("before any change: checked %d, %d disagree, %v", checked, bad, err)
		}
		blob := "BLOB"
		if st.Dialect() == "postgres" {
			blob = "BYTEA"
		}
		db := st.(*sqlstore.DB)
		for _, q := range []string{
			`UPDATE memos SET state = 'draft', submitted_at = 0, acknowledged_at = 0, acknowledge_by = 0, reply_by = 0, reply_latest = 0, due_at = 0, check_at = 0 WHERE id = ?`,
			`UPDATE ledger_leaves SET memo_id = CAST(memo_id AS ` + blob + `) WHERE memo_id = ? AND action IN ('memo.submit', 'memo.acknowledge')`,
		} {
			if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(q), acked.ID); err != nil {
				t.Fatal(err)
			}
		}
		node := d.WithConfig(d.Svc.Config())
		_, bad, err := node.CheckLifecycles(d.Ctx)
		if err != nil {
			t.Fatal(err)
		}
		check, err := node.CheckLedger(d.Ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if bad == 0 && check.OK {
			t.Errorf("an acknowledged memo set back to a draft, its submission and acknowledgement hidden from it: the lifecycle check finds %d rows that disagree and the ledger's self-check is OK; want either to report it", bad)
		}
		if err := node.Ready(d.Ctx); err == nil {
			t.Error("the node still reports ready")
		}
	})
}
