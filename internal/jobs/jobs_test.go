package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/jobs"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/notify"
	"github.com/dissent-channel/dissent/internal/notify/smtptest"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

const baseURL = "https://dissent.example.gov/"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a deployment with two office members, two principals, a Director
// of Policy Planning as the escalation contact, two authors, and a real
// SMTP server on 127.0.0.1.
type env struct {
	*servicetest.Deployment
	mail         *smtptest.Server
	mailer       *notify.Mailer
	alice, bob   *service.Actor
	director     *service.Actor
	office2      *service.Actor
	st           store.Store
	secretMarker string
}

func newEnv(t *testing.T, st store.Store) *env {
	t.Helper()
	d := servicetest.NewDeployment(t, st)
	p := service.DefaultReminders()
	p.Email, p.EscalateTo = true, []string{"director"}
	d.Svc = d.Svc.WithReminders(p)
	e := &env{Deployment: d, st: st, secretMarker: "CANARY-7f3a"}
	e.office2 = d.Create("office2", false, "office")
	if err := d.Svc.GrantOffice(d.Ctx, d.Office, "office2"); err != nil {
		t.Fatal(err)
	}
	e.director = d.Create("director", false, "member")
	e.alice, e.bob = d.Member("alice"), d.Member("bob")
	e.mail = smtptest.Start(t, d.Clock.Now)
	m, err := notify.NewMailer(e.mail.Config("dissent@example.gov"))
	if err != nil {
		t.Fatal(err)
	}
	e.mailer = m
	return e
}

// worker is one node's worker; sender nil means the real mailer.
func (e *env) worker(node string, sender jobs.Sender, batch int) *jobs.Worker {
	if sender == nil {
		sender = e.mailer
	}
	return jobs.New(e.Svc, jobs.Options{Node: node, Mail: sender, Site: notify.Site{BaseURL: baseURL, Location: servicetest.Office},
		ScanEvery: 5 * time.Minute, CheckpointEvery: time.Hour, Lease: 5 * time.Minute, Batch: batch, Log: quiet})
}

// submit files a memo by alice, co-signed by bob, whose title, body and
// marking must never reach an e-mail.
func (e *env) submit(t *testing.T, title string) string {
	t.Helper()
	m, err := e.Svc.CreateMemo(e.Ctx, e.alice, service.MemoInput{Title: title, Body: "The body says " + e.secretMarker + ".", Marking: "SENSITIVE BUT UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.InviteSigners(e.Ctx, e.alice, m.ID, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*service.Actor{e.alice, e.bob} {
		if _, err := e.Svc.Sign(e.Ctx, a, m.ID, 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Svc.Submit(e.Ctx, e.alice, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func (e *env) tick(t *testing.T, w *jobs.Worker) {
	t.Helper()
	if err := w.Tick(e.Ctx); err != nil {
		t.Fatalf("tick at %s: %v", e.Clock.Now().In(servicetest.Office), err)
	}
}

func ny(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, servicetest.Office)
}

// sent is one e-mail as the tests compare them.
type sent struct {
	At      string
	To      string
	Subject string
}

func (e *env) sent(t *testing.T) []sent {
	t.Helper()
	var out []sent
	for _, m := range e.mail.Messages() {
		if len(m.To) != 1 {
			t.Errorf("a message to %v: one recipient per message, so no one learns who else was told", m.To)
		}
		out = append(out, sent{m.At.In(servicetest.Office).Format("2006-01-02 Mon 15:04"), strings.Join(m.To, ","), m.Subject})
	}
	slices.SortFunc(out, func(a, b sent) int { return strings.Compare(a.At+a.To+a.Subject, b.At+b.To+b.Subject) })
	return out
}

// subject is what notify writes for kind with deadline due.
func subject(t *testing.T, kind string, due time.Time) string {
	t.Helper()
	m, err := notify.Compose(notify.Notice{ID: "x", To: "x@example.test", Kind: kind, DueAt: due}, notify.Site{Location: servicetest.Office}, due)
	if err != nil {
		t.Fatal(err)
	}
	return m.Subject
}

// checkMessages asserts what every received message carries and lacks.
func (e *env) checkMessages(t *testing.T, memoID string, forbidden ...string) {
	t.Helper()
	for _, m := range e.mail.Messages() {
		if !m.TLS || m.AuthAs != e.mail.Username {
			t.Errorf("message to %v: TLS %v, authenticated as %q", m.To, m.TLS, m.AuthAs)
		}
		if m.From != "dissent@example.gov" || m.Header.Get("Message-ID") == "" {
			t.Errorf("message to %v: from %q, Message-ID %q", m.To, m.From, m.Header.Get("Message-ID"))
		}
		// Random identifiers (the Message-ID, the memo id in the link) are
		// base32 and may spell a short name by chance; leave them out.
		text := strings.ToLower(string(m.Data))
		for _, id := range []string{m.Header.Get("Message-ID"), memoID} {
			if id != "" {
				text = strings.ReplaceAll(text, strings.ToLower(id), "")
			}
		}
		for _, f := range forbidden {
			if strings.Contains(text, strings.ToLower(f)) {
				t.Errorf("message to %v leaks %q:\n%s", m.To, f, m.Data)
			}
		}
		if memoID != "" && !strings.Contains(m.Body, baseURL+"memos/") {
			t.Errorf("message to %v has no link:\n%s", m.To, m.Body)
		}
	}
}

// TestHolidayWeek walks a memo submitted the Tuesday before Thanksgiving
// 2026 through its deadlines, an hour at a time, and checks exactly which
// e-mails go out, to whom and when: the arrival notice at once; the
// acknowledgement reminder on Wednesday morning, one working day before
// the Friday deadline (Thursday is Thanksgiving); the escalation to the
// Director and the office at the first run after Friday 17:00; after the
// acknowledgement on Monday, the reply reminder on Thursday 31 December,
// five working days before Friday 8 January 2027 (Christmas and New Year's
// Day are holidays); and the escalation when that passes.
func TestHolidayWeek(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		w := e.worker("node-a", nil, 0)
		e.Clock.Set(ny(2026, 11, 24, 10, 0))
		id := e.submit(t, "Reconsidering our Syria policy")
		ackBy, replyBy := ny(2026, 11, 27, 17, 0), ny(2027, 1, 8, 17, 0)

		walk := func(from, to time.Time, at func(now time.Time)) {
			for now := from; !now.After(to); now = now.Add(time.Hour) {
				e.Clock.Set(now)
				if at != nil {
					at(now)
				}
				e.tick(t, w)
			}
		}
		walk(ny(2026, 11, 24, 10, 0), ny(2026, 11, 30, 12, 0), func(now time.Time) {
			if now.Equal(ny(2026, 11, 30, 10, 0)) {
				if _, err := e.Svc.Acknowledge(e.Ctx, e.Office, id); err != nil {
					t.Fatal(err)
				}
			}
		})
		walk(ny(2026, 12, 30, 8, 0), ny(2026, 12, 31, 12, 0), nil)
		walk(ny(2027, 1, 8, 15, 0), ny(2027, 1, 9, 1, 0), nil)

		received := subject(t, "memo.received", ackBy)
		distributed := subject(t, "memo.distributed", time.Time{})
		remindAck := subject(t, "remind.acknowledge", ackBy)
		overdueAck := subject(t, "overdue.acknowledge", ackBy)
		remindReply := subject(t, "remind.reply", replyBy)
		overdueReply := subject(t, "overdue.reply", replyBy)
		want := []sent{
			{"2026-11-24 Tue 10:00", "office2@example.test", received},
			{"2026-11-24 Tue 10:00", "office@example.test", received},
			{"2026-11-24 Tue 10:00", "p1@example.test", distributed},
			{"2026-11-24 Tue 10:00", "p2@example.test", distributed},
			{"2026-11-25 Wed 09:00", "office2@example.test", remindAck},
			{"2026-11-25 Wed 09:00", "office@example.test", remindAck},
			{"2026-11-27 Fri 18:00", "director@example.test", overdueAck},
			{"2026-11-27 Fri 18:00", "office2@example.test", overdueAck},
			{"2026-11-27 Fri 18:00", "office@example.test", overdueAck},
			{"2026-12-31 Thu 09:00", "office2@example.test", remindReply},
			{"2026-12-31 Thu 09:00", "office@example.test", remindReply},
			{"2027-01-08 Fri 18:00", "director@example.test", overdueReply},
			{"2027-01-08 Fri 18:00", "office2@example.test", overdueReply},
			{"2027-01-08 Fri 18:00", "office@example.test", overdueReply},
		}
		if got := e.sent(t); !slices.Equal(got, want) {
			t.Errorf("e-mails sent:\n%s\nwant:\n%s", show(got), show(want))
		}
		e.checkMessages(t, id, "Syria", e.secretMarker, "SENSITIVE", "UNCLASSIFIED", "alice", "bob", "Display")
		for _, m := range e.mail.Messages() {
			if m.Subject == received && !strings.Contains(m.Body, "It must be acknowledged by Friday 27 November 2026, 17:00 EST.") {
				t.Errorf("the deadline is not written in the office's zone:\n%s", m.Body)
			}
		}

		// The same notices are in the bells, and the authors have none.
		director := bellKinds(t, e, e.director)
		if want := []string{"overdue.reply:" + id, "overdue.acknowledge:" + id}; !slices.Equal(director, want) {
			t.Errorf("director's bell %v, want %v", director, want)
		}
		for _, a := range []*service.Actor{e.alice, e.bob} {
			if got := bellKinds(t, e, a); len(got) != 0 {
				t.Errorf("author %s was notified: %v", a.Username(), got)
			}
		}
		// Every reminder is a system event in the memo's ledger.
		m, err := e.Svc.GetMemo(e.Ctx, e.Office, id)
		if err != nil {
			t.Fatal(err)
		}
		var system []string
		for _, ev := range m.Events {
			if ev.Role == "system" {
				system = append(system, ev.Action)
			}
		}
		if want := []string{"memo.remind.acknowledge", "memo.escalate.acknowledge", "memo.remind.reply", "memo.escalate.reply"}; !slices.Equal(system, want) {
			t.Errorf("system events %v, want %v", system, want)
		}
	})
}

func show(ss []sent) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "\t%s  %-22s %s\n", s.At, s.To, s.Subject)
	}
	return b.String()
}

func bellKinds(t *testing.T, e *env, a *service.Actor) []string {
	t.Helper()
	b, err := e.Svc.Notifications(e.Ctx, a, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, n := range b.Items {
		out = append(out, n.Kind+":"+n.MemoID)
	}
	return out
}

// crashAfter is a sender that delivers n messages and then dies: it cancels
// its node's context and delivers nothing more, as a process killed
// mid-batch would.
type crashAfter struct {
	mu     sync.Mutex
	n      int
	real   jobs.Sender
	cancel context.CancelFunc
}

func (c *crashAfter) Send(ctx context.Context, m *notify.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		c.cancel()
		return context.Canceled
	}
	c.n--
	return c.real.Send(ctx, m)
}

// TestWorkerRestart kills a node in the middle of sending a batch and
// while it holds the reminders job, and checks that other nodes carry on
// once the leases run out: every e-mail is delivered exactly once and the
// reminders go out once.
func TestWorkerRestart(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		e.Clock.Set(ny(2026, 11, 24, 10, 0))
		var ids []string
		for i := range 3 {
			ids = append(ids, e.submit(t, fmt.Sprintf("memo %d", i)))
		}
		// 3 memos × (2 office members + 2 principals) = 12 e-mails.
		ctxA, cancelA := context.WithCancel(e.Ctx)
		a := e.worker("node-a", &crashAfter{n: 5, real: e.mailer, cancel: cancelA}, 4)
		if err := a.Tick(ctxA); !errors.Is(err, context.Canceled) {
			t.Fatalf("the dying node's tick: %v", err)
		}
		if n := len(e.mail.Messages()); n != 5 {
			t.Fatalf("%d e-mails before the crash, want 5", n)
		}

		// A new node starts at once: it sends what nobody claimed, and
		// leaves alone what the dead node still holds.
		b := e.worker("node-b", nil, 4)
		e.tick(t, b)
		if n := len(e.mail.Messages()); n != 9 {
			t.Fatalf("%d e-mails after the restart, want 9 (3 still leased to the dead node)", n)
		}
		e.Clock.Advance(5 * time.Minute)
		e.tick(t, b)
		e.checkDeliveredOnce(t, 12)

		// Wednesday 09:00 the reminders are due; node A claims the job and
		// dies before running it.
		e.Clock.Set(ny(2026, 11, 25, 9, 0))
		if ok, err := e.Svc.ClaimJob(e.Ctx, "reminders", "node-a", 5*time.Minute); err != nil || !ok {
			t.Fatalf("node A claims the reminders: %v %v", ok, err)
		}
		e.tick(t, b)
		if n := len(e.mail.Messages()); n != 12 {
			t.Fatalf("node B ran a job node A holds: %d e-mails", n)
		}
		e.Clock.Advance(5*time.Minute + time.Second)
		e.tick(t, b)
		c := e.worker("node-c", nil, 4)
		e.Clock.Advance(10 * time.Minute)
		e.tick(t, c)
		e.tick(t, b)
		// 3 memos × 2 office members reminded, once.
		e.checkDeliveredOnce(t, 18)
		reminders := 0
		for _, m := range e.mail.Messages() {
			if strings.Contains(m.Subject, "due for acknowledgement") {
				reminders++
			}
		}
		if reminders != 6 {
			t.Errorf("%d reminders, want 6", reminders)
		}
		js, err := e.Svc.Jobs(e.Ctx, e.Admin)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range js {
			if j.Name == "reminders" && (j.LastRun == nil || j.Running || j.LastError != "") {
				t.Errorf("reminders job after the takeover: %+v", j)
			}
		}
	})
}

// checkDeliveredOnce asserts the server got want messages, no Message-ID
// twice.
func (e *env) checkDeliveredOnce(t *testing.T, want int) {
	t.Helper()
	msgs := e.mail.Messages()
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.Header.Get("Message-ID")]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	if len(msgs) != want {
		t.Errorf("%d e-mails delivered, want %d", len(msgs), want)
	}
}

// outbox reads the e-mail state of every notification of user, as an
// operator with the database would.
func outbox(t *testing.T, st store.Store, userID string) []*store.Notification {
	t.Helper()
	tx, err := st.Begin(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ns, err := tx.Notifications(t.Context(), userID, 100)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestMailServerDown takes the mail server down before a memo is
// submitted: the submission does not notice, e-mails wait with
// exponential back-off, and go out once, when the server is back. A
// recipient the server refuses for good is not tried again, and keeps the
// notice in the app.
func TestMailServerDown(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		w := e.worker("node-a", nil, 0)
		t0 := ny(2026, 11, 24, 10, 0)
		e.Clock.Set(t0)
		e.mail.Stop()
		e.mail.Reject("p2@example.test")

		id := e.submit(t, "Filed while the mail server is down")
		state := func() (string, int, time.Time) {
			n := outbox(t, st, e.Office.User.ID)[0]
			return n.EmailState, n.Attempts, time.UnixMicro(n.NextTry)
		}
		at := func(d time.Duration) {
			e.Clock.Set(t0.Add(d))
			e.tick(t, w)
		}
		at(0)
		if s, n, next := state(); s != "pending" || n != 1 || !next.Equal(t0.Add(time.Minute)) {
			t.Fatalf("after the first failure: %s, %d attempts, next %s", s, n, next)
		}
		at(30 * time.Second) // not due yet: no attempt
		if _, n, _ := state(); n != 1 {
			t.Fatalf("tried again before the back-off: %d attempts", n)
		}
		at(time.Minute)
		if s, n, next := state(); s != "pending" || n != 2 || !next.Equal(t0.Add(3*time.Minute)) {
			t.Fatalf("after the second failure: %s, %d attempts, next %s (want +2m)", s, n, next)
		}
		e.Clock.Set(t0.Add(90 * time.Second))
		e.mail.Restart()
		at(90 * time.Second)
		if n := len(e.mail.Messages()); n != 0 {
			t.Fatalf("%d e-mails before the back-off ended", n)
		}
		at(3 * time.Minute)
		at(10 * time.Minute)
		at(2 * time.Hour)

		want := []sent{
			{"2026-11-24 Tue 10:03", "office2@example.test", subject(t, "memo.received", ny(2026, 11, 27, 17, 0))},
			{"2026-11-24 Tue 10:03", "office@example.test", subject(t, "memo.received", ny(2026, 11, 27, 17, 0))},
			{"2026-11-24 Tue 10:03", "p1@example.test", subject(t, "memo.distributed", time.Time{})},
		}
		if got := e.sent(t); !slices.Equal(got, want) {
			t.Errorf("e-mails sent:\n%s\nwant:\n%s", show(got), show(want))
		}
		e.checkDeliveredOnce(t, 3)
		e.checkMessages(t, id, e.secretMarker, "alice", "bob")
		if s, _, _ := state(); s != "sent" {
			t.Errorf("office e-mail state %q", s)
		}
		p2 := outbox(t, st, e.Principals[1].User.ID)
		if len(p2) != 1 || p2[0].EmailState != "failed" || p2[0].Attempts != 3 {
			t.Errorf("refused e-mail: %+v", p2[0])
		}
		if got := bellKinds(t, e, e.Principals[1]); !slices.Equal(got, []string{"memo.distributed:" + id}) {
			t.Errorf("p2's bell after the refused e-mail: %v", got)
		}
	})
}

// waitForJobs waits, up to 10 s, for every periodic job (reminders,
// checkpoint, lifecycles, sessions) to have run once, and returns nil, or their state
// if they did not.
func waitForJobs(t *testing.T, d *servicetest.Deployment) []service.JobStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		js, err := d.Svc.Jobs(d.Ctx, d.Admin)
		if err != nil {
			t.Fatal(err)
		}
		ran := 0
		for _, j := range js {
			if j.LastRun != nil {
				ran++
			}
		}
		if ran == 4 {
			return nil
		}
		if time.Now().After(deadline) {
			return js
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStart runs the worker as `dissent serve` does, without e-mail, and
// stops it.
func TestStart(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	cfg, err := config.Load(t.TempDir(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(d.Ctx)
	wait := jobs.Start(ctx, d.Svc, cfg, quiet)
	if js := waitForJobs(t, d); js != nil {
		t.Fatalf("jobs did not run: %+v", js)
	}
	cancel()
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not stop")
	}
	if p := jobs.Policy(cfg); p.AcknowledgeLead != 1 || p.ReplyLead != 5 || p.Email || p.StaleDraft != 30*24*time.Hour {
		t.Errorf("default policy %+v", p)
	}
}

// TestNodesShareTheOutbox runs three nodes at once over one database: each
// e-mail goes out once, and the reminders once.
func TestNodesShareTheOutbox(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		e.Clock.Set(ny(2026, 11, 24, 10, 0))
		for i := range 6 {
			e.submit(t, fmt.Sprintf("memo %d", i))
		}
		e.Clock.Set(ny(2026, 11, 25, 9, 0)) // arrival notices and reminders both due
		nodes := []*jobs.Worker{e.worker("node-a", nil, 3), e.worker("node-b", nil, 3), e.worker("node-c", nil, 3)}
		var wg sync.WaitGroup
		for _, w := range nodes {
			wg.Go(func() {
				for range 3 {
					if err := w.Tick(e.Ctx); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		// 6 memos × 4 arrival notices, and 6 × 2 reminders.
		e.checkDeliveredOnce(t, 36)
	})
}

// TestMailServerRefuses runs the outbox against a mail server that refuses
// what the deployment sends, one misconfiguration after another: no SMTP
// credentials, relaying denied, the sender address refused, a full
// mailbox. None of that is the notices' fault, so none is dropped: each
// waits with back-off, an error tells the operator, and once the server
// accepts mail again every notice goes out, once.
func TestMailServerRefuses(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		var logs strings.Builder
		log := slog.New(slog.NewTextHandler(&logs, nil))
		worker := func(sender jobs.Sender) *jobs.Worker {
			return jobs.New(e.Svc, jobs.Options{Node: "node-a", Mail: sender, Site: notify.Site{BaseURL: baseURL, Location: servicetest.Office},
				Lease: 5 * time.Minute, Log: log})
		}
		cfg := e.mail.Config("dissent@example.gov")
		cfg.Username, cfg.Password = "", "" // smtp.username left out of the configuration
		noCredentials, err := notify.NewMailer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t0 := ny(2026, 11, 24, 10, 0)
		e.Clock.Set(t0)
		id := e.submit(t, "Filed while the mail settings are wrong")

		// Each round is one attempt, after the back-off of the one before
		// (1m, 2m, 4m, 8m).
		rounds := []struct {
			name    string
			sender  jobs.Sender
			command string
			reply   *smtp.SMTPError
		}{
			{"no credentials", noCredentials, "", nil},
			{"relaying denied", nil, "RCPT", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relaying denied"}},
			{"sender refused", nil, "MAIL", &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 8}, Message: "sender address rejected"}},
			{"mailbox full", nil, "RCPT", &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "mailbox full"}},
		}
		at := t0
		for i, r := range rounds {
			logs.Reset()
			if r.reply != nil {
				e.mail.Refuse(r.command, r.reply)
			}
			sender := r.sender
			if sender == nil {
				sender = e.mailer
			}
			e.Clock.Set(at)
			e.tick(t, worker(sender))
			if r.reply != nil {
				e.mail.Refuse(r.command, nil)
			}
			for _, n := range outbox(t, st, e.Office.User.ID) {
				if n.EmailState != "pending" || n.Attempts != i+1 {
					t.Fatalf("%s: the office's notice is %s after %d attempts, want pending after %d", r.name, n.EmailState, n.Attempts, i+1)
				}
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "[smtp] settings") {
				t.Errorf("%s: nothing tells the operator:\n%s", r.name, logs.String())
			}
			at = at.Add(time.Minute << i)
		}
		if n := len(e.mail.Messages()); n != 0 {
			t.Fatalf("%d e-mails through a refusing server", n)
		}

		e.Clock.Set(at)
		e.tick(t, worker(e.mailer))
		e.checkDeliveredOnce(t, 4)
		e.checkMessages(t, id, e.secretMarker, "alice", "bob")
	})
}

// slowSender delivers through real, each message taking its whole
// time-out on the deployment's clock; before is called before message n
// (from 1).
type slowSender struct {
	real   jobs.Sender
	clock  *servicetest.Clock
	n      int
	before func(n int)
}

func (s *slowSender) Timeout() time.Duration { return notify.DefaultTimeout }

func (s *slowSender) Send(ctx context.Context, m *notify.Message) error {
	s.n++
	if s.before != nil {
		s.before(s.n)
	}
	s.clock.Advance(notify.DefaultTimeout)
	return s.real.Send(ctx, m)
}

// TestSlowBatchKeepsItsClaim has a node work through a full batch of
// e-mails against a mail server that takes its whole time-out for each,
// while another node looks for mail half-way through: the second node must
// not take over, and send again, e-mails the first still holds.
func TestSlowBatchKeepsItsClaim(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		e.Clock.Set(ny(2026, 11, 24, 10, 0))
		for i := range 5 {
			e.submit(t, fmt.Sprintf("memo %d", i)) // 5 × 4 notices: one default batch of 20
		}
		b := e.worker("node-b", nil, 0)
		slow := &slowSender{real: e.mailer, clock: e.Clock}
		a := e.worker("node-a", slow, 0)
		slow.before = func(n int) {
			if n == 12 { // 11 × 30s in: past the 5-minute job lease
				e.tick(t, b)
			}
		}
		e.tick(t, a)
		if slow.n != 20 {
			t.Errorf("node A sent %d e-mails, want its batch of 20", slow.n)
		}
		e.checkDeliveredOnce(t, 20)
	})
}

// TestWorkerWritesCountedSignInFailures: the failed sign-ins a node counts
// during a run of them reach the ledger by its background work once the
// calm minute has passed, and when the node stops.
func TestWorkerWritesCountedSignInFailures(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st)
	fail := func() {
		t.Helper()
		if _, _, err := d.Svc.SignIn(d.Ctx, "nobody", "a guess"); err == nil {
			t.Fatal("a made-up username signed in")
		}
	}
	fails := func() []int {
		t.Helper()
		tx, err := st.Begin(d.Ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		ls := tx.LedgerStorage("", "")
		n, err := ls.LockedSize(d.Ctx)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := ls.ReadLeaves(d.Ctx, 0, n)
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, b := range raw {
			l, err := ledger.DecodeLeaf(b)
			if err != nil {
				t.Fatal(err)
			}
			if l.Action == "session.fail" {
				out = append(out, max(l.Count, 1))
			}
		}
		return out
	}
	w := jobs.New(d.Svc, jobs.Options{Node: "n1", ScanEvery: 5 * time.Minute, CheckpointEvery: time.Hour, Lease: 5 * time.Minute, Log: quiet})
	fail()
	fail()
	fail()
	if got := fails(); !slices.Equal(got, []int{1}) {
		t.Fatalf("after three failures at once, entries for %v", got)
	}
	d.Clock.Advance(time.Minute)
	if err := w.Tick(d.Ctx); err != nil {
		t.Fatal(err)
	}
	if got := fails(); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("after a tick a minute later, entries for %v; want [1 2]", got)
	}

	cfg, err := config.Load(t.TempDir(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(d.Ctx)
	wait := jobs.Start(ctx, d.Svc, cfg, quiet)
	fail()
	fail() // within the minute: counted, not written
	cancel()
	wait()
	if got := fails(); !slices.Equal(got, []int{1, 2, 2}) {
		t.Fatalf("after the node stopped, entries for %v; want [1 2 2]", got)
	}
}
