package jobs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/jobs"
	"github.com/dissent-channel/dissent/internal/notify"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// refuseOne is a mail server that accepts every recipient but one, whose
// mailbox answers RCPT TO with a transient, per-recipient refusal (a full
// mailbox, greylisting, a disabled mailbox): the server itself is up.
type refuseOne struct {
	real jobs.Sender
	addr string
}

func (r *refuseOne) Send(ctx context.Context, m *notify.Message) error {
	if m.To == r.addr {
		return fmt.Errorf("notify: at RCPT TO: %w", &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"})
	}
	return r.real.Send(ctx, m)
}

// sixHoursOfMail has the worker poll every minute for six hours from t0,
// and counts the messages the mail server took, by recipient.
func sixHoursOfMail(t *testing.T, e *env, w *jobs.Worker, t0 time.Time) map[string]int {
	t.Helper()
	for now := t0; now.Before(t0.Add(6 * time.Hour)); now = now.Add(time.Minute) {
		e.Clock.Set(now)
		e.tick(t, w)
	}
	got := map[string]int{}
	for _, m := range e.mail.Messages() {
		for _, to := range m.To {
			got[to]++
		}
	}
	return got
}

// TestOneFullMailboxHoldsBackNoOneElse: one principal's mailbox is full.
// Every other person's notices, sent by a mail server that is up, still go
// out. (The worker took a per-recipient refusal for "the server is down"
// and put the rest of the batch back with the same back-off; the full
// mailbox sorted first again at every retry, holding everyone back.)
func TestOneFullMailboxHoldsBackNoOneElse(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		t0 := ny(2026, 11, 24, 10, 0)
		e.Clock.Set(t0)
		for i := range 5 {
			e.submit(t, fmt.Sprintf("memo %d", i)) // 5 × (office, office2, p1, p2)
		}
		got := sixHoursOfMail(t, e, e.worker("node-a", &refuseOne{real: e.mailer, addr: "p1@example.test"}, 0), t0)
		for _, to := range []string{"office@example.test", "office2@example.test", "p2@example.test"} {
			if got[to] != 5 {
				t.Errorf("%s received %d of its 5 notices in six hours; the mail server was up all along (p1's full mailbox held them back)", to, got[to])
			}
		}
	})
}

// stopAfterSend delivers through real and, once the first message has been
// accepted by the mail server, the node is told to stop (SIGTERM during
// `dissent serve`, as a rolling deploy does): the message went out.
type stopAfterSend struct {
	real jobs.Sender
	stop context.CancelFunc
	sent int
}

func (s *stopAfterSend) Send(ctx context.Context, m *notify.Message) error {
	if err := s.real.Send(ctx, m); err != nil {
		return err
	}
	s.sent++
	s.stop()
	return nil
}

// TestGracefulStopMailsOnce: a node is stopped just after the mail server
// accepted an e-mail. The worker records it all the same, or another node
// would send it again once the lease lapsed, at every graceful restart.
// (A hard crash at that instant cannot be helped; a stop can.)
func TestGracefulStopMailsOnce(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		e.Clock.Set(ny(2026, 11, 24, 10, 0))
		e.submit(t, "memo") // 4 notices
		ctxA, stopA := context.WithCancel(e.Ctx)
		s := &stopAfterSend{real: e.mailer, stop: stopA}
		a := e.worker("node-a", s, 0)
		_ = a.Tick(ctxA)
		if s.sent != 1 {
			t.Fatalf("node A sent %d", s.sent)
		}
		b := e.worker("node-b", nil, 0)
		e.Clock.Advance(time.Hour)
		e.tick(t, b)
		e.checkDeliveredOnce(t, 4)
	})
}

// TestLongUTF8RefusalSettles: a mail server refuses a
// recipient for good (550 5.1.1) with a long reply in UTF-8, as localised
// servers do. The error is kept to 500 bytes, cut at a character: cut in
// the middle of one, PostgreSQL refused the invalid UTF-8, the refusal was
// never recorded, and the e-mail was tried again for ever.
func TestLongUTF8RefusalSettles(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		e.Clock.Set(ny(2026, 11, 24, 10, 0))
		// Find a reply whose error text has a character across byte 500.
		var reply *smtp.SMTPError
		for pad := 0; pad < 3 && reply == nil; pad++ {
			r := &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
				Message: strings.Repeat("x", pad) + "Empfänger unbekannt: " + strings.Repeat("€", 200)}
			e.mail.Refuse("RCPT", r)
			err := e.mailer.Send(e.Ctx, &notify.Message{MessageID: "probe@x", To: "probe@example.test", Subject: "s", Body: "b", Date: e.Clock.Now()})
			if !notify.Permanent(err) || len(err.Error()) < 501 {
				t.Fatalf("probe: %v", err)
			}
			if !utf8.ValidString(err.Error()[:500]) {
				reply = r
			}
		}
		if reply == nil {
			t.Fatal("no padding splits a character at byte 500")
		}
		e.submit(t, "memo")
		w := e.worker("node-a", nil, 0)
		e.tick(t, w)
		for _, n := range outbox(t, st, e.Office.User.ID) {
			if n.EmailState != "failed" {
				t.Errorf("refused for good, but the e-mail is %q after %d attempts (next try %s)", n.EmailState, n.Attempts, time.UnixMicro(n.NextTry).In(e.Clock.Now().Location()))
			}
		}
	})
}

// TestUnusableMailSettingsLeaveDeadlinesOn: [smtp] settings the mailer
// refuses (a password over an unencrypted connection to another host) are
// refused by `dissent config check` too; and settings the mailer cannot
// use turn e-mail off, not the reminders, escalations and checkpoints.
func TestUnusableMailSettingsLeaveDeadlinesOn(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	dir := t.TempDir()
	toml := "[server]\nbase_url = \"https://dissent.example.gov/\"\n[smtp]\nhost = \"mail.example.gov\"\nport = 25\nusername = \"dissent\"\nfrom = \"dissent@example.gov\"\ntls = \"none\"\n"
	if err := os.WriteFile(filepath.Join(dir, config.FileName), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(dir, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Errorf("config check accepts settings the mailer refuses: %v", err)
	}
	cfg, err := config.Load(t.TempDir(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.SMTP.Host, cfg.SMTP.Port, cfg.SMTP.Username, cfg.SMTP.From, cfg.SMTP.TLS = "mail.example.gov", 25, "dissent", "dissent@example.gov", "none"
	ctx, cancel := context.WithCancel(d.Ctx)
	defer cancel()
	wait := jobs.Start(ctx, d.Svc, cfg, quiet)
	defer wait()
	if js := waitForJobs(t, d); js != nil {
		t.Fatalf("mail settings that cannot be used left the reminders and checkpoints off: jobs %+v", js)
	}
}

// TestOneRefusedMessageHoldsBackNoOneElse: the mail server accepts
// everything but the messages to p1, which its content filter refuses at
// the end of DATA (5.7.1), after accepting the recipient. The worker took
// that refusal for the server's, put the rest of the batch back, and the
// refused message, sorting first, headed every batch after it: no one's
// mail went out (review helper-47).
func TestOneRefusedMessageHoldsBackNoOneElse(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		t0 := ny(2026, 11, 24, 10, 0)
		e.Clock.Set(t0)
		for i := range 5 {
			e.submit(t, fmt.Sprintf("memo %d", i)) // 5 × (office, office2, p1, p2)
		}
		e.mail.RefuseMessagesTo("p1@example.test", &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Delivery not authorized, message refused"})
		got := sixHoursOfMail(t, e, e.worker("node-a", e.mailer, 0), t0)
		for _, to := range []string{"office@example.test", "office2@example.test", "p2@example.test"} {
			if got[to] != 5 {
				t.Errorf("%s received %d of its 5 notices in six hours; the server refused only p1's messages", to, got[to])
			}
		}
		if got["p1@example.test"] != 0 {
			t.Errorf("p1 received %d", got["p1@example.test"])
		}
	})
}

// TestQueuedMailFollowsTheAccount: e-mails wait in the outbox
// while the mail server is down. Meanwhile an administrator corrects
// office2's address (the old one was wrong: someone else's mailbox, a
// private address) and disables p1 (who left). When the server is back,
// the queued notices go to the address the row copied at queue time and to
// the disabled account: a person who no longer holds the account, or a
// mailbox that was never theirs, was told that a memo arrived, its
// deadline and its link (review helper-47). The claim now reads the
// account as it stands.
func TestQueuedMailFollowsTheAccount(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		w := e.worker("node-a", nil, 0)
		t0 := ny(2026, 11, 24, 10, 0)
		e.Clock.Set(t0)
		e.mail.Stop()
		e.submit(t, "Filed while the mail server is down")
		e.tick(t, w) // fails: the mail server is down

		addr, yes := "office2.new@example.test", true
		if _, err := e.Svc.UpdateUser(e.Ctx, e.Admin, "office2", service.UserUpdate{Email: &addr}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Svc.UpdateUser(e.Ctx, e.Admin, "p1", service.UserUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		e.mail.Restart()
		for _, d := range []time.Duration{time.Minute, 3 * time.Minute, 10 * time.Minute, time.Hour} {
			e.Clock.Set(t0.Add(d))
			e.tick(t, w)
		}
		for _, m := range e.mail.Messages() {
			for _, to := range m.To {
				switch to {
				case "office2@example.test":
					if strings.Contains(m.Subject, "e-mail address was changed") {
						continue // told at the old address by design
					}
					t.Errorf("a notice went to office2's old address after the administrator changed it (subject %q)", m.Subject)
				case "p1@example.test":
					t.Errorf("a notice went to p1 after the account was disabled (subject %q)", m.Subject)
				}
			}
		}
	})
}

// TestRefusalOfAllOurMailBacksOffTheBatch: a filter refuses every message
// from us at the end of DATA (our sender fails its DMARC check, say). One
// such refusal is about its message, but messages to two people refused
// in a row are about us: the rest of the batch waits, as for a server
// that fails, rather than each message costing the server a session,
// batch after batch (review helper-48).
func TestRefusalOfAllOurMailBacksOffTheBatch(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		t0 := ny(2026, 11, 24, 10, 0)
		e.Clock.Set(t0)
		for i := range 5 {
			e.submit(t, fmt.Sprintf("memo %d", i)) // 20 e-mails
		}
		e.mail.Refuse("DATA", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "DMARC policy: rejected"})
		tries := &countingSender{real: e.mailer}
		w := e.worker("node-a", tries, 0)
		e.tick(t, w)
		// The batch's order is by next try and id: the first two people's
		// messages come within the first six of the twenty (five to each).
		if n := tries.n.Load(); n < 2 || n > 6 {
			t.Errorf("a tick tried %d of 20 e-mails against a filter refusing all our mail, want the rest backed off once two people's were refused", n)
		}
	})
}

// countingSender counts the e-mails handed to the server.
type countingSender struct {
	real jobs.Sender
	n    atomic.Int64
}

func (c *countingSender) Send(ctx context.Context, m *notify.Message) error {
	c.n.Add(1)
	return c.real.Send(ctx, m)
}
