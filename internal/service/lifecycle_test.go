package service_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestRewrittenLifecycleIsRefused: someone who writes the database sets a
// memo's row apart from what happened to it: closed, so that it leaves
// the office's inbox and its reminders stop; its acknowledgement dated
// back, so that the office looks timely; never acknowledged, so that it
// looks late. Whoever opens the memo next, the office or its author, on
// this node or one that opened it before the change, is refused, the log
// says so, and the node stops reporting ready.
func TestRewrittenLifecycleIsRefused(t *testing.T) {
	day := int64(24 * time.Hour / time.Microsecond)
	cases := []struct {
		name, sql string
		warm      bool // the node opened the memo before the change
	}{
		{"set to closed", `UPDATE memos SET state = 'closed', ended_at = acknowledged_at, due_at = 0, check_at = 0 WHERE id = ?`, false},
		{"set to closed, on a node that vouched for it before", `UPDATE memos SET state = 'closed', ended_at = acknowledged_at WHERE id = ?`, true},
		{"acknowledged two days earlier", `UPDATE memos SET acknowledged_at = acknowledged_at - 2 * CAST(? AS BIGINT) WHERE id = ?`, true},
		{"never acknowledged", `UPDATE memos SET state = 'submitted', acknowledged_at = 0 WHERE id = ?`, false},
		{"submitted a day later", `UPDATE memos SET submitted_at = submitted_at + CAST(? AS BIGINT) WHERE id = ?`, true},
		{"its reply due a day later", `UPDATE memos SET reply_by = reply_by + CAST(? AS BIGINT) WHERE id = ?`, true},
		{"its acknowledgement due a day later", `UPDATE memos SET acknowledge_by = acknowledge_by + CAST(? AS BIGINT) WHERE id = ?`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Stores(t, func(t *testing.T, st store.Store) {
				d := servicetest.NewDeployment(t, st)
				alice := d.Member("alice")
				m := submitted(t, d, alice, "a memo")
				if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, m.ID); err != nil {
					t.Fatal(err)
				}
				if c.warm {
					if _, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID); err != nil {
						t.Fatal(err)
					}
				}
				db := st.(*sqlstore.DB)
				args := []any{m.ID}
				if strings.Count(c.sql, "?") == 2 {
					args = []any{day, m.ID}
				}
				if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(c.sql), args...); err != nil {
					t.Fatal(err)
				}
				for _, who := range []*service.Actor{d.Office, alice} {
					if got, err := d.Svc.GetMemo(d.Ctx, who, m.ID); channel.ErrorCode(err) != channel.EINTERNAL {
						t.Errorf("%s opens the memo: state %v, %v; want it refused", who.Username(), stateOf(got), err)
					}
				}
				if err := d.Svc.Ready(d.Ctx); err == nil {
					t.Error("the node still reports ready")
				}
			})
		})
	}
}

func stateOf(m *service.Memo) string {
	if m == nil {
		return "none"
	}
	return m.State
}

// TestEveryStepAgreesWithTheLedger: a memo taken through each step of
// its lifecycle, appeals included, opens after each, on a node that saw
// it before and on one that did not.
func TestEveryStepAgreesWithTheLedger(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "nrc-dpo"})
		alice := d.Member("alice")
		m := submitted(t, d, alice, "a memo")
		steps := []struct {
			name string
			do   func() error
		}{
			{"acknowledge", func() error { _, err := d.Svc.Acknowledge(d.Ctx, d.Office, m.ID); return err }},
			{"reply", func() error { _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "Our answer."); return err }},
			{"close", func() error { _, err := d.Svc.Close(d.Ctx, d.Office, m.ID); return err }},
			{"appeal", func() error { _, err := d.Svc.Appeal(d.Ctx, alice, m.ID, "We disagree."); return err }},
			{"decide", func() error { _, err := d.Svc.DecideAppeal(d.Ctx, d.Office, m.ID, "Upheld."); return err }},
			{"close again", func() error { _, err := d.Svc.Close(d.Ctx, d.Office, m.ID); return err }},
		}
		for _, s := range steps {
			d.Clock.Advance(time.Hour)
			if err := s.do(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			fresh := d.WithConfig(d.Svc.Config())
			for _, svc := range []*service.Service{d.Svc, fresh} {
				for _, who := range []*service.Actor{alice, d.Office} {
					if _, err := svc.GetMemo(d.Ctx, who, m.ID); err != nil {
						t.Fatalf("after %s, %s opens the memo: %v", s.name, who.Username(), err)
					}
				}
			}
		}
		if err := d.Svc.Ready(d.Ctx); err != nil {
			t.Fatal(err)
		}

		// Withdrawn and returned memos, and a draft, open too.
		w := submitted(t, d, alice, "withdrawn")
		if _, err := d.Svc.Withdraw(d.Ctx, alice, w.ID, "Overtaken by events."); err != nil {
			t.Fatal(err)
		}
		r := submitted(t, d, alice, "returned")
		if _, err := d.Svc.Return(d.Ctx, d.Office, r.ID, "Not a policy matter."); err != nil {
			t.Fatal(err)
		}
		dr, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "a draft", Body: "text", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		fresh := d.WithConfig(d.Svc.Config())
		for _, id := range []string{w.ID, r.ID, dr.ID} {
			if _, err := fresh.GetMemo(d.Ctx, alice, id); err != nil {
				t.Errorf("memo %s: %v", id, err)
			}
		}
	})
}

// TestLifecycleCheckFindsRowsNobodyOpens: rows set apart so that nobody
// opens them, a memo taken back to a draft to leave the office's inbox
// and a draft made to look submitted, are found by the check of every
// memo that the background job runs, on a node that never opened them,
// however the memos fall into its pages; the memos that agree are not
// reported, and the node stops reporting ready.
func TestLifecycleCheckFindsRowsNobodyOpens(t *testing.T) {
	defer service.SetLifecyclePage(2)()
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		acked := submitted(t, d, alice, "acknowledged")
		if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, acked.ID); err != nil {
			t.Fatal(err)
		}
		closed := submitted(t, d, alice, "closed")
		for _, step := range []func() error{
			func() error { _, err := d.Svc.Reply(d.Ctx, d.Office, closed.ID, "Answered."); return err },
			func() error { _, err := d.Svc.Close(d.Ctx, d.Office, closed.ID); return err },
		} {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		withdrawn := submitted(t, d, alice, "withdrawn")
		if _, err := d.Svc.Withdraw(d.Ctx, alice, withdrawn.ID, "Overtaken by events."); err != nil {
			t.Fatal(err)
		}
		draft, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "a draft", Body: "text", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		d.Member("bob")
		circulating, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "circulating", Body: "text", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.InviteSigners(d.Ctx, alice, circulating.ID, []string{"bob"}); err != nil {
			t.Fatal(err)
		}
		all := 5

		checked, bad, err := d.Svc.CheckLifecycles(d.Ctx)
		if err != nil || checked != all || bad != 0 {
			t.Fatalf("before any change: checked %d, %d disagree, %v; want %d, 0", checked, bad, err, all)
		}
		if err := d.Svc.Ready(d.Ctx); err != nil {
			t.Fatal(err)
		}

		db := st.(*sqlstore.DB)
		for _, c := range []struct{ sql, id string }{
			{`UPDATE memos SET state = 'draft', submitted_at = 0, acknowledged_at = 0, due_at = 0 WHERE id = ?`, acked.ID},
			{`UPDATE memos SET state = 'submitted', submitted_at = updated_at WHERE id = ?`, draft.ID},
		} {
			if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(c.sql), c.id); err != nil {
				t.Fatal(err)
			}
		}
		node := d.WithConfig(d.Svc.Config())
		checked, bad, err = node.CheckLifecycles(d.Ctx)
		if err != nil || checked != all || bad != 2 {
			t.Fatalf("after two rows were rewritten: checked %d, %d disagree, %v; want %d, 2", checked, bad, err, all)
		}
		if err := node.Ready(d.Ctx); err == nil {
			t.Error("the node still reports ready")
		}
	})
}

// TestFiguresFromRewrittenRowsAreWithheld: six memos, five acknowledged
// late; someone who writes the database dates those acknowledgements
// back so the office looks timely. The year's figures are not computed
// from such rows: the auditor is told they are withheld, and why.
func TestFiguresFromRewrittenRowsAreWithheld(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		auditor := d.Create("auditor", false, "auditor")
		alice := d.Member("alice")
		var ids []string
		for i := range 6 {
			ids = append(ids, submitted(t, d, alice, "memo "+strconv.Itoa(i)).ID)
		}
		d.Clock.Advance(10 * 24 * time.Hour)
		for _, id := range ids {
			if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, id); err != nil {
				t.Fatal(err)
			}
		}
		year := d.Clock.Now().In(servicetest.Office).Year()
		if _, err := d.Svc.YearStats(d.Ctx, auditor, year); err != nil {
			t.Fatalf("figures before any change: %v", err)
		}
		db := st.(*sqlstore.DB)
		if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`UPDATE memos SET acknowledged_at = submitted_at + 3600000000 WHERE id <> ?`), ids[0]); err != nil {
			t.Fatal(err)
		}
		stats, err := d.Svc.YearStats(d.Ctx, auditor, year)
		if channel.ErrorCode(err) != channel.EUNAVAILABLE || !strings.Contains(channel.ErrorMessage(err), "records of 5 of the memos") {
			t.Fatalf("figures from rewritten rows: %+v, %v; want them withheld, naming five memos altered", stats, err)
		}
		if err := d.Svc.Ready(d.Ctx); err == nil {
			t.Error("the node still reports ready")
		}
	})
}
