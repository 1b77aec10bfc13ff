// Package jobs is the channel's background work on each app node: the
// reminders and escalations the profile's deadlines call for, the e-mail
// outbox, and scheduled ledger checkpoints.
//
// It acts only through the service layer, as the system (every reminder it
// sends is an audit event in the transaction that writes it), and it keeps
// no state of its own: schedules, leases and the outbox live in the
// database. So any number of nodes can run it at once without doing
// anything twice, and a node can stop at any moment — a job it held is
// taken up by another once its lease runs out, and an e-mail it claimed and
// did not send is sent later. A mail server that is down only delays mail:
// users' actions never wait for it, since they only write notifications,
// and the outbox retries with exponential back-off.
//
// Why an outbox table and not River (github.com/riverqueue/river): River
// inserts a job in the caller's transaction only through its own driver's
// transaction type (pgx.Tx, *sql.Tx), which the store interface rightly
// hides; it brings its own schema and migrator beside ours; and its job
// arguments are plaintext JSON rows we would have to keep as blind as ours.
// The work here is small — one periodic scan, one periodic checkpoint, one
// outbox — and a leased row per job plus the notifications table claimed
// with FOR UPDATE SKIP LOCKED does it on both stores with the same code.
package jobs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/notify"
	"github.com/dissent-channel/dissent/internal/service"
)

// Sender delivers one e-mail; *notify.Mailer is the real one.
type Sender interface {
	Send(ctx context.Context, m *notify.Message) error
}

// Options tune a worker. Zero values take the defaults in brackets.
type Options struct {
	// Node names this worker in job leases (random).
	Node string
	// Mail sends e-mail; nil leaves the outbox alone (no SMTP set up).
	Mail Sender
	// Site is what e-mails say about the deployment.
	Site notify.Site
	// ScanEvery is how often reminders are computed (5m); CheckpointEvery
	// how often the ledger is checkpointed if it grew (1h).
	ScanEvery       time.Duration
	CheckpointEvery time.Duration
	// LifecycleEvery is how often every memo's row is checked against its
	// ledger (1h; Service.CheckLifecycles).
	LifecycleEvery time.Duration
	// Lease is how long a claimed job is held before another node may
	// take it over (5m). It must outlast one run of the reminders.
	Lease time.Duration
	// Batch is how many e-mails one claim takes (20).
	Batch int
	// SendTimeout bounds the delivery of one e-mail (Mail's Timeout method
	// if it has one, as *notify.Mailer does, else notify.DefaultTimeout).
	// A claimed batch is held for the longer of Lease and Batch ×
	// SendTimeout + MailLeaseMargin, so that another node cannot take
	// over, and send again, e-mails this node is still working through.
	SendTimeout time.Duration
	// RetryBase and RetryMax bound the back-off after a failed delivery:
	// RetryBase, twice that, and so on up to RetryMax (1m, 1h).
	RetryBase time.Duration
	RetryMax  time.Duration
	// Poll is how often, in real time, Run looks for due work (10s).
	Poll time.Duration
	Log  *slog.Logger
}

// MailLeaseMargin is what a claimed batch of e-mails is held for beyond
// the time-outs of its deliveries: the claim and settling of each e-mail
// in the database.
const MailLeaseMargin = time.Minute

// Worker runs the background jobs of one node.
type Worker struct {
	svc       *service.Service
	opt       Options
	mailLease time.Duration
	jobs      []job
}

type job struct {
	name  string
	every time.Duration
	run   func(ctx context.Context) error
}

// New returns a worker over svc.
func New(svc *service.Service, opt Options) *Worker {
	if opt.Node == "" {
		opt.Node = "node-" + rand.Text()[:10]
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opt.ScanEvery, 5*time.Minute)
	def(&opt.CheckpointEvery, time.Hour)
	def(&opt.LifecycleEvery, time.Hour)
	def(&opt.Lease, 5*time.Minute)
	def(&opt.RetryBase, time.Minute)
	def(&opt.RetryMax, time.Hour)
	def(&opt.Poll, 10*time.Second)
	if opt.Batch <= 0 {
		opt.Batch = 20
	}
	if opt.SendTimeout <= 0 {
		opt.SendTimeout = notify.DefaultTimeout
		if t, ok := opt.Mail.(interface{ Timeout() time.Duration }); ok && t.Timeout() > 0 {
			opt.SendTimeout = t.Timeout()
		}
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	w := &Worker{svc: svc, opt: opt}
	w.mailLease = max(opt.Lease, time.Duration(opt.Batch)*opt.SendTimeout+MailLeaseMargin)
	w.jobs = []job{
		{"reminders", opt.ScanEvery, func(ctx context.Context) error {
			run, err := svc.RunReminders(ctx)
			if run != nil && run.Rescheduled > 0 {
				opt.Log.Info("reminders rescheduled for a new policy or calendar", "memos", run.Rescheduled)
			}
			if run != nil && run.Notices > 0 {
				opt.Log.Info("reminders sent", "checked", run.Checked, "reminded", run.Reminded, "escalated", run.Escalated, "notices", run.Notices)
			}
			return err
		}},
		{"checkpoint", opt.CheckpointEvery, func(ctx context.Context) error {
			_, err := svc.ScheduledCheckpoint(ctx)
			return err
		}},
		{"lifecycles", opt.LifecycleEvery, func(ctx context.Context) error {
			checked, bad, err := svc.CheckLifecycles(ctx)
			if err == nil && bad > 0 {
				err = fmt.Errorf("%d of %d memos' rows say other than their ledger of where they are (logged above)", bad, checked)
			}
			return err
		}},
		{"sessions", opt.ScanEvery, func(ctx context.Context) error {
			n, err := svc.PurgeSessions(ctx)
			if n > 0 {
				opt.Log.Debug("expired sessions deleted", "sessions", n)
			}
			return err
		}},
	}
	return w
}

// Tick does whatever work is due now, once: each periodic job this node
// can claim, this node's count of failed sign-ins, then the e-mail
// outbox. Errors are logged and recorded with the job; Tick returns only
// the first, for tests.
func (w *Worker) Tick(ctx context.Context) error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, j := range w.jobs {
		ok, err := w.svc.ClaimJob(ctx, j.name, w.opt.Node, w.opt.Lease)
		if err != nil || !ok {
			keep(err)
			continue
		}
		runErr := j.run(ctx)
		if runErr != nil {
			w.opt.Log.Error("background job failed", "job", j.name, "error", runErr)
		}
		keep(runErr)
		// If the node is stopping, the lease is left to lapse: the job
		// runs again elsewhere, and its work is idempotent.
		keep(w.svc.FinishJob(ctx, j.name, w.opt.Node, j.every, runErr))
	}
	// This node's own count, not a job another node could claim.
	keep(w.svc.FlushSignInFailures(ctx, false))
	keep(w.deliver(ctx))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// maxRounds bounds how many batches one tick sends, so that a long outbox
// does not keep the periodic jobs waiting.
const maxRounds = 10

// deliver sends due e-mails.
func (w *Worker) deliver(ctx context.Context) error {
	if w.opt.Mail == nil {
		return nil
	}
	for range maxRounds {
		batch, err := w.svc.ClaimMail(ctx, w.mailLease, w.opt.Batch)
		if err != nil || len(batch) == 0 {
			return err
		}
		var refusedTo []string // recipients refused at the end of DATA in a row
		for i, m := range batch {
			err := w.send(ctx, m)
			if ctx.Err() != nil {
				return nil // stopping: what is claimed and unsent goes out when the lease lapses
			}
			// A message refused at the end of DATA is about that message;
			// messages to two people refused in a row, about us (a filter
			// refusing our sender's mail), like a server failing.
			switch {
			case !notify.RefusedAtEndOfData(err):
				refusedTo = refusedTo[:0]
			case !slices.Contains(refusedTo, m.To):
				refusedTo = append(refusedTo, m.To)
			}
			if err != nil && (len(refusedTo) >= 2 || !notify.Permanent(err) && !notify.AboutRecipient(err)) {
				// The server is down or refusing for now: put the rest of
				// the batch back with the same back-off rather than knock
				// on a closed door once per e-mail. A refusal about this
				// recipient alone (a full mailbox) backs off this e-mail
				// only: it would otherwise sort first in every batch and
				// hold everyone else's back.
				for _, rest := range batch[i+1:] {
					if err := w.svc.MailFailed(ctx, rest, w.backoff(rest.Attempt), false, "not tried: the mail server failed"); err != nil {
						w.opt.Log.Warn("e-mail claim lost", "notice", rest.ID, "error", err)
					}
				}
				return nil
			}
		}
		if len(batch) < w.opt.Batch {
			return nil
		}
	}
	return nil
}

// send delivers one e-mail and settles its claim.
func (w *Worker) send(ctx context.Context, m service.OutgoingMail) error {
	msg, err := notify.Compose(notify.Notice{ID: m.ID, To: m.To, Kind: m.Kind, MemoID: m.MemoID, DueAt: m.DueAt}, w.opt.Site, w.svc.Now())
	if err == nil {
		// Each delivery is bounded whatever the sender does, so that the
		// batch ends within its claim (see Options.SendTimeout).
		sendCtx, cancel := context.WithTimeout(ctx, w.opt.SendTimeout)
		err = w.opt.Mail.Send(sendCtx, msg)
		cancel()
	}
	if ctx.Err() != nil && err != nil {
		return err
	}
	var settle error
	switch {
	case err == nil:
		// Recorded even when the node is stopping: the server took the
		// message, and another node would send it again once the lease
		// lapsed. A short time, not the node's, bounds it.
		rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		settle = w.svc.MailSent(rec, m)
		cancel()
	case notify.Permanent(err):
		w.opt.Log.Error("e-mail refused for good", "notice", m.ID, "attempt", m.Attempt, "error", err)
		settle = w.svc.MailFailed(ctx, m, 0, true, err.Error())
	case notify.Refused(err):
		// Kept and tried again, but the refusal will not lift by itself:
		// the deployment's mail settings, or the mail server's, need
		// fixing.
		w.opt.Log.Error("e-mail refused by the mail server; it is kept and tried again, but check the [smtp] settings and the mail server",
			"notice", m.ID, "attempt", m.Attempt, "retry_in", w.backoff(m.Attempt), "error", err)
		settle = w.svc.MailFailed(ctx, m, w.backoff(m.Attempt), false, err.Error())
	default:
		w.opt.Log.Warn("e-mail delayed", "notice", m.ID, "attempt", m.Attempt, "retry_in", w.backoff(m.Attempt), "error", err)
		settle = w.svc.MailFailed(ctx, m, w.backoff(m.Attempt), false, err.Error())
	}
	if settle != nil {
		// Another node took the claim over after our lease lapsed; it
		// settles the e-mail (and may send it once more).
		w.opt.Log.Warn("e-mail claim lost", "notice", m.ID, "error", settle)
	}
	return err
}

// backoff is how long to wait after the attempt-th failed delivery.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.opt.RetryBase
	for i := 1; i < attempt && d < w.opt.RetryMax; i++ {
		d *= 2
	}
	return min(d, w.opt.RetryMax)
}

// Run ticks until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.opt.Poll)
	defer t.Stop()
	for {
		if err := w.Tick(ctx); err != nil && !errors.Is(err, context.Canceled) {
			w.opt.Log.Warn("background work", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// FromConfig builds a worker for a deployment: e-mail if smtp.host is set,
// the schedule of [reminders]. Mail settings it cannot use give the worker
// without e-mail, and the error; a calendar it cannot read, no worker.
func FromConfig(svc *service.Service, cfg *config.Config, log *slog.Logger) (*Worker, error) {
	cal, err := cfg.Calendar()
	if err != nil {
		return nil, err
	}
	opt := Options{
		Site:            notify.Site{BaseURL: cfg.Server.BaseURL, Location: cal.Location()},
		ScanEvery:       cfg.Reminders.ScanEvery.Duration,
		CheckpointEvery: cfg.Reminders.CheckpointEvery.Duration,
		Log:             log,
	}
	var mailErr error
	if cfg.SMTP.Host != "" {
		m, err := notify.NewMailer(cfg.Mail())
		if err == nil {
			opt.Mail = m
		}
		mailErr = err
	}
	return New(svc, opt), mailErr
}

// Policy is the reminder policy cfg describes, for service.Config.
func Policy(cfg *config.Config) *service.ReminderPolicy {
	r := cfg.Reminders
	lead := func(p *int, def int) int {
		if p == nil {
			return def
		}
		return *p
	}
	return &service.ReminderPolicy{
		AcknowledgeLead: lead(r.AcknowledgeLead, 1),
		ReplyLead:       lead(r.ReplyLead, 5),
		ReplyLatestLead: lead(r.ReplyLatestLead, 5),
		EscalateTo:      r.EscalateTo,
		StaleDraft:      r.StaleDraft.Duration,
		Email:           cfg.SMTP.Host != "",
	}
}

// Start runs the background jobs in a goroutine until ctx ends, and returns
// a function that stops them and waits: `defer jobs.Start(…)()` before
// serving lets the store close only after the last job has let go of it.
// A configuration it cannot use is logged, and the server runs without
// background jobs rather than not at all.
func Start(ctx context.Context, svc *service.Service, cfg *config.Config, log *slog.Logger) (wait func()) {
	if log == nil {
		log = slog.Default()
	}
	// The failed sign-ins counted since the last entry go to the ledger
	// before the store closes.
	flush := func() {
		ctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer stop()
		if err := svc.FlushSignInFailures(ctx, true); err != nil {
			log.Error("failed sign-ins counted since the last ledger entry were not written", "error", err)
		}
	}
	w, err := FromConfig(svc, cfg, log)
	if w == nil {
		log.Error("background jobs are off", "error", err)
		return flush
	}
	if err != nil {
		// Reminders, escalations and checkpoints go on in the app.
		log.Error("e-mail is off: the mail settings cannot be used", "error", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.Run(ctx)
	}()
	return func() {
		cancel() // serving may have ended on an error, not on ctx
		<-done
		flush()
	}
}
