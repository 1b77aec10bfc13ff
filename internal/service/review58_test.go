package service_test

import (
	"crypto/rand"
	"slices"
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

// TestReview58ReaderForgedAuthorReadsMessages: a reader holds the memo's
// key and so can rewrite its roster. One who can also write the database
// adds themself as an author; the office's next message (and the authors')
// is then sealed to the reader's own box, and the reader reads it from
// the database. Nothing the ledger holds vouches for the roster's authors
// after the submission.
func TestReview58ReaderForgedAuthorReadsMessages(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice, bob := d.Member("alice"), d.Member("bob")
		m := d.Cosigned(alice, bob, "Visa policy")
		reader := d.Principals[0]
		err := d.Svc.Review58ForgeRoster(d.Ctx, reader, m.ID, func(r *channel.Roster, _ string) {
			r.Authors = append(r.Authors, channel.Author{UserID: reader.User.ID, Username: reader.User.Username,
				DisplayName: reader.User.DisplayName, Kind: channel.KindSigner, Nonce: []byte(rand.Text() + rand.Text())[:32]})
		})
		if err != nil {
			t.Fatal(err)
		}
		// Refusing to write, as tampering, is an answer; sealing to the
		// reader is not.
		const secret = "Who else in the consulate raised this?"
		if _, err := d.Svc.Message(d.Ctx, d.Office, m.ID, secret); err != nil {
			wantCode(t, err, channel.EINTERNAL)
		}
		d.Clock.Advance(time.Minute)
		const answer = "Our consul in Lagos, by name."
		if _, err := d.Svc.Message(d.Ctx, bob, m.ID, answer); err != nil {
			wantCode(t, err, channel.EINTERNAL)
		}
		got, err := d.Svc.Review58MessagesOpened(d.Ctx, reader, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, body := range []string{secret, answer} {
			if slices.Contains(got, body) {
				t.Errorf("a reader who rewrote the roster reads the message %q from the database", body)
			}
		}
		// Taken off the memo, the reader is mailed its new key as an
		// "author", and reads what the office writes after.
		d.Clock.Advance(time.Hour)
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, reader.User.Username, "no longer needed"); err != nil {
			wantCode(t, err, channel.EINTERNAL)
			return
		}
		const later = "After your removal: the consul's name is Okafor."
		if _, err := d.Svc.Message(d.Ctx, d.Office, m.ID, later); err != nil {
			wantCode(t, err, channel.EINTERNAL)
		}
		if opensMessage(t, d, reader, m.ID, later) {
			t.Errorf("the removed reader, mailed the new key as an author, reads the office's message written after their removal")
		}
	})
}

// TestReview58ReaderReplacedAuthorsBox: under the EU profile, a reader of
// an anonymous report (who holds its key) rewrites the cover roster's
// authors' box to their own key. The office's messages to the reporter
// are then sealed to the reader, silently: the office sees nothing amiss.
// And once the office removes that reader, the memo's new key is wrapped
// to the same box: the removed reader keeps the memo, and reads the
// office's messages written after the removal.
func TestReview58ReaderReplacedAuthorsBox(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
		alice := d.Member("alice")
		p3 := d.Principal("p3")
		m := anonymousReport(t, d, alice)
		if _, err := d.Svc.AddReaders(d.Ctx, d.Office, m.ID, service.ReadersInput{Usernames: []string{"p3"}, Reason: "the unit's director"}); err != nil {
			t.Fatal(err)
		}
		if err := d.Svc.Review58ForgeRoster(d.Ctx, p3, m.ID, func(r *channel.Roster, box string) {
			if !r.Anonymous || r.AuthorsBox == "" {
				t.Fatalf("the cover the reader opens: %+v", r)
			}
			r.AuthorsBox = box
		}); err != nil {
			t.Fatal(err)
		}
		// Refusing, as tampering, is an answer; sealing or wrapping to
		// the reader's box is not.
		const asked = "Which two suppliers, and who signs their invoices?"
		if _, err := d.Svc.Message(d.Ctx, d.Office, m.ID, asked); err != nil {
			wantCode(t, err, channel.EINTERNAL)
		}
		if opensMessage(t, d, p3, m.ID, asked) {
			t.Errorf("a reader who replaced the cover's authors' box reads the office's message to the reporter")
		}
		d.Clock.Advance(time.Hour)
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p3", "no longer needed"); err != nil {
			wantCode(t, err, channel.EINTERNAL)
			return
		}
		const later = "We spoke to the auditor; tell us when you can meet."
		if _, err := d.Svc.Message(d.Ctx, d.Office, m.ID, later); err != nil {
			t.Fatal(err)
		}
		if opensMessage(t, d, p3, m.ID, later) {
			t.Errorf("the removed reader reads the office's message written after their removal (the new key went to the box they planted)")
		}
	})
}

// TestReview58RecoveredAuthorReadsMessages: an author whose keys the
// custodians recovered holds the same keys as before, and opens the memo
// with them; until the office confirms them, messages skip her, and she
// can never read those, though nothing was kept from whoever holds those
// keys (they open her index, and the memo).
func TestReview58RecoveredAuthorReadsMessages(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		m := submitted(t, d, alice, "written before the reset")
		if err := d.Svc.ResetPassword(d.Ctx, d.Admin, "alice", "temporary-password-1"); err != nil {
			t.Fatal(err)
		}
		if err := d.Svc.RecoverKeys(d.Ctx, d.Shares[1:], "alice", "alice's own new phrase"); err != nil {
			t.Fatal(err)
		}
		tok, _, err := d.Svc.SignIn(d.Ctx, "alice", "alice's own new phrase")
		if err != nil {
			t.Fatal(err)
		}
		restored := d.Authenticate(tok)
		const asked = "Could you send us the 2015 cable you cite?"
		if _, err := d.Svc.Message(d.Ctx, d.Office, m.ID, asked); err != nil {
			t.Fatal(err)
		}
		d.Confirm(d.Office, restored)
		got, err := d.Svc.GetMemo(d.Ctx, restored, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Messages) != 1 || got.Messages[0].Unreadable || got.Messages[0].Body != asked {
			t.Errorf("the author, her own keys recovered (and confirmed since), reads the office's message as %+v", got.Messages)
		}
	})
}

// TestReview58MessagesSound: what was checked and holds: a co-drafter who
// did not sign reads the office's messages; an office member granted after
// a message reads it; the reporter of an anonymous report reads and writes
// after a reader's removal rotated the key; no reader, principal added
// later or removed reader opens a body.
func TestReview58MessagesSound(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
		alice, bob := d.Member("alice"), d.Member("bob")
		p3 := d.Principal("p3")
		m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "T", Body: "B", Marking: "UNCLASSIFIED", Codrafters: []string{"bob"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, m.Revision); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, m.Revision); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Message(d.Ctx, d.Office, m.ID, "To both drafters."); err != nil {
			t.Fatal(err)
		}
		got, err := d.Svc.GetMemo(d.Ctx, bob, m.ID)
		if err != nil || len(got.Messages) != 1 || got.Messages[0].Body != "To both drafters." {
			t.Errorf("a co-drafter who did not sign: %+v, %v", got, err)
		}
		if err := d.Svc.GrantOffice(d.Ctx, d.Office, d.Create("second", false, "office").User.Username); err != nil {
			t.Fatal(err)
		}
		second := d.SignIn("second")
		got, err = d.Svc.GetMemo(d.Ctx, second, m.ID)
		if err != nil || len(got.Messages) != 1 || got.Messages[0].Body != "To both drafters." {
			t.Errorf("an office member granted later: %+v, %v", got, err)
		}

		r := anonymousReport(t, d, alice)
		if _, err := d.Svc.Message(d.Ctx, d.Office, r.ID, "Before."); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.AddReaders(d.Ctx, d.Office, r.ID, service.ReadersInput{Usernames: []string{"p3"}, Reason: "r"}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, r.ID, "p3", "r"); err != nil {
			t.Fatal(err)
		}
		d.Clock.Advance(time.Minute)
		if _, err := d.Svc.Message(d.Ctx, d.Office, r.ID, "After."); err != nil {
			t.Fatal(err)
		}
		d.Clock.Advance(time.Minute)
		if _, err := d.Svc.Message(d.Ctx, alice, r.ID, "Reply after."); err != nil {
			t.Fatalf("the reporter writes after the rotation: %v", err)
		}
		got, err = d.Svc.GetMemo(d.Ctx, alice, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, msg := range got.Messages {
			bodies = append(bodies, msg.Body)
		}
		if !slices.Equal(bodies, []string{"Before.", "After.", "Reply after."}) {
			t.Errorf("the reporter after the rotation reads %q", bodies)
		}
		for _, who := range []*service.Actor{d.Principals[0], p3} {
			for _, id := range []string{m.ID, r.ID} {
				if got, err := d.Svc.Review58MessagesOpened(d.Ctx, who, id); err != nil || len(got) != 0 {
					t.Errorf("%s opens %q of %s: %v", who.Username(), got, id, err)
				}
			}
		}
	})
}

// TestReview58FiguresBentByDeadlines: six memos acknowledged ten days
// after submission, late. Someone who writes the database moves their
// acknowledgement deadlines (and their authors' counts); the lifecycle
// check passes, and the office's figures show every acknowledgement on
// time. docs/OPERATIONS.md ("Yearly figures") says only that deadlines
// "are taken from the rows as set at submission", right after saying the
// figures are withheld when rows are altered "so that the office looks
// timely".
func TestReview58FiguresBentByDeadlines(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		auditor := d.Create("auditor", false, "auditor")
		alice := d.Member("alice")
		for i := range 6 {
			m := submitted(t, d, alice, "memo "+string(rune('a'+i)))
			d.Clock.Advance(10 * 24 * time.Hour)
			if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, m.ID); err != nil {
				t.Fatal(err)
			}
		}
		year := d.Clock.Now().In(servicetest.Office).Year()
		before, err := d.Svc.YearStats(d.Ctx, auditor, year)
		if err != nil {
			t.Fatal(err)
		}
		if before.Acknowledged["late"].String() != "6" {
			t.Fatalf("before: acknowledged %v", before.Acknowledged)
		}
		db := st.(*sqlstore.DB)
		if _, err := db.Raw().ExecContext(d.Ctx, `UPDATE memos SET acknowledge_by = acknowledged_at + 1, authors_count = 7`); err != nil {
			t.Fatal(err)
		}
		after, err := d.Svc.YearStats(d.Ctx, auditor, year)
		if err == nil && after.Acknowledged["on_time"].String() == "6" {
			t.Errorf("deadlines rewritten in the database: the figures show %v acknowledged (late before), and nothing is withheld", after.Acknowledged)
		}
	})
}

// TestReview58WithheldFiguresNarrowASmallYear: a year of three memos shows
// its total as "<5" only. When their rows were altered, the figures are
// withheld with a message giving how many: "3", which a "<5" must not.
func TestReview58WithheldFiguresNarrowASmallYear(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		auditor := d.Create("auditor", false, "auditor")
		alice := d.Member("alice")
		for i := range 3 {
			m := submitted(t, d, alice, "memo "+string(rune('a'+i)))
			if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, m.ID); err != nil {
				t.Fatal(err)
			}
		}
		year := d.Clock.Now().In(servicetest.Office).Year()
		st0, err := d.Svc.YearStats(d.Ctx, auditor, year)
		if err != nil || st0.Submitted.String() != "<5" {
			t.Fatalf("before: %v, %v", st0, err)
		}
		db := st.(*sqlstore.DB)
		if _, err := db.Raw().ExecContext(d.Ctx, `UPDATE memos SET acknowledged_at = acknowledged_at - 3600000000`); err != nil {
			t.Fatal(err)
		}
		_, err = d.Svc.YearStats(d.Ctx, auditor, year)
		if channel.ErrorCode(err) != channel.EUNAVAILABLE {
			t.Fatalf("after: %v", err)
		}
		if msg := channel.ErrorMessage(err); strings.Contains(msg, " 3 ") {
			t.Errorf("the auditor is told %q: the year's total, shown as \"<5\", is at least 3", msg)
		}
	})
}

// TestReview58FiguresSoundFlows: what was checked and holds: every
// legitimate flow (an appeal decided, then closed and published; a reply
// that acknowledges; a return; a withdrawal; a memo submitted seconds
// before the new year in the office's time zone and acknowledged after)
// leaves rows that agree with the ledger, and the figures of both years
// are given.
func TestReview58FiguresSoundFlows(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "nrc-dpo"})
		auditor := d.Create("auditor", false, "auditor")
		alice := d.Member("alice")
		d.Clock.Set(time.Date(2026, 12, 31, 23, 59, 0, 0, servicetest.Office))
		var ids []string
		for i := range 5 {
			ids = append(ids, submitted(t, d, alice, "memo "+string(rune('a'+i))).ID)
		}
		d.Clock.Advance(2 * time.Minute) // 2027 in New York
		step := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			d.Clock.Advance(time.Hour)
		}
		_, err := d.Svc.Reply(d.Ctx, d.Office, ids[0], "Answer.")
		step(err)
		_, err = d.Svc.Appeal(d.Ctx, alice, ids[0], "Not enough.")
		step(err)
		_, err = d.Svc.DecideAppeal(d.Ctx, d.Office, ids[0], "Final.")
		step(err)
		_, err = d.Svc.Close(d.Ctx, d.Office, ids[0])
		step(err)
		_, err = d.Svc.Acknowledge(d.Ctx, d.Office, ids[1])
		step(err)
		_, err = d.Svc.Return(d.Ctx, d.Office, ids[1], "Out of scope.")
		step(err)
		_, err = d.Svc.Withdraw(d.Ctx, alice, ids[2], "Taken back.")
		step(err)
		_, err = d.Svc.Reply(d.Ctx, d.Office, ids[3], "Answer.")
		step(err)
		_, err = d.Svc.Close(d.Ctx, d.Office, ids[3])
		step(err)
		if _, err := d.Svc.AgreeToPublish(d.Ctx, alice, ids[3]); err != nil {
			t.Fatal(err)
		}
		d.Clock.Advance(60 * 24 * time.Hour)
		if _, err := d.Svc.Publish(d.Ctx, d.Office, ids[3]); err != nil {
			t.Fatal(err)
		}
		next := submitted(t, d, alice, "in 2027")
		if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, next.ID); err != nil {
			t.Fatal(err)
		}
		for _, y := range []int{2026, 2027} {
			if _, err := d.Svc.YearStats(d.Ctx, auditor, y); err != nil {
				t.Errorf("the figures of %d: %v", y, err)
			}
		}
		if err := d.Svc.Ready(d.Ctx); err != nil {
			t.Errorf("not ready after legitimate steps: %v", err)
		}
	})
}

// opensMessage reports whether who's own identity opens a message on
// memoID whose body is body.
func opensMessage(t *testing.T, d *servicetest.Deployment, who *service.Actor, memoID, body string) bool {
	t.Helper()
	got, err := d.Svc.Review58MessagesOpened(d.Ctx, who, memoID)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(got, body)
}
