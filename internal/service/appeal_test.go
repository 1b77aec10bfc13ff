package service_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// replied is a memo drafter wrote with signer, submitted, acknowledged and
// replied to by the office of d.
func replied(t *testing.T, d *servicetest.Deployment, drafter, signer *service.Actor, title string) *service.Memo {
	t.Helper()
	m := d.Cosigned(drafter, signer, title)
	d.Clock.Advance(time.Hour)
	if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, m.ID); err != nil {
		t.Fatal(err)
	}
	d.Clock.Advance(24 * time.Hour)
	got, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "Decision: the current approach stands.")
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestAppealUnderTheNRCProfile follows an appeal through, as the NRC's
// Differing Professional Opinion programme has it: the submitters may
// appeal the decision for a while after it; the office owes a decision on
// appeal by the profile's deadline; that decision is final.
func TestAppealUnderTheNRCProfile(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "nrc-dpo"})
		alice, bob := d.Member("alice"), d.Member("bob")
		m := replied(t, d, alice, bob, "Seismic margins")
		if m.Deadlines == nil || m.Deadlines.AppealBy == nil {
			t.Fatalf("the reply opened no time to appeal: deadlines %+v", m.Deadlines)
		}
		// Days in the office's zone: 21 days on, at the same time of day.
		if want := m.Reply.RepliedAt.In(servicetest.Office).AddDate(0, 0, 21); !m.Deadlines.AppealBy.Equal(want) {
			t.Errorf("appeal by %v, want 21 days after the reply (%v)", m.Deadlines.AppealBy, want)
		}

		// Only a drafter appeals, and with a reason.
		for _, c := range []struct {
			who    *service.Actor
			reason string
			code   string
		}{
			{bob, "I disagree.", channel.EFORBIDDEN},             // a co-signer
			{d.Principals[0], "I disagree.", channel.EFORBIDDEN}, // a reader
			{d.Office, "I disagree.", channel.EFORBIDDEN},
			{alice, "", channel.EINVALID},
		} {
			if _, err := d.Svc.Appeal(d.Ctx, c.who, m.ID, c.reason); channel.ErrorCode(err) != c.code {
				t.Errorf("appeal by %s with reason %q: %v, want %s", c.who.Username(), c.reason, err, c.code)
			}
		}

		d.Clock.Advance(3 * 24 * time.Hour)
		got, err := d.Svc.Appeal(d.Ctx, alice, m.ID, "The panel did not consider the 2011 data.")
		if err != nil {
			t.Fatal(err)
		}
		if got.State != string(channel.Appealed) || got.Appeal == nil || got.Appeal.Reason != "The panel did not consider the 2011 data." || got.Appeal.Decision != nil {
			t.Fatalf("after the appeal: state %s, appeal %+v", got.State, got.Appeal)
		}
		due := got.Deadlines.AppealReplyBy
		if due == nil || !due.Equal(d.Clock.Now().In(servicetest.Office).AddDate(0, 0, 120)) {
			t.Errorf("decision on appeal due %v, want 120 days from the appeal", due)
		}
		if got.Reply == nil || got.Reply.Body != "Decision: the current approach stands." {
			t.Errorf("the first decision is gone from the memo: %+v", got.Reply)
		}
		if _, err := d.Svc.Appeal(d.Ctx, alice, m.ID, "Again."); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("a second appeal while the first is open: %v, want a conflict", err)
		}

		// The office sees it: in its inbox, by the decision's deadline,
		// and in a notice; the principals read the reason.
		page, err := d.Svc.ListMemos(d.Ctx, d.Office, service.BoxOffice, nil, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Items[0].DueAt == nil || !page.Items[0].DueAt.Equal(*due) {
			t.Errorf("the office's inbox: %+v, want the appealed memo due %v", page.Items, due)
		}
		if n := bell(t, d, d.Office); !slices.ContainsFunc(n.Items, func(x service.Notice) bool {
			return x.Kind == service.KindAppealed && x.MemoID == m.ID && x.DueAt != nil && x.DueAt.Equal(*due)
		}) {
			t.Errorf("the office was not told of the appeal: %+v", n.Items)
		}
		seen, err := d.Svc.GetMemo(d.Ctx, d.Principals[0], m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if seen.Appeal == nil || seen.Appeal.Reason == "" || !slices.ContainsFunc(seen.Events, func(e service.Event) bool { return e.Action == "memo.appeal" }) {
			t.Errorf("a principal sees appeal %+v and events %+v", seen.Appeal, seen.Events)
		}
		// Returning or withdrawing is for a first answer, not an appeal.
		if _, err := d.Svc.Return(d.Ctx, d.Office, m.ID, "Out of scope."); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("return of an appealed memo: %v", err)
		}
		if _, err := d.Svc.Withdraw(d.Ctx, alice, m.ID, "Never mind."); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("withdrawal of an appealed memo: %v", err)
		}

		// The decision on appeal is the office's next reply.
		d.Clock.Advance(10 * 24 * time.Hour)
		if _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "A reply meant as a first answer."); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("a reply to an appealed memo: %v, want a conflict (the decision is a step of its own)", err)
		}
		decided, err := d.Svc.DecideAppeal(d.Ctx, d.Office, m.ID, "On appeal: the 2011 data changes nothing.")
		if err != nil {
			t.Fatal(err)
		}
		if decided.State != string(channel.Replied) || decided.Appeal.Decision == nil || decided.Appeal.Decision.Body != "On appeal: the 2011 data changes nothing." {
			t.Fatalf("after the decision: state %s, appeal %+v", decided.State, decided.Appeal)
		}
		if decided.Reply.Body != "Decision: the current approach stands." || !decided.Reply.RepliedAt.Equal(m.Reply.RepliedAt) {
			t.Errorf("the decision on appeal replaced the first reply: %+v", decided.Reply)
		}
		if b := bell(t, d, alice); countWaiting(b, service.KindReplied) != 1 || !slices.ContainsFunc(b.Waiting, func(n service.Notice) bool {
			return n.Kind == service.KindReplied && n.At.Equal(decided.Appeal.Decision.RepliedAt)
		}) {
			t.Errorf("the drafter's bell does not tell of the decision on appeal: %+v", b.Waiting)
		}
		if _, err := d.Svc.Close(d.Ctx, d.Office, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Appeal(d.Ctx, alice, m.ID, "Once more."); err == nil || !strings.Contains(err.Error(), "appealed already") {
			t.Errorf("a second appeal after the decision: %v", err)
		}
	})
}

// TestAppealWindow: a closed case may be appealed while the time to
// appeal runs, and nothing after it; under a profile without appeals (the
// State Department's) no reply can be appealed.
func TestAppealWindow(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "nrc-dpo"})
	alice, bob := d.Member("alice"), d.Member("bob")
	early := replied(t, d, alice, bob, "Closed, then appealed")
	late := replied(t, d, alice, bob, "Appealed too late")
	for _, m := range []*service.Memo{early, late} {
		if _, err := d.Svc.Close(d.Ctx, d.Office, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	d.Clock.Advance(19 * 24 * time.Hour) // the first was replied to a day before the second
	if got, err := d.Svc.Appeal(d.Ctx, alice, early.ID, "Within the time."); err != nil || got.State != string(channel.Appealed) {
		t.Fatalf("appeal of a closed case within the time: %v", err)
	}
	d.Clock.Advance(3 * 24 * time.Hour)
	_, err := d.Svc.Appeal(d.Ctx, alice, late.ID, "A day late.")
	if channel.ErrorCode(err) != channel.ECONFLICT || !strings.Contains(err.Error(), "time to appeal ended") {
		t.Errorf("an appeal after the time: %v, want a conflict saying so", err)
	}

	state := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	carol, dan := state.Member("carol"), state.Member("dan")
	m := replied(t, state, carol, dan, "No appeal here")
	if m.Deadlines.AppealBy != nil {
		t.Errorf("the State profile gives a time to appeal: %v", m.Deadlines.AppealBy)
	}
	if _, err := state.Svc.Appeal(state.Ctx, carol, m.ID, "Please."); channel.ErrorCode(err) != channel.ECONFLICT || !strings.Contains(err.Error(), "no appeal") {
		t.Errorf("an appeal under the State profile: %v", err)
	}
}

// TestAppealDeadlineIsReminded: the decision on appeal is a deadline the
// office owes like the reply: reminded ahead, escalated once it passes.
func TestAppealDeadlineIsReminded(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "nrc-dpo"})
	alice, bob := d.Member("alice"), d.Member("bob")
	m := replied(t, d, alice, bob, "Reminded")
	got, err := d.Svc.Appeal(d.Ctx, alice, m.ID, "Reasons.")
	if err != nil {
		t.Fatal(err)
	}
	kinds := func() []string {
		if _, err := d.Svc.RunReminders(d.Ctx); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range bell(t, d, d.Office).Items {
			out = append(out, n.Kind)
		}
		return out
	}
	if k := kinds(); slices.Contains(k, "remind.appeal_reply") {
		t.Errorf("reminded at once: %v", k)
	}
	d.Clock.Set(got.Deadlines.AppealReplyBy.Add(-2 * 24 * time.Hour))
	if k := kinds(); !slices.Contains(k, "remind.appeal_reply") || slices.Contains(k, "overdue.appeal_reply") {
		t.Errorf("two days before the decision is due, the office's notices: %v", k)
	}
	d.Clock.Set(got.Deadlines.AppealReplyBy.Add(time.Hour))
	if k := kinds(); !slices.Contains(k, "overdue.appeal_reply") {
		t.Errorf("after the decision fell due, the office's notices: %v", k)
	}
}
