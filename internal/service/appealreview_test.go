package service_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// closedWithAgreement is a memo alice drafted with bob as co-drafter (both
// sign), submitted, replied to and closed by the office, with both
// drafters' agreement to publish it.
func closedWithAgreement(t *testing.T, d *servicetest.Deployment, alice, bob *service.Actor, title string) *service.Memo {
	t.Helper()
	m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: title, Body: "body of " + title, Marking: "UNCLASSIFIED", Codrafters: []string{bob.User.Username}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	d.Clock.Advance(time.Hour)
	if _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "We keep our position."); err != nil {
		t.Fatal(err)
	}
	d.Clock.Advance(time.Hour)
	if _, err := d.Svc.Close(d.Ctx, d.Office, m.ID); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*service.Actor{alice, bob} {
		if _, err := d.Svc.AgreeToPublish(d.Ctx, a, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestNoAppealOfAPublishedCase (review 53): Publish treated the time to
// appeal as over at the instant AppealBy (it refused only before it),
// while Appeal still accepted an appeal at that instant (it refused only
// after it); and Appeal never checked whether the case was published. At
// that instant — or whenever two app nodes' clocks differ a little, the
// office publishing on one and a drafter appealing on the other — the
// office published the case and a drafter then appealed it: the published
// case ("closed", with no appeal) was no longer what the memo said.
// Publishing now waits until after AppealBy, and a published case is not
// appealed, whatever the appealing node's clock says.
func TestNoAppealOfAPublishedCase(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t), servicetest.Options{Profile: "nrc-dpo"})
	alice, bob := d.Member("alice"), d.Member("bob")
	m := closedWithAgreement(t, d, alice, bob, "Published, then appealed")
	d.Clock.Set(*m.Deadlines.AppealBy)
	if _, err := d.Svc.Publish(d.Ctx, d.Office, m.ID); channel.ErrorCode(err) != channel.ECONFLICT {
		t.Errorf("publishing at the last instant of the time to appeal: %v, want a conflict", err)
	}
	d.Clock.Set(m.Deadlines.AppealBy.Add(time.Second))
	if _, err := d.Svc.Publish(d.Ctx, d.Office, m.ID); err != nil {
		t.Fatalf("publishing once the time to appeal is over: %v", err)
	}
	d.Clock.Set(*m.Deadlines.AppealBy) // a node whose clock is a second behind
	got, err := d.Svc.Appeal(d.Ctx, alice, m.ID, "We appeal.")
	if err == nil {
		t.Errorf("a published case was appealed afterwards: the memo is now %s while its publication says closed with no appeal", got.State)
	}
}

// TestAlteredPublicationIsRefused (review 53): the threat model says a
// published text altered in the database "shows against" the content
// hash its memo.publish ledger entry carries, and the page tells readers
// "what is published here is what was submitted". But GetPublication
// hands out whatever the publications row holds: an administrator (or a
// thief with write access) who rewrites the published body is served to
// every reader as the authentic case, with the original content hash
// beside it. Revisions get this check (openRevision refuses a text whose
// hash differs); the publication, the one copy anyone can read, did not.
// It is now refused, as tampering, unless its text hashes to what its
// memo.publish ledger entry recorded and its row's title is the text's.
func TestAlteredPublicationIsRefused(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "nrc-dpo"})
	alice, bob, carol := d.Member("alice"), d.Member("bob"), d.Member("carol")
	m := closedWithAgreement(t, d, alice, bob, "Weld inspections")
	d.Clock.Set(m.Deadlines.AppealBy.Add(time.Hour))
	if _, err := d.Svc.Publish(d.Ctx, d.Office, m.ID); err != nil {
		t.Fatal(err)
	}
	db := st.(*sqlstore.DB)
	var doc []byte
	if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT doc FROM publications WHERE memo_id = ?`), m.ID).Scan(&doc); err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(doc), "body of Weld inspections", "The authors withdraw every claim.", 1)
	if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`UPDATE publications SET doc = ?, title = ? WHERE memo_id = ?`), []byte(forged), "Forged title", m.ID); err != nil {
		t.Fatal(err)
	}
	p, err := d.Svc.GetPublication(d.Ctx, carol, m.ID)
	if err == nil {
		t.Errorf("a publication altered in the database is served as authentic: body %q, content hash %s", p.Body, p.ContentHash)
	}
	// The list shows titles as stored, as memo lists do (THREAT-MODEL,
	// "Known gaps"); the case itself, opened from it, is refused above,
	// and a title changed alone is refused too.
	if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`UPDATE publications SET doc = ?, title = ? WHERE memo_id = ?`), doc, "Forged title", m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.GetPublication(d.Ctx, carol, m.ID); err == nil {
		t.Error("a publication whose listed title was changed in the database opens without complaint")
	}
}

// TestAppealUnderAProfileWithoutAppeals (review 53): Appeal checked only
// the memo's stored AppealBy, not whether the deployment's profile still
// has appeals, and then computed the decision's deadline with the current
// profile's AppealReply rule. A deployment that moved off the NRC profile
// has a zero rule there, whose unit "" made Rule.From panic: a drafter's
// appeal brought down the request instead of a clear 409, which it now is.
func TestAppealUnderAProfileWithoutAppeals(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "nrc-dpo"})
	alice, bob := d.Member("alice"), d.Member("bob")
	m := replied(t, d, alice, bob, "Replied under the NRC profile")
	cfg := d.Svc.Config()
	cfg.Profile = channel.Profiles["state-2fam070"]
	other := d.WithConfig(cfg)
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("an appeal under a profile without appeals panicked: %v", r)
		}
	}()
	if _, err := other.Appeal(d.Ctx, alice, m.ID, "We appeal."); channel.ErrorCode(err) != channel.ECONFLICT {
		t.Errorf("an appeal under a profile without appeals: %v, want a conflict", err)
	}
}

// TestDrafterLeftOffKeepsTheCaseUnpublished (review 53): a co-drafter who
// may not file at the moment of submission (here: locked out by a password
// reset, so their keys await them) is dropped from the authors
// (PrepareSubmission), and publicationState counted only the drafters
// left: the text bob co-wrote was published on alice's agreement alone,
// though he cannot even see the memo to object. A drafter left off counts
// now, and since they cannot agree, such a case is not published.
func TestDrafterLeftOffKeepsTheCaseUnpublished(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t), servicetest.Options{Profile: "nrc-dpo"})
	alice := d.Member("alice")
	d.Member("bob")
	m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "Co-written", Body: "Half of this is bob's.", Marking: "UNCLASSIFIED", Codrafters: []string{"bob"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	if err := d.Svc.ResetPassword(d.Ctx, d.Admin, "bob", "temporary-password-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "Noted."); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Close(d.Ctx, d.Office, m.ID); err != nil {
		t.Fatal(err)
	}
	got, err := d.Svc.AgreeToPublish(d.Ctx, alice, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	d.Clock.Set(got.Deadlines.AppealBy.Add(time.Hour))
	if p, err := d.Svc.Publish(d.Ctx, d.Office, m.ID); err == nil {
		t.Errorf("bob's co-drafted text was published without bob's agreement (drafters counted: %d, dropped: %d): %q",
			got.Publication.Drafters, len(got.Dropped), p.Body)
	}
}

// TestDecidedAppealsAreCounted (review 53): appeals_decided was computed
// with totalKnown false, which hideCells treats as "withhold the whole
// table": ten appeals, all decided on time, in a year whose every state
// count is shown, still read "suppressed"/"suppressed". The figures now
// publish the number of appeals made (suppressed when small), and with the
// appealed state's count the table has a known total.
func TestDecidedAppealsAreCounted(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t), servicetest.Options{Profile: "nrc-dpo"})
	alice, bob := d.Member("alice"), d.Member("bob")
	var ms []*service.Memo
	for i := range 10 {
		ms = append(ms, replied(t, d, alice, bob, "Appealed "+string(rune('a'+i))))
	}
	for _, m := range ms {
		if _, err := d.Svc.Appeal(d.Ctx, alice, m.ID, "We appeal."); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.DecideAppeal(d.Ctx, d.Office, m.ID, "Decided."); err != nil {
			t.Fatal(err)
		}
	}
	st, err := d.Svc.YearStats(d.Ctx, d.Office, 2026)
	if err != nil {
		t.Fatal(err)
	}
	if !st.States["replied"].Shown() {
		t.Fatalf("the state count itself is hidden: %v", st.States)
	}
	if c := st.Appeals["on_time"]; !c.Shown() {
		t.Errorf("10 appeals decided on time, all memos replied (%s): appeals_decided on_time reads %q, late %q",
			st.States["replied"], c.String(), st.Appeals["late"].String())
	}
}

// TestRepliesFromBeforeTheUpgradeCanBeAppealed (review 53): migration 0010
// adds appeal_by with default 0, which Appeal and Publish read as "this
// profile has no appeal". On an NRC deployment upgraded today, a memo
// replied to yesterday could not be appealed (its drafter was told,
// falsely, that the policy has no appeal) and the office could publish it
// at once. The time to appeal now follows from replied_at when appeal_by
// was never set, for memos of the deployment's profile.
func TestRepliesFromBeforeTheUpgradeCanBeAppealed(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "nrc-dpo"})
	alice, bob := d.Member("alice"), d.Member("bob")
	m := closedWithAgreement(t, d, alice, bob, "Replied before the upgrade")
	db := st.(*sqlstore.DB)
	// What the row of a memo replied to before migration 0010 holds.
	if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`UPDATE memos SET appeal_by = 0 WHERE id = ?`), m.ID); err != nil {
		t.Fatal(err)
	}
	d.Clock.Advance(24 * time.Hour) // the upgrade ran; a day after the reply
	if _, err := d.Svc.Appeal(d.Ctx, alice, m.ID, "We appeal within 21 days of the reply."); err != nil {
		t.Errorf("a drafter appealing a day after the reply, under a profile with appeals: %v", err)
	}
	// The office, meanwhile, is not held back by any time to appeal.
	d2 := closedWithAgreement(t, d, alice, bob, "Another one from before")
	if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`UPDATE memos SET appeal_by = 0 WHERE id = ?`), d2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Publish(d.Ctx, d.Office, d2.ID); err == nil {
		t.Errorf("a case replied to an hour ago was published at once: its authors' 21 days to appeal were ignored")
	}
}

// TestOneAppealKeepsTheTimelinessTables (review 53): computeStats put
// "appealed" among the states the acknowledged and replied tables draw
// from, and withholds those tables whole unless every one of those state
// counts is shown. Appeals are rare, so the appealed count is nearly
// always 1 to 4 ("<5"): a single appeal took the reply and acknowledgement
// timeliness tables, and every share and median, off the figures. Appealed
// memos are now folded in only when their count shows, as returned and
// withdrawn ones are, which keeps each table's total known.
func TestOneAppealKeepsTheTimelinessTables(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t), servicetest.Options{Profile: "nrc-dpo"})
	alice, bob := d.Member("alice"), d.Member("bob")
	for i := range 10 {
		d.Submitted(alice, "Pending "+string(rune('a'+i)))
	}
	var replies []*service.Memo
	for i := range 11 {
		replies = append(replies, replied(t, d, alice, bob, "Replied "+string(rune('a'+i))))
	}
	for i := range 10 {
		m := replied(t, d, alice, bob, "Closed "+string(rune('a'+i)))
		if _, err := d.Svc.Close(d.Ctx, d.Office, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	before, err := d.Svc.YearStats(d.Ctx, d.Office, 2026)
	if err != nil {
		t.Fatal(err)
	}
	if !before.Replied["on_time"].Shown() || before.RepliedOnTimeShare == nil {
		t.Fatalf("before any appeal the replied table is not shown: %v", before.Replied)
	}
	if _, err := d.Svc.Appeal(d.Ctx, alice, replies[0].ID, "We appeal."); err != nil {
		t.Fatal(err)
	}
	after, err := d.Svc.YearStats(d.Ctx, d.Office, 2026)
	if err != nil {
		t.Fatal(err)
	}
	if !after.Replied["on_time"].Shown() || after.RepliedOnTimeShare == nil || !after.Acknowledged["on_time"].Shown() {
		t.Errorf("one appeal among 31 memos withheld the timeliness tables: states %v, replied %v, acknowledged %v, on-time share %v",
			after.States, after.Replied, after.Acknowledged, after.RepliedOnTimeShare)
	}
}
