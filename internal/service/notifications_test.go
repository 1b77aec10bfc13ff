package service_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// noticeDeployment is a deployment whose service queues e-mail and
// escalates to "director".
func noticeDeployment(t *testing.T, st store.Store) *servicetest.Deployment {
	t.Helper()
	d := servicetest.NewDeployment(t, st)
	p := service.DefaultReminders()
	p.Email, p.EscalateTo = true, []string{"director"}
	d.Svc = d.Svc.WithReminders(p)
	return d
}

// circulate makes a memo drafted by drafter with signers invited, and
// returns it; signers sign only when sign is set.
func circulate(t *testing.T, d *servicetest.Deployment, drafter *service.Actor, title string, sign bool, signers ...*service.Actor) *service.Memo {
	t.Helper()
	m, err := d.Svc.CreateMemo(d.Ctx, drafter, service.MemoInput{Title: title, Body: "body of " + title, Marking: "SENSITIVE BUT UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if len(signers) > 0 {
		var names []string
		for _, s := range signers {
			names = append(names, s.Username())
		}
		if _, err := d.Svc.InviteSigners(d.Ctx, drafter, m.ID, names); err != nil {
			t.Fatal(err)
		}
	}
	if sign {
		for _, a := range append([]*service.Actor{drafter}, signers...) {
			if _, err := d.Svc.Sign(d.Ctx, a, m.ID, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	return m
}

func bell(t *testing.T, d *servicetest.Deployment, a *service.Actor) *service.Bell {
	t.Helper()
	b, err := d.Svc.Notifications(d.Ctx, a, 0)
	if err != nil {
		t.Fatalf("bell of %s: %v", a.Username(), err)
	}
	return b
}

func kindsOf(ns []service.Notice) []string {
	out := []string{}
	for _, n := range ns {
		out = append(out, n.Kind+":"+n.MemoID)
	}
	return out
}

// storedFor reads, as an operator with the database would, every
// notification row about a user.
func storedFor(t *testing.T, st store.Store, userID string) []*store.Notification {
	t.Helper()
	tx, err := st.Begin(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ns, err := tx.Notifications(t.Context(), userID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestSubmissionNotifiesOfficeAndPrincipalsOnly(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := noticeDeployment(t, st)
		alice, bob := d.Member("alice"), d.Member("bob")
		m := circulate(t, d, alice, "Syria policy", true, bob)
		rc, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		full, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
		if err != nil {
			t.Fatal(err)
		}

		ob := bell(t, d, d.Office)
		if got := kindsOf(ob.Items); !slices.Equal(got, []string{"memo.received:" + m.ID}) || ob.Unread != 1 {
			t.Fatalf("office bell %v (unread %d)", got, ob.Unread)
		}
		if due := ob.Items[0].DueAt; due == nil || !due.Equal(full.Deadlines.AcknowledgeBy) {
			t.Errorf("office notice due %v, want the acknowledgement deadline %v", due, full.Deadlines.AcknowledgeBy)
		}
		for _, p := range d.Principals {
			if got := kindsOf(bell(t, d, p).Items); !slices.Equal(got, []string{"memo.distributed:" + m.ID}) {
				t.Errorf("%s bell %v", p.Username(), got)
			}
		}
		for _, a := range []*service.Actor{alice, bob} {
			b := bell(t, d, a)
			if len(b.Items) != 0 || len(b.Waiting) != 0 || b.Unread != 0 {
				t.Errorf("author %s was notified: %+v", a.Username(), b)
			}
			if rows := storedFor(t, st, a.User.ID); len(rows) != 0 {
				t.Errorf("the database holds %d notification rows for author %s", len(rows), a.Username())
			}
		}

		// The outbox holds one e-mail per office member and principal,
		// none for an author, and nothing of the memo but its id.
		mails, err := d.Svc.ClaimMail(d.Ctx, time.Minute, 100)
		if err != nil {
			t.Fatal(err)
		}
		var to []string
		for _, ml := range mails {
			to = append(to, ml.To)
			if ml.MemoID != rc.MemoID {
				t.Errorf("mail about %q", ml.MemoID)
			}
		}
		slices.Sort(to)
		if want := []string{"office@example.test", "p1@example.test", "p2@example.test"}; !slices.Equal(to, want) {
			t.Errorf("outbox to %v, want %v", to, want)
		}
	})
}

func TestBellWorksOutWhatWaitsForAuthors(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := noticeDeployment(t, st)
		alice, bob, carol := d.Member("alice"), d.Member("bob"), d.Member("carol")
		m := circulate(t, d, alice, "Arctic policy", false, bob, carol)

		for _, a := range []*service.Actor{bob, carol} {
			b := bell(t, d, a)
			if got := kindsOf(b.Waiting); !slices.Equal(got, []string{"sign.pending:" + m.ID}) || b.Unread != 1 {
				t.Fatalf("%s: waiting %v, unread %d", a.Username(), got, b.Unread)
			}
			if n, err := d.Svc.UnreadCount(d.Ctx, a); err != nil || n != 1 {
				t.Errorf("%s: unread count %d %v", a.Username(), n, err)
			}
			// Worked out, never stored: no row ties the invitee to anything.
			if rows := storedFor(t, st, a.User.ID); len(rows) != 0 {
				t.Errorf("the invitation left %d notification rows for %s", len(rows), a.Username())
			}
		}
		if b := bell(t, d, alice); len(b.Waiting) != 0 {
			t.Errorf("the drafter is asked for nothing yet: %v", kindsOf(b.Waiting))
		}

		if _, err := d.Svc.Sign(d.Ctx, bob, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		if b := bell(t, d, bob); len(b.Waiting) != 0 || b.Unread != 0 {
			t.Errorf("after signing, bob still has %v", kindsOf(b.Waiting))
		}
		// An edit voids the signatures: bob is asked again.
		if _, err := d.Svc.EditMemo(d.Ctx, alice, m.ID, service.EditInput{Title: "Arctic policy", Body: "a better body", Marking: "UNCLASSIFIED", ExpectedRevision: 1}); err != nil {
			t.Fatal(err)
		}
		if got := kindsOf(bell(t, d, bob).Waiting); !slices.Equal(got, []string{"sign.pending:" + m.ID}) {
			t.Errorf("after an edit bob's bell shows %v", got)
		}

		// A month later the draft is stale, for its drafter only, and the
		// flag does not hold the count up.
		d.Clock.Advance(31 * 24 * time.Hour)
		b := bell(t, d, alice)
		if got := kindsOf(b.Waiting); !slices.Equal(got, []string{"draft.stale:" + m.ID}) || b.Unread != 0 {
			t.Errorf("alice a month on: waiting %v, unread %d", got, b.Unread)
		}
		if got := kindsOf(bell(t, d, carol).Waiting); !slices.Equal(got, []string{"sign.pending:" + m.ID}) {
			t.Errorf("carol a month on: %v", got)
		}
		if rows := storedFor(t, st, alice.User.ID); len(rows) != 0 {
			t.Errorf("the stale draft left %d notification rows for its drafter", len(rows))
		}
	})
}

func TestMarkNotificationsRead(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := noticeDeployment(t, st)
		alice := d.Member("alice")
		for i := range 2 {
			m := circulate(t, d, alice, "memo "+string(rune('a'+i)), true)
			if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
				t.Fatal(err)
			}
		}
		b := bell(t, d, d.Office)
		if b.Unread != 2 || len(b.Items) != 2 {
			t.Fatalf("office bell: %+v", b)
		}
		if err := d.Svc.MarkNotificationsRead(d.Ctx, d.Office, b.Items[1].Seq); err != nil {
			t.Fatal(err)
		}
		if n, _ := d.Svc.UnreadCount(d.Ctx, d.Office); n != 1 {
			t.Errorf("after reading the older: %d unread", n)
		}
		if err := d.Svc.MarkNotificationsRead(d.Ctx, d.Office, 0); err != nil {
			t.Fatal(err)
		}
		if n, _ := d.Svc.UnreadCount(d.Ctx, d.Office); n != 0 {
			t.Errorf("after reading all: %d unread", n)
		}
		if err := d.Svc.MarkNotificationsRead(d.Ctx, d.Office, -1); channel.ErrorCode(err) != channel.EINVALID {
			t.Errorf("a negative seq: %v", err)
		}
		if _, err := d.Svc.Notifications(d.Ctx, d.Office, 201); channel.ErrorCode(err) != channel.EINVALID {
			t.Errorf("limit 201: %v", err)
		}
	})
}

// TestRemindersOnceAcrossNodes runs the reminders on two nodes at once, and
// again: each reminder is written once, with one audit event.
func TestRemindersOnceAcrossNodes(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := noticeDeployment(t, st)
		d.Create("director", false, "member")
		alice := d.Member("alice")
		d.Clock.Set(time.Date(2026, 11, 24, 10, 0, 0, 0, servicetest.Office))
		m := circulate(t, d, alice, "Thanksgiving memo", true)
		if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		p := service.DefaultReminders()
		p.EscalateTo = []string{"director"}
		nodes := []*service.Service{d.Svc.WithReminders(p), d.Svc.WithReminders(p), d.Svc.WithReminders(p)}

		run := func(at time.Time) (reminded, escalated int) {
			d.Clock.Set(at)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for _, n := range nodes {
				wg.Go(func() {
					r, err := n.RunReminders(d.Ctx)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					reminded, escalated = reminded+r.Reminded, escalated+r.Escalated
					mu.Unlock()
				})
			}
			wg.Wait()
			return
		}
		if r, e := run(time.Date(2026, 11, 25, 9, 0, 0, 0, servicetest.Office)); r != 1 || e != 0 {
			t.Errorf("Wednesday 09:00: %d reminders, %d escalations; want 1, 0", r, e)
		}
		if r, e := run(time.Date(2026, 11, 25, 9, 5, 0, 0, servicetest.Office)); r != 0 || e != 0 {
			t.Errorf("again: %d reminders, %d escalations; want none", r, e)
		}
		if r, e := run(time.Date(2026, 11, 27, 17, 5, 0, 0, servicetest.Office)); r != 0 || e != 1 {
			t.Errorf("Friday after the deadline: %d reminders, %d escalations; want 0, 1", r, e)
		}
		got, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, ev := range got.Events {
			if ev.Role == "system" {
				actions = append(actions, ev.Action)
			}
		}
		if want := []string{"memo.remind.acknowledge", "memo.escalate.acknowledge"}; !slices.Equal(actions, want) {
			t.Errorf("system events %v, want %v", actions, want)
		}
		if got := kindsOf(bell(t, d, d.SignIn("director")).Items); !slices.Equal(got, []string{"overdue.acknowledge:" + m.ID}) {
			t.Errorf("director's bell %v", got)
		}
	})
}

// TestRemindersReadOnlyWhatIsDue: a run reads the memos that have
// something due, not every open one; a memo it has dealt with is not read
// again until its next reminder or escalation, so a backlog of overdue
// memos costs nothing run after run; a new policy, and memos from before
// the store kept a next check, are scheduled again by the next run.
func TestRemindersReadOnlyWhatIsDue(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := noticeDeployment(t, st)
		d.Create("director", false, "member")
		alice := d.Member("alice")
		at := func(s string) time.Time {
			v, err := time.ParseInLocation("2006-01-02 15:04", s, servicetest.Office)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		d.Clock.Set(at("2026-11-24 10:00")) // the Tuesday before Thanksgiving
		var ids []string
		for i := range 3 {
			m := circulate(t, d, alice, fmt.Sprintf("memo %d", i), true)
			if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		}
		expect := func(svc *service.Service, when, what string, want service.ReminderRun) {
			t.Helper()
			d.Clock.Set(at(when))
			got, err := svc.RunReminders(d.Ctx)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			got.Notices = 0
			if *got != want {
				t.Errorf("%s (%s): %+v, want %+v", what, when, *got, want)
			}
		}
		expect(d.Svc, "2026-11-24 11:00", "before anything is due", service.ReminderRun{})
		expect(d.Svc, "2026-11-25 09:00", "the acknowledgements' reminders", service.ReminderRun{Checked: 3, Reminded: 3})
		expect(d.Svc, "2026-11-25 09:05", "the same morning again", service.ReminderRun{})
		expect(d.Svc, "2026-11-27 17:05", "past the deadline", service.ReminderRun{Checked: 3, Escalated: 3})
		expect(d.Svc, "2026-11-27 17:10", "an overdue backlog, again", service.ReminderRun{})
		expect(d.Svc, "2026-12-04 09:00", "a week on", service.ReminderRun{})

		// Acknowledging one moves its check to its reply's reminder.
		if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, ids[0]); err != nil {
			t.Fatal(err)
		}
		expect(d.Svc, "2026-12-04 09:05", "after an acknowledgement", service.ReminderRun{})

		// A policy that reminds of the reply 25 working days ahead (from
		// 2 December for the 8 January deadline) moves all three checks
		// into the past: the next run reschedules and reminds.
		p := service.DefaultReminders()
		p.Email, p.EscalateTo, p.ReplyLead = true, []string{"director"}, 25
		longer := d.Svc.WithReminders(p)
		expect(longer, "2026-12-04 09:10", "a longer reply lead", service.ReminderRun{Rescheduled: 3, Checked: 3, Reminded: 3})
		expect(longer, "2026-12-04 09:15", "the longer lead again", service.ReminderRun{})

		// Memos as the upgrade that added the next check leaves them: none
		// set and no schedule recorded. The first run works them out; the
		// reply reminders the default lead calls for on 31 December were
		// sent under the longer lead already, and are not sent twice.
		tx, err := st.Begin(d.Ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			m, err := tx.MemoByID(d.Ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := tx.SetMemoCheck(d.Ctx, id, m.Version, 0); err != nil || !ok {
				t.Fatalf("clearing %s: %v %v", id, ok, err)
			}
		}
		if err := tx.PutSetting(d.Ctx, "reminders.schedule", nil); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		expect(d.Svc, "2026-12-31 09:00", "after the upgrade", service.ReminderRun{Rescheduled: 3, Checked: 3})
		expect(d.Svc, "2026-12-31 09:05", "after the upgrade, again", service.ReminderRun{})
		// A new year moves the calendar's fingerprint (the working days of
		// the years around now), so its first run reschedules too.
		expect(d.Svc, "2027-01-08 17:05", "past the reply deadline", service.ReminderRun{Rescheduled: 3, Checked: 3, Escalated: 3})
		expect(d.Svc, "2027-01-08 17:10", "past the reply deadline, again", service.ReminderRun{})
	})
}

// TestYearStatsFromTheStore: figures computed from real memos on both
// stores, small counts hidden, and only for those who may see them.
func TestYearStatsFromTheStore(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := noticeDeployment(t, st)
		auditor := d.Create("auditor", false, "auditor")
		alice := d.Member("alice")
		submit := func(n int) []string {
			var ids []string
			for i := range n {
				m := circulate(t, d, alice, "figures "+strconv.Itoa(i), true)
				if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, m.ID)
			}
			return ids
		}
		figures := func() (*service.Stats, string) {
			t.Helper()
			stats, err := d.Svc.YearStats(d.Ctx, auditor, 2026)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(stats)
			return stats, string(b)
		}
		ids := submit(10)
		d.Clock.Advance(time.Hour)
		for i, id := range ids {
			if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, id); err != nil {
				t.Fatal(err)
			}
			if i%2 == 1 {
				continue
			}
			if _, err := d.Svc.Reply(d.Ctx, d.Office, id, "the reply"); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Svc.Close(d.Ctx, d.Office, id); err != nil {
				t.Fatal(err)
			}
		}
		_, got := figures()
		for _, want := range []string{`"submitted":10`, `"acknowledged":5`, `"closed":5`, `"withdrawn":0`, `"on_time":10`,
			`"acknowledged_on_time_share":1`, `"replied":{"ended_before_due":0,"late":0,"on_time":5`, `"replied_on_time_share":1`,
			`"median_workdays_to_reply":0`, `"signer_bands":{"1":"suppressed",`, `"signer_bands_after":"2027-01-01T01:00:00`} {
			if !strings.Contains(got, want) {
				t.Errorf("ten memos: figures lack %s:\n%s", want, got)
			}
		}

		// One more memo, still awaiting acknowledgement: 1 of 11. With
		// only two other cells of 5, no choice of cells hides it beyond
		// doubt, so the states table and everything beneath it go.
		submit(1)
		stats, got := figures()
		for _, c := range stats.States {
			if c.Shown() {
				t.Errorf("eleven memos: a state is shown: %s", got)
				break
			}
		}
		for _, want := range []string{`"submitted":11`, `"acknowledged_on_time_share":null`, `"median_workdays_to_reply":null`, `"signer_bands":{"1":"suppressed",`} {
			if !strings.Contains(got, want) {
				t.Errorf("eleven memos: figures lack %s:\n%s", want, got)
			}
		}
		var csv bytes.Buffer
		if err := stats.WriteCSV(&csv); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(csv.String(), "states,submitted,suppressed\n") || !strings.Contains(csv.String(), "submitted,,11\n") {
			t.Errorf("CSV:\n%s", csv.String())
		}
		if _, err := d.Svc.YearStats(d.Ctx, alice, 2026); channel.ErrorCode(err) != channel.EFORBIDDEN {
			t.Errorf("a member asks for figures: %v", err)
		}

		// The signer bands of a year come once it is over, and an hour
		// more: two releases within it would differ by one memo's band.
		d.Clock.Set(time.Date(2027, time.January, 1, 0, 30, 0, 0, d.Svc.Config().Calendar.Location()))
		if _, got := figures(); !strings.Contains(got, `"signer_bands":{"1":"suppressed",`) {
			t.Errorf("2026's figures half an hour after the year's end show its signer bands:\n%s", got)
		}
		d.Clock.Set(time.Date(2027, time.January, 2, 12, 0, 0, 0, time.UTC))
		if _, got := figures(); !strings.Contains(got, `"signer_bands":{"1":11,`) || strings.Contains(got, "signer_bands_after") {
			t.Errorf("2026's figures in 2027 lack its signer bands:\n%s", got)
		}
	})
}
