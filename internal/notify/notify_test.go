package notify_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/dissent-channel/dissent/internal/notify"
	"github.com/dissent-channel/dissent/internal/notify/smtptest"
)

var (
	ny, _ = time.LoadLocation("America/New_York")
	site  = notify.Site{BaseURL: "https://dissent.example.gov/", Location: ny}
	due   = time.Date(2026, 11, 27, 17, 0, 0, 0, ny)
	now   = time.Date(2026, 11, 25, 9, 0, 0, 0, ny)
)

func TestCompose(t *testing.T) {
	for _, c := range []struct {
		kind, memo       string
		due              time.Time
		subject, sayings string
		link             string
	}{
		{"memo.received", "m1", due, "Dissent: a new memo to acknowledge by Fri 27 Nov 17:00 EST", "It must be acknowledged by Friday 27 November 2026, 17:00 EST.", "https://dissent.example.gov/memos/m1"},
		{"remind.acknowledge", "m1", due, "Dissent: a memo is due for acknowledgement by Fri 27 Nov 17:00 EST", "Reminder: a memo must be acknowledged by Friday 27 November 2026, 17:00 EST.", "https://dissent.example.gov/memos/m1"},
		{"remind.reply", "m1", due, "Dissent: a substantive reply is due by Fri 27 Nov 17:00 EST", "substantive reply is due by Friday", "https://dissent.example.gov/memos/m1"},
		{"remind.reply_latest", "m1", due, "Dissent: a reply is due at the latest by Fri 27 Nov 17:00 EST", "at the latest by Friday", "https://dissent.example.gov/memos/m1"},
		{"overdue.acknowledge", "m1", due, "Dissent: a memo's acknowledgement is overdue", "was due to be acknowledged by Friday 27 November 2026, 17:00 EST and has not been.", "https://dissent.example.gov/memos/m1"},
		{"overdue.reply", "m1", due, "Dissent: a memo's substantive reply is overdue", "was due by Friday", "https://dissent.example.gov/memos/m1"},
		{"overdue.reply_latest", "m1", due, "Dissent: a memo is past its latest reply date", "at the latest by Friday", "https://dissent.example.gov/memos/m1"},
		{"memo.distributed", "m1", time.Time{}, "Dissent: a memo has been distributed to you", "distributed to you to read.", "https://dissent.example.gov/memos/m1"},
		{"keys.recovered", "", time.Time{}, "Dissent: your keys were restored", "If you did not take part, tell the channel office", "https://dissent.example.gov/\n"},
		{"keys.awaiting", "", time.Time{}, "Dissent: keys await the office's confirmation", "see Office, Members", "https://dissent.example.gov/\n"},
		{"keys.confirmed", "", time.Time{}, "Dissent: the channel office confirmed your keys", "If you did not make these keys yourself, tell your inspector general", "https://dissent.example.gov/\n"},
		{"account.created", "", time.Time{}, "Dissent: an account was made for you", "If you are not asked, or the password you were given does not work, someone signed in before you", "https://dissent.example.gov/\n"},
		{"account.keys_made", "", time.Time{}, "Dissent: your account's keys were made", "If that was not you, or you have not signed in yet, someone signed in before you", "https://dissent.example.gov/\n"},
		{"account.password_reset", "", time.Time{}, "Dissent: your password was reset", "someone may be taking your account over", "https://dissent.example.gov/\n"},
		{"account.new_keys", "", time.Time{}, "Dissent: keys were made for your account", "after a password reset", "https://dissent.example.gov/\n"},
		{"account.email_changed", "", time.Time{}, "Dissent: your e-mail address was changed", "this notice goes to the old address", "https://dissent.example.gov/\n"},
		{"a.kind.unknown", "", time.Time{}, "Dissent: something needs your attention", "Something in Dissent needs your attention.", "https://dissent.example.gov/\n"},
		{"remind.acknowledge", "m1", time.Time{}, "Dissent: something needs your attention", "Something in Dissent needs your attention.", "memos/m1"},
	} {
		t.Run(c.kind, func(t *testing.T) {
			m, err := notify.Compose(notify.Notice{ID: "n1", To: "office@example.test", Kind: c.kind, MemoID: c.memo, DueAt: c.due}, site, now)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != c.subject {
				t.Errorf("subject %q, want %q", m.Subject, c.subject)
			}
			if !strings.Contains(m.Body, c.sayings) || !strings.Contains(m.Body, c.link) {
				t.Errorf("body lacks %q or %q:\n%s", c.sayings, c.link, m.Body)
			}
			if strings.Contains(m.Body+m.Subject, "%!") {
				t.Errorf("a formatting slip:\n%s", m.Body)
			}
			if m.MessageID != "n1@dissent.example.gov" {
				t.Errorf("Message-ID %q", m.MessageID)
			}
		})
	}
	t.Run("without a base URL there is no link", func(t *testing.T) {
		m, _ := notify.Compose(notify.Notice{ID: "n1", To: "a@example.test", Kind: "memo.received", MemoID: "m1", DueAt: due}, notify.Site{}, now)
		if strings.Contains(m.Body, "http") || !strings.Contains(m.Body, "Sign in to Dissent") || m.MessageID != "n1@dissent.invalid" {
			t.Errorf("%s\n%s", m.MessageID, m.Body)
		}
	})
	t.Run("a line break in an address is refused", func(t *testing.T) {
		if _, err := notify.Compose(notify.Notice{ID: "n1", To: "a@example.test\r\nBcc: b@example.test", Kind: "memo.received"}, site, now); !errors.Is(err, notify.ErrHeader) {
			t.Errorf("got %v", err)
		}
		m := &notify.Message{MessageID: "x", To: "a@example.test", Subject: "s"}
		if _, err := m.Bytes("from@example.test\nX: y"); !errors.Is(err, notify.ErrHeader) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("the message is CRLF with the headers mail needs", func(t *testing.T) {
		m, _ := notify.Compose(notify.Notice{ID: "n1", To: "a@example.test", Kind: "memo.received", MemoID: "m1", DueAt: due}, site, now)
		b, err := m.Bytes("dissent@example.gov")
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, h := range []string{"From: dissent@example.gov\r\n", "To: a@example.test\r\n", "Message-ID: <n1@dissent.example.gov>\r\n",
			"Auto-Submitted: auto-generated\r\n", "Content-Type: text/plain; charset=utf-8\r\n", "Date: Wed, 25 Nov 2026 09:00:00 -0500\r\n"} {
			if !strings.Contains(s, h) {
				t.Errorf("no %q in\n%s", h, s)
			}
		}
		if strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\n") {
			t.Errorf("a bare LF in\n%q", s)
		}
	})
}

func send(t *testing.T, cfg notify.Config) error {
	t.Helper()
	mm, err := notify.NewMailer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := notify.Compose(notify.Notice{ID: "n1", To: "office@example.test", Kind: "memo.received", MemoID: "m1", DueAt: due}, site, now)
	if err != nil {
		t.Fatal(err)
	}
	return mm.Send(t.Context(), m)
}

func TestMailerSendsOverSTARTTLS(t *testing.T) {
	srv := smtptest.Start(t, time.Now)
	if err := send(t, srv.Config("dissent@example.gov")); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if !m.TLS || m.AuthAs != srv.Username || m.From != "dissent@example.gov" || len(m.To) != 1 || m.To[0] != "office@example.test" {
		t.Errorf("received %+v", m)
	}
	if m.Subject != "Dissent: a new memo to acknowledge by Fri 27 Nov 17:00 EST" || !strings.Contains(m.Body, "https://dissent.example.gov/memos/m1") {
		t.Errorf("subject %q, body\n%s", m.Subject, m.Body)
	}
}

func TestMailerRefusesWhatIsNotSafe(t *testing.T) {
	srv := smtptest.Start(t, time.Now)

	t.Run("a certificate it cannot verify", func(t *testing.T) {
		cfg := srv.Config("dissent@example.gov")
		cfg.TLSConfig = nil // the system's roots do not know the test's certificate
		cfg.Host = "127.0.0.1"
		if err := send(t, cfg); err == nil {
			t.Fatal("sent to a server with an untrusted certificate")
		}
	})
	t.Run("a server that offers no STARTTLS", func(t *testing.T) {
		plain := plainServer(t)
		cfg := srv.Config("dissent@example.gov")
		cfg.Host, cfg.Port = plain.host, plain.port
		err := send(t, cfg)
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("got %v", err)
		}
		if plain.mails.Load() > 0 {
			t.Error("mail went out in the clear")
		}
	})
	if len(srv.Messages()) != 0 {
		t.Errorf("the test server received %d messages", len(srv.Messages()))
	}
}

// TestPermanent checks which refusals drop an e-mail for good. Only the
// server refusing the recipient's address (5.1.x at RCPT TO) is the
// message's own fault; everything else is the deployment's, or passing,
// and dropping it would lose every notice until someone noticed.
func TestPermanent(t *testing.T) {
	srv := smtptest.Start(t, time.Now)
	srv.Reject("office@example.test")
	err := send(t, srv.Config("dissent@example.gov"))
	if err == nil || !notify.Permanent(err) {
		t.Errorf("a refused recipient: %v, permanent %v", err, notify.Permanent(err))
	}
	srv = smtptest.Start(t, time.Now)
	noCredentials := srv.Config("dissent@example.gov")
	noCredentials.Username, noCredentials.Password = "", ""
	wrongPassword := srv.Config("dissent@example.gov")
	wrongPassword.Password = "wrong"
	for _, c := range []struct {
		name    string
		cfg     notify.Config
		command string
		reply   *smtp.SMTPError
	}{
		{"no credentials set (502 5.7.0 at MAIL FROM)", noCredentials, "", nil},
		{"a wrong password (535)", wrongPassword, "", nil},
		{"authenticate first (503 at MAIL FROM)", srv.Config("dissent@example.gov"), "MAIL",
			&smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "authentication required"}},
		{"the sender refused (553 5.1.8 at MAIL FROM)", srv.Config("dissent@example.gov"), "MAIL",
			&smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 8}, Message: "sender address rejected"}},
		{"the sender refused (553 5.1.8 at RCPT TO, as Postfix does)", srv.Config("dissent@example.gov"), "RCPT",
			&smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 8}, Message: "sender address rejected: domain not found"}},
		{"relaying denied (550 5.7.1 at RCPT TO)", srv.Config("dissent@example.gov"), "RCPT",
			&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relaying denied"}},
		{"our host blocked (554 5.7.1 at RCPT TO)", srv.Config("dissent@example.gov"), "RCPT",
			&smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "client host blocked"}},
		{"a full mailbox (552 5.2.2 at RCPT TO)", srv.Config("dissent@example.gov"), "RCPT",
			&smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "mailbox full"}},
		{"a 550 that does not say why", srv.Config("dissent@example.gov"), "RCPT",
			&smtp.SMTPError{Code: 550, EnhancedCode: smtp.NoEnhancedCode, Message: "rejected"}},
		{"greylisted (450 4.7.1 at RCPT TO)", srv.Config("dissent@example.gov"), "RCPT",
			&smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "try again later"}},
		{"a policy refusal of the content (554 5.7.1 at DATA)", srv.Config("dissent@example.gov"), "DATA",
			&smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "message refused"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.reply != nil {
				srv.Refuse(c.command, c.reply)
				defer srv.Refuse(c.command, nil)
			}
			err := send(t, c.cfg)
			var se *smtp.SMTPError
			if c.reply != nil && (!errors.As(err, &se) || se.Code != c.reply.Code) {
				t.Fatalf("the server's reply did not come back: %v", err)
			}
			if err == nil || notify.Permanent(err) {
				t.Errorf("dropped for good, though it is the deployment's to fix or passing: %v", err)
			}
		})
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages went through a refusing server", n)
	}
	srv.Stop()
	if err := send(t, srv.Config("dissent@example.gov")); err == nil || notify.Permanent(err) {
		t.Errorf("a server that is down: %v", err)
	}
	// A reply alone does not say at which step it came.
	if notify.Permanent(&smtp.SMTPError{Code: 451}) || notify.Permanent(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}}) {
		t.Error("a bare SMTP reply taken for a refused recipient")
	}
}

func TestNewMailerChecksItsConfig(t *testing.T) {
	for _, cfg := range []notify.Config{
		{Port: 587, From: "a@example.test"},
		{Host: "mail", Port: 0, From: "a@example.test"},
		{Host: "mail", Port: 587},
		{Host: "mail", Port: 587, From: "a@example.test", TLS: "ssl"},
		{Host: "mail.example.test", Port: 25, From: "a@example.test", TLS: "none", Username: "u", Password: "p"},
	} {
		if _, err := notify.NewMailer(cfg); err == nil {
			t.Errorf("accepted %+v", cfg)
		}
	}
}

// plain is a server without TLS (nor AUTH) that counts what it receives.
type plain struct {
	host  string
	port  int
	mails atomic.Int32
}

func plainServer(t *testing.T) *plain {
	p := &plain{}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return plainSession{p}, nil }))
	s.Domain = "plain.test"
	s.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = ln.Close(); _ = s.Close() })
	addr := ln.Addr().(*net.TCPAddr)
	p.host, p.port = "127.0.0.1", addr.Port
	return p
}

type plainSession struct{ p *plain }

func (s plainSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s plainSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s plainSession) Data(r io.Reader) error {
	s.p.mails.Add(1)
	_, err := io.Copy(io.Discard, r)
	return err
}
func (s plainSession) Reset()        {}
func (s plainSession) Logout() error { return nil }

// TestAboutRecipient: a refusal about one recipient lets other people's
// mail go on (the worker backs off that e-mail alone); one about the
// server or our sender holds the batch back.
func TestAboutRecipient(t *testing.T) {
	srv := smtptest.Start(t, time.Now)
	for _, c := range []struct {
		name    string
		command string
		reply   *smtp.SMTPError
		want    bool
	}{
		{"a full mailbox (452 4.2.2 at RCPT TO)", "RCPT", &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}, true},
		{"a disabled mailbox (550 5.2.1 at RCPT TO)", "RCPT", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 2, 1}, Message: "disabled"}, true},
		{"greylisted (450 4.7.1 at RCPT TO)", "RCPT", &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "try again later"}, true},
		{"no such mailbox (550 5.1.1 at RCPT TO)", "RCPT", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "unknown"}, true},
		{"the sender refused (553 5.1.8 at RCPT TO)", "RCPT", &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 8}, Message: "sender rejected"}, false},
		{"the server closing (421 4.3.2 at RCPT TO)", "RCPT", &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "shutting down"}, false},
		{"out of space (452 4.3.1 at RCPT TO)", "RCPT", &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "insufficient storage"}, false},
		{"authenticate first (503 at MAIL FROM)", "MAIL", &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "authentication required"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv.Refuse(c.command, c.reply)
			defer srv.Refuse(c.command, nil)
			err := send(t, srv.Config("dissent@example.gov"))
			if err == nil {
				t.Fatal("sent through a refusing server")
			}
			if got := notify.AboutRecipient(err); got != c.want {
				t.Errorf("about the recipient: %v, want %v (%v)", got, c.want, err)
			}
		})
	}
	srv.Stop()
	if err := send(t, srv.Config("dissent@example.gov")); err == nil || notify.AboutRecipient(err) {
		t.Errorf("a server that is down taken for a refused recipient: %v", err)
	}
}
