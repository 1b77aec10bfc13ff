package service_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/bundle"
	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// anonymousReport is a report alice filed anonymously under the EU
// profile: made, signed and submitted.
func anonymousReport(t *testing.T, d *servicetest.Deployment, alice *service.Actor) *service.Memo {
	t.Helper()
	m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "Invoices split to stay under the tender limit", Body: "Since March the unit splits invoices.", Marking: "UNCLASSIFIED", Anonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Anonymous || len(m.Authors) != 1 || m.Authors[0].Username != "alice" || m.Viewer != "drafter" {
		t.Fatalf("the author's view of their anonymous draft: anonymous %v, authors %+v, viewer %s", m.Anonymous, m.Authors, m.Viewer)
	}
	// An edit seals the roster again: still anonymous, still hers.
	m, err = d.Svc.EditMemo(d.Ctx, alice, m.ID, service.EditInput{Title: m.Title, Body: m.Body + " Always to the same two suppliers.", Marking: m.Marking, ExpectedRevision: 1})
	if err != nil || !m.Anonymous || len(m.Authors) != 1 || m.Viewer != "drafter" {
		t.Fatalf("the author edits their anonymous draft: %+v, %v", m, err)
	}
	if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, m.Revision); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, m.Revision); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAnonymousReport follows a report filed anonymously under the EU
// Directive's profile: the office acknowledges it, shares it with a
// reader and takes them off again (a new key, which the office cannot
// mail to an author it cannot name), replies, and closes it. The author
// follows every step; the office, the readers and an auditor never see
// who they are, in what the service shows them or in anything the keys
// they hold open.
func TestAnonymousReport(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
		alice := d.Member("alice")
		p3 := d.Principal("p3")
		auditor := d.Create("ingrid", false, "auditor")
		m := anonymousReport(t, d, alice)

		if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Comment(d.Ctx, d.Principals[0], m.ID, "Ask internal audit to look."); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.RecordMeeting(d.Ctx, d.Office, m.ID, service.MeetingInput{HeldAt: d.Clock.Now(), Minutes: 30, Principal: "p1", Notes: "Discussed the report without its author."}); err != nil {
			t.Fatalf("a meeting about an anonymous report, no attendee named: %v", err)
		}
		if _, err := d.Svc.AddReaders(d.Ctx, d.Office, m.ID, service.ReadersInput{Usernames: []string{"p3"}, Reason: "Internal audit"}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.GetMemo(d.Ctx, p3, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p3", "Audit done"); err != nil {
			t.Fatal(err)
		}
		d.Clock.Advance(24 * time.Hour)
		if _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "The unit's purchases are under review."); err != nil {
			t.Fatal(err)
		}

		// The author reads the reply, written under the key made when p3
		// was taken off, and sees the report as theirs.
		mine, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
		if err != nil {
			t.Fatalf("the author opens their report after the office rotated its key: %v", err)
		}
		if mine.Reply == nil || mine.Reply.Body != "The unit's purchases are under review." || mine.Viewer != "drafter" || !mine.Anonymous {
			t.Fatalf("the author's view after the reply: reply %+v, viewer %s, anonymous %v", mine.Reply, mine.Viewer, mine.Anonymous)
		}
		list, err := d.Svc.ListMemos(d.Ctx, alice, "mine", nil, "", 50)
		if err != nil || len(list.Items) != 1 || list.Items[0].ID != m.ID {
			t.Fatalf("the author's list: %+v, %v", list, err)
		}
		own := mustExport(t, d, alice, m.ID)
		if _, err := bundle.Verify(own, d.LedgerVKey); err != nil {
			t.Errorf("the author's export of their report does not verify: %v", err)
		}
		if len(own.Signatures) != 1 {
			t.Errorf("the author's export of their report holds %d signatures, want their own", len(own.Signatures))
		}

		// What the office, the readers (one of them taken off) and an
		// auditor can see and open.
		secrets := []string{alice.User.ID, alice.User.Username, alice.User.DisplayName}
		for _, who := range []*service.Actor{d.Office, d.Principals[0], p3, auditor} {
			var shown []any
			if got, err := d.Svc.GetMemo(d.Ctx, who, m.ID); err == nil {
				if len(got.Authors) != 0 || !got.Anonymous || got.Receipt == nil || got.Receipt.AuthorsCount != 1 {
					t.Errorf("%s sees authors %+v, anonymous %v, receipt %+v", who.Username(), got.Authors, got.Anonymous, got.Receipt)
				}
				shown = append(shown, got)
			} else if who != p3 && who != auditor {
				t.Fatalf("%s opens the report: %v", who.Username(), err)
			}
			if page, err := d.Svc.AccessLog(d.Ctx, who, m.ID, "", 200); err == nil {
				shown = append(shown, page)
			}
			if bd, err := d.Svc.ExportMemo(d.Ctx, who, m.ID); err == nil {
				if len(bd.Signatures) != 0 {
					t.Errorf("%s's export of an anonymous report holds the author's signature", who.Username())
				}
				if _, err := bundle.Verify(bd, d.LedgerVKey); err != nil {
					t.Errorf("%s's export of the anonymous report does not verify: %v", who.Username(), err)
				}
				shown = append(shown, bd)
			}
			for _, box := range []string{"office", "distribution"} {
				if page, err := d.Svc.ListMemos(d.Ctx, who, box, nil, "", 50); err == nil {
					shown = append(shown, page)
				}
			}
			if bell, err := d.Svc.Notifications(d.Ctx, who, 50); err == nil {
				shown = append(shown, bell)
			}
			b, err := json.Marshal(shown)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s is shown %q, the anonymous author:\n%s", who.Username(), s, b)
				}
			}
		}
		// What the keys the office and a reader hold open: the roster,
		// the text, every item and ledger detail.
		for _, who := range []*service.Actor{d.Office, d.Principals[0]} {
			plain, err := d.Svc.Plaintexts(d.Ctx, who, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			all := bytes.Join(plain, []byte("\n"))
			if !bytes.Contains(all, []byte("Since March the unit splits invoices.")) || !bytes.Contains(all, []byte("Ask internal audit")) {
				t.Fatalf("%s's keys open less than the report: %s", who.Username(), all)
			}
			for _, s := range secrets {
				if bytes.Contains(all, []byte(s)) {
					t.Errorf("the keys %s holds open %q, the anonymous author:\n%s", who.Username(), s, all)
				}
			}
		}

		if _, err := d.Svc.Close(d.Ctx, d.Office, m.ID); err != nil {
			t.Fatal(err)
		}
		final, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
		if err != nil || final.State != string(channel.Closed) {
			t.Fatalf("the author's view of the closed report: %+v, %v", final, err)
		}
	})
}

// TestAnonymousReportRefusals: an anonymous report is for profiles that
// allow one, has one author, and names no attendee at a meeting.
func TestAnonymousReportRefusals(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		state := servicetest.NewDeployment(t, st)
		carol := state.Member("carol")
		_, err := state.Svc.CreateMemo(state.Ctx, carol, service.MemoInput{Title: "T", Body: "B", Marking: "UNCLASSIFIED", Anonymous: true})
		if channel.ErrorCode(err) != channel.EINVALID || !strings.Contains(err.Error(), "does not take anonymous reports") {
			t.Errorf("an anonymous report under the State profile: %v", err)
		}
	})
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
		alice, bob := d.Member("alice"), d.Member("bob")
		_, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "T", Body: "B", Marking: "UNCLASSIFIED", Anonymous: true, Codrafters: []string{"bob"}})
		if channel.ErrorCode(err) != channel.EINVALID {
			t.Errorf("an anonymous report with a co-drafter: %v", err)
		}
		m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "T", Body: "B", Marking: "UNCLASSIFIED", Anonymous: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.InviteSigners(d.Ctx, alice, m.ID, []string{"bob"}); channel.ErrorCode(err) != channel.EINVALID {
			t.Errorf("co-signers asked to an anonymous report: %v", err)
		}
		if _, err := d.Svc.GetMemo(d.Ctx, bob, m.ID); channel.ErrorCode(err) != channel.ENOTFOUND {
			t.Errorf("bob, refused as a co-signer, opens the report: %v", err)
		}
		if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, m.Revision); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, m.Revision); err != nil {
			t.Fatal(err)
		}
		_, err = d.Svc.RecordMeeting(d.Ctx, d.Office, m.ID, service.MeetingInput{HeldAt: d.Clock.Now(), Minutes: 30, Principal: "p1", Attendees: []string{"alice"}})
		if channel.ErrorCode(err) != channel.EINVALID || !strings.Contains(err.Error(), "anonymous") {
			t.Errorf("a meeting naming the author of an anonymous report: %v", err)
		}
		// An ordinary memo under the same profile names its authors.
		plain, _ := d.Submitted(bob, "Signed, bob")
		got, err := d.Svc.GetMemo(d.Ctx, d.Office, plain.ID)
		if err != nil || got.Anonymous || len(got.Authors) != 1 || got.Authors[0].Username != "bob" {
			t.Errorf("a named report under the EU profile: %+v, %v", got, err)
		}
	})
}

// TestAnonymousReportWithdrawn: the author's reason for withdrawing is
// read by the office, not signed with their name.
func TestAnonymousReportWithdrawn(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
		alice := d.Member("alice")
		m := anonymousReport(t, d, alice)
		if _, err := d.Svc.Withdraw(d.Ctx, alice, m.ID, "Resolved by the unit itself."); err != nil {
			t.Fatal(err)
		}
		got, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
		if err != nil || got.Reason != "Resolved by the unit itself." {
			t.Fatalf("the office's view of the withdrawn report: %+v, %v", got, err)
		}
		for _, ev := range got.Events {
			if ev.Role == "author" && ev.Actor != "" {
				t.Errorf("the office sees the author's %s by %q", ev.Action, ev.Actor)
			}
		}
		plain, err := d.Svc.Plaintexts(d.Ctx, d.Office, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if all := bytes.Join(plain, nil); bytes.Contains(all, []byte(alice.User.ID)) {
			t.Errorf("the office's keys open the author's id:\n%s", all)
		}
		if _, err := bundle.Verify(mustExport(t, d, alice, m.ID), d.LedgerVKey); err != nil {
			t.Errorf("the author's export of their withdrawn report: %v", err)
		}
	})
}

func mustExport(t *testing.T, d *servicetest.Deployment, a *service.Actor, memoID string) *bundle.Bundle {
	t.Helper()
	bd, err := d.Svc.ExportMemo(d.Ctx, a, memoID)
	if err != nil {
		t.Fatal(err)
	}
	return bd
}
