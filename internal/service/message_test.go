package service_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// hasNotice reports whether ns holds a notice of kind about memoID.
func hasNotice(ns []service.Notice, kind, memoID string) bool {
	return slices.ContainsFunc(ns, func(n service.Notice) bool { return n.Kind == kind && n.MemoID == memoID })
}

// TestMessagesBetweenOfficeAndAuthors: from its submission until the case
// ends, the office writes to a memo's authors and they to it. Each side is
// told: the office's members by a stored notice, the authors on their bell,
// worked out. The readers neither see nor write messages; someone the memo
// is not for gets 404; a draft or a closed case takes none.
func TestMessagesBetweenOfficeAndAuthors(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice, bob, eve := d.Member("alice"), d.Member("bob"), d.Member("eve")
		m := d.Cosigned(alice, bob, "Visa policy")
		draft, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "Draft", Body: "B", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			who    *service.Actor
			memo   string
			body   string
			code   string
			reason string
		}{
			{d.Principals[0], m.ID, "Hello", channel.EFORBIDDEN, "a reader"},
			{eve, m.ID, "Hello", channel.ENOTFOUND, "someone the memo is not for"},
			{d.Office, m.ID, "", channel.EINVALID, "an empty message"},
			{alice, draft.ID, "Hello", channel.ECONFLICT, "a draft"},
		} {
			if _, err := d.Svc.Message(d.Ctx, c.who, c.memo, c.body); channel.ErrorCode(err) != c.code {
				t.Errorf("%s: %v, want %s", c.reason, err, c.code)
			}
		}

		d.Clock.Advance(time.Hour)
		got, err := d.Svc.Message(d.Ctx, d.Office, m.ID, "Could you send us the 2015 cable you cite?")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Messages) != 1 || got.Messages[0].From != "office" || got.Messages[0].Author != "" {
			t.Fatalf("the office's view after writing: %+v", got.Messages)
		}
		bell, err := d.Svc.Notifications(d.Ctx, alice, 50)
		if err != nil {
			t.Fatal(err)
		}
		if !hasNotice(bell.Waiting, service.KindWrote, m.ID) {
			t.Errorf("the author's bell does not say the office wrote: %+v", bell.Waiting)
		}
		d.Clock.Advance(time.Hour)
		if _, err := d.Svc.Message(d.Ctx, bob, m.ID, "It is attached to the memo's second annex."); err != nil {
			t.Fatalf("a co-signer answers: %v", err)
		}
		office, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(office.Messages) != 2 || office.Messages[1].From != "authors" || office.Messages[1].Author != "bob" || office.Messages[1].Body != "It is attached to the memo's second annex." {
			t.Fatalf("the office's view of the answer: %+v", office.Messages)
		}
		if bell, err := d.Svc.Notifications(d.Ctx, d.Office, 50); err != nil || !hasNotice(bell.Items, service.KindMessage, m.ID) {
			t.Errorf("the office is not told the authors wrote: %+v, %v", bell, err)
		}
		reader, err := d.Svc.GetMemo(d.Ctx, d.Principals[0], m.ID)
		if err != nil || len(reader.Messages) != 0 {
			t.Errorf("a reader sees the messages: %+v, %v", reader.Messages, err)
		}
		if !slices.ContainsFunc(office.Events, func(e service.Event) bool {
			return e.Action == "memo.message" && e.Role == "author" && e.Actor == "bob"
		}) {
			t.Errorf("the history does not record bob's message: %+v", office.Events)
		}

		if _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "We keep the policy."); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Message(d.Ctx, alice, m.ID, "Thank you."); err != nil {
			t.Errorf("a message after the reply, before the case is closed: %v", err)
		}
		if _, err := d.Svc.Close(d.Ctx, d.Office, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Message(d.Ctx, d.Office, m.ID, "One more thing."); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("a message on a closed case: %v", err)
		}
	})
}

// TestAnonymousReportMessages: the office asks the author of an anonymous
// report a question and they answer, and nothing the office sees or its
// keys open names them.
func TestAnonymousReportMessages(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
		alice := d.Member("alice")
		m := anonymousReport(t, d, alice)
		if _, err := d.Svc.Message(d.Ctx, d.Office, m.ID, "Which two suppliers?"); err != nil {
			t.Fatal(err)
		}
		if bell, err := d.Svc.Notifications(d.Ctx, alice, 50); err != nil || !hasNotice(bell.Waiting, service.KindWrote, m.ID) {
			t.Errorf("the reporter's bell does not say the office wrote: %+v, %v", bell, err)
		}
		d.Clock.Advance(time.Minute)
		if _, err := d.Svc.Message(d.Ctx, alice, m.ID, "Northwind and Contoso."); err != nil {
			t.Fatal(err)
		}
		got, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Messages) != 2 || got.Messages[1].From != "authors" || got.Messages[1].Author != "" || got.Messages[1].Body != "Northwind and Contoso." {
			t.Fatalf("the office's view of the reporter's answer: %+v", got.Messages)
		}
		plain, err := d.Svc.Plaintexts(d.Ctx, d.Office, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		all := bytes.Join(plain, []byte("\n"))
		if !bytes.Contains(all, []byte("Northwind and Contoso.")) {
			t.Fatalf("the office's keys do not open the answer: %s", all)
		}
		for _, s := range []string{alice.User.ID, alice.User.Username, alice.User.DisplayName} {
			if bytes.Contains(all, []byte(s)) {
				t.Errorf("the office's keys open %q with the reporter's answer:\n%s", s, all)
			}
		}
	})
}

// TestBellTellsBothTheReplyAndAMessage: the authors' bell, their only
// notice (they get no e-mail), says both that the office answered (the
// reply: the EU Directive's feedback, the NRC's start of the time to
// appeal) and that it wrote to them, whichever came last: a message after
// the reply does not hide the reply, nor an acknowledgement after a
// question the question.
func TestBellTellsBothTheReplyAndAMessage(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
		alice, bob := d.Member("alice"), d.Member("bob")

		replied, _ := d.Submitted(alice, "Replied, then a message")
		d.Clock.Advance(time.Hour)
		if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, replied.ID); err != nil {
			t.Fatal(err)
		}
		d.Clock.Advance(time.Hour)
		if _, err := d.Svc.Reply(d.Ctx, d.Office, replied.ID, "Our feedback: the unit is being audited."); err != nil {
			t.Fatal(err)
		}
		d.Clock.Advance(time.Minute)
		if _, err := d.Svc.Message(d.Ctx, d.Office, replied.ID, "Tell us if anything in the reply is unclear."); err != nil {
			t.Fatal(err)
		}

		asked, _ := d.Submitted(bob, "A question, then the acknowledgement")
		d.Clock.Advance(time.Minute)
		if _, err := d.Svc.Message(d.Ctx, d.Office, asked.ID, "Which two suppliers?"); err != nil {
			t.Fatal(err)
		}
		d.Clock.Advance(time.Minute)
		if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, asked.ID); err != nil {
			t.Fatal(err)
		}

		bell, err := d.Svc.Notifications(d.Ctx, alice, 50)
		if err != nil {
			t.Fatal(err)
		}
		if !hasNotice(bell.Waiting, service.KindReplied, replied.ID) {
			t.Errorf("the author's bell no longer says the memo was replied to, once the office wrote after its reply: %+v", bell.Waiting)
		}
		bell, err = d.Svc.Notifications(d.Ctx, bob, 50)
		if err != nil {
			t.Fatal(err)
		}
		if !hasNotice(bell.Waiting, service.KindWrote, asked.ID) {
			t.Errorf("the author's bell does not say the office asked them something, once it acknowledged after asking: %+v", bell.Waiting)
		}
	})
}

// TestAuthorsMessagesTellTheOfficeOnce: authors writing message after
// message tell the office once within messageCalm (one notice, one e-mail
// per office member), then again after it; every message is kept.
func TestAuthorsMessagesTellTheOfficeOnce(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
		alice := d.Member("alice")
		m := anonymousReport(t, d, alice)
		count := func() int {
			t.Helper()
			bell, err := d.Svc.Notifications(d.Ctx, d.Office, 50)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, it := range bell.Items {
				if it.Kind == service.KindMessage && it.MemoID == m.ID {
					n++
				}
			}
			return n
		}
		for i, line := range []string{"One.", "Two.", "Three."} {
			d.Clock.Advance(time.Minute)
			if _, err := d.Svc.Message(d.Ctx, alice, m.ID, line); err != nil {
				t.Fatal(err)
			}
			if n := count(); n != 1 {
				t.Fatalf("after message %d in %d minutes the office has %d notices, want 1", i+1, i+1, n)
			}
		}
		// Messages every six minutes: the office is told again once ten
		// minutes have passed since it was last told.
		for _, c := range []struct {
			line string
			want int
		}{{"Four.", 1}, {"Five.", 2}, {"Six.", 2}, {"Seven.", 3}} {
			d.Clock.Advance(6 * time.Minute)
			if _, err := d.Svc.Message(d.Ctx, alice, m.ID, c.line); err != nil {
				t.Fatal(err)
			}
			if n := count(); n != c.want {
				t.Errorf("after %q the office has %d notices, want %d", c.line, n, c.want)
			}
		}
		got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
		if err != nil || len(got.Messages) != 7 {
			t.Errorf("messages kept: %d, %v; want all 7", len(got.Messages), err)
		}
	})
}

// TestReadersKeysOpenNoMessage: a message's body is sealed to the office
// and the authors, so a reader, who holds the memo's key, cannot open it
// even from a copy of the database; the office and every author (a
// co-signer too) read it. A message written as before December 2026,
// under the memo's key alone, still shows.
func TestReadersKeysOpenNoMessage(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice, bob := d.Member("alice"), d.Member("bob")
		m := d.Cosigned(alice, bob, "Visa policy")
		if _, err := d.Svc.Message(d.Ctx, d.Office, m.ID, "Who else raised this?"); err != nil {
			t.Fatal(err)
		}
		d.Clock.Advance(time.Minute)
		if _, err := d.Svc.Message(d.Ctx, bob, m.ID, "Our consul in Lagos, by name."); err != nil {
			t.Fatal(err)
		}
		d.Clock.Advance(time.Minute)
		if err := d.Svc.AddMessageAsBefore(d.Ctx, d.Office, m.ID, "Written before."); err != nil {
			t.Fatal(err)
		}
		want := []string{"Who else raised this?", "Our consul in Lagos, by name.", "Written before."}
		for _, who := range []*service.Actor{d.Office, alice, bob} {
			got, err := d.Svc.GetMemo(d.Ctx, who, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			var bodies []string
			for _, msg := range got.Messages {
				bodies = append(bodies, msg.Body)
			}
			if !slices.Equal(bodies, want) {
				t.Errorf("%s reads the messages %q, want %q", who.Username(), bodies, want)
			}
		}
		reader := d.Principals[0]
		plain, err := d.Svc.Plaintexts(d.Ctx, reader, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		all := bytes.Join(plain, []byte("\n"))
		for _, body := range want[:2] {
			if bytes.Contains(all, []byte(body)) {
				t.Errorf("the reader's keys open the message %q", body)
			}
		}
		if got, err := d.Svc.GetMemo(d.Ctx, reader, m.ID); err != nil || len(got.Messages) != 0 {
			t.Errorf("the reader is shown messages: %+v, %v", got, err)
		}
		office, err := d.Svc.Plaintexts(d.Ctx, d.Office, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if all := bytes.Join(office, []byte("\n")); !bytes.Contains(all, []byte(want[1])) {
			t.Error("the office's keys do not open bob's message")
		}
	})
}
