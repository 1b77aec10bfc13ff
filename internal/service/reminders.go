package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/workdays"
)

// Reminders keep the profile's clock: the office is reminded before each
// deadline it owes, and when one passes the escalation contacts and the
// office are told. They run as the system (package jobs calls
// RunReminders), see only a memo's plaintext metadata (state and
// deadlines), and so never learn, store or send who wrote a memo.
//
// What authors must be told — a signature asked of them, a draft of theirs
// left untouched — cannot be worked out without their keys, so it is never
// computed here: their own session works it out on demand (see Bell).

// ReminderPolicy says when the office is reminded of a deadline and whom to
// tell when one passes.
type ReminderPolicy struct {
	// Leads are how many working days before each deadline the office is
	// reminded, at the start of office hours; 0 is the morning of the
	// deadline's own day, and a negative lead sends no reminder.
	AcknowledgeLead int
	ReplyLead       int
	ReplyLatestLead int
	// EscalateTo are the usernames told when a deadline passes (such as
	// the Director of Policy Planning), besides the office.
	EscalateTo []string
	// StaleDraft is how long a draft lies untouched before its drafters'
	// bell flags it.
	StaleDraft time.Duration
	// Email queues an e-mail copy of each notification (SMTP is set up).
	Email bool
}

// DefaultReminders is the policy of a deployment that sets none: remind
// the office 1 working day before the acknowledgement is due and 5 before
// each reply deadline; flag drafts after 30 days; no e-mail.
func DefaultReminders() ReminderPolicy {
	return ReminderPolicy{AcknowledgeLead: 1, ReplyLead: 5, ReplyLatestLead: 5, StaleDraft: 30 * 24 * time.Hour}
}

func (s *Service) reminders() ReminderPolicy {
	if s.cfg.Reminders != nil {
		return *s.cfg.Reminders
	}
	return DefaultReminders()
}

// WithReminders returns a service over the same store and clock that
// follows p (tests, and tools that run one job by hand).
func (s *Service) WithReminders(p ReminderPolicy) *Service {
	cfg := s.cfg
	cfg.Reminders = &p
	out := New(s.store, cfg, s.passwords, s.log)
	out.Now = s.Now
	return out
}

// Notification kinds. Those about a memo name it; they go only to people
// whose link to the memo is not protected (the office, principals,
// escalation contacts).
const (
	KindReceived    = "memo.received"    // office: a memo arrived; acknowledge by DueAt
	KindAppealed    = "memo.appealed"    // office: the authors appealed the reply; decide by DueAt
	KindMessage     = "memo.message"     // office: the authors wrote to it
	KindDistributed = "memo.distributed" // a principal: a memo was distributed to you
	KindSignPending = "sign.pending"     // an author: your signature is asked (worked out, never stored)
	KindDraftStale  = "draft.stale"      // a drafter: your draft is untouched (worked out, never stored)
	// An author: the office acknowledged, replied to or returned your
	// memo, within the last answeredShown (worked out, never stored).
	KindAcknowledged = "memo.acknowledged"
	KindReplied      = "memo.replied"
	KindReturned     = "memo.returned"
	KindPublished    = "memo.published"      // the case, closed, was published
	KindWrote        = "memo.office_message" // the office wrote to the authors
	kindRemind       = "remind."             // + deadline: office, before the deadline
	kindOverdue      = "overdue."            // + deadline: escalation contacts and office, after it

	// Account notices go to the account's own user, by e-mail too when
	// the deployment sends e-mail, so that someone taking an account over
	// (an administrator resetting its password and making new keys) is
	// seen by the person it belongs to.
	KindAccountCreated = "account.created"        // an administrator made an account for you: what its first sign-in looks like
	KindKeysMade       = "account.keys_made"      // your first keys were made, when your own password was chosen
	KindPasswordReset  = "account.password_reset" // an administrator reset your password
	KindNewKeys        = "account.new_keys"       // new keys were made for your account after a reset
	KindEmailChanged   = "account.email_changed"  // your address changed (to the old address)
	KindKeysRecovered  = "keys.recovered"         // the custodians restored your keys
	KindKeysConfirmed  = "keys.confirmed"         // the office confirmed your keys
	// KindKeysAwaiting tells the office's members that an account's keys
	// await their confirmation (keysconfirm.go): new keys, or a
	// principal's put on the distribution. It names no one.
	KindKeysAwaiting = "keys.awaiting"
)

// The deadlines the office owes, as they appear in reminder kinds.
const (
	DeadlineAcknowledge = "acknowledge"
	DeadlineReply       = "reply"
	DeadlineReplyLatest = "reply_latest"
	DeadlineAppealReply = "appeal_reply"
)

// owed is a deadline a memo's office still owes, since it arrived (the
// memo, or the authors' appeal).
type owed struct {
	name    string
	at      time.Time
	lead    int
	arrived time.Time
}

// owedDeadlines lists the deadlines the office still owes on m.
func owedDeadlines(m *store.Memo, p ReminderPolicy) []owed {
	var out []owed
	st, arrived := channel.State(m.State), fromMicros(m.SubmittedAt)
	if st == channel.Submitted && m.AcknowledgedAt == 0 {
		out = append(out, owed{DeadlineAcknowledge, fromMicros(m.AcknowledgeBy), p.AcknowledgeLead, arrived})
	}
	if st.Open() && m.RepliedAt == 0 {
		out = append(out, owed{DeadlineReply, fromMicros(m.ReplyBy), p.ReplyLead, arrived})
		if m.ReplyLatest > m.ReplyBy {
			out = append(out, owed{DeadlineReplyLatest, fromMicros(m.ReplyLatest), p.ReplyLatestLead, arrived})
		}
	}
	if st == channel.Appealed && m.AppealRepliedAt == 0 {
		out = append(out, owed{DeadlineAppealReply, fromMicros(m.AppealReplyBy), p.ReplyLead, fromMicros(m.AppealedAt)})
	}
	return out
}

// reminder is one notice a deadline calls for now.
type reminder struct {
	deadline string
	overdue  bool // an escalation rather than a reminder
	due      time.Time
}

// kind is the reminder's notification kind, such as "remind.reply".
func (r reminder) kind() string {
	if r.overdue {
		return kindOverdue + r.deadline
	}
	return kindRemind + r.deadline
}

// dueReminders lists what the deadlines of m call for at now: a reminder
// once its time has come and until the deadline passes, and an escalation
// once it has passed. A reminder whose time came while nothing ran and
// whose deadline has passed since is not sent late: the escalation says
// more. A reminder that would fall before the memo (or the appeal) arrived
// is not sent: the arrival notice said it all.
func dueReminders(cal *workdays.Calendar, m *store.Memo, p ReminderPolicy, now time.Time) []reminder {
	var out []reminder
	for _, d := range owedDeadlines(m, p) {
		switch {
		case now.After(d.at):
			out = append(out, reminder{d.name, true, d.at})
		case d.lead >= 0:
			at := remindAt(cal, d.at, d.lead)
			if !now.Before(at) && at.After(d.arrived) {
				out = append(out, reminder{d.name, false, d.at})
			}
		}
	}
	return out
}

// remindAt is when the office is reminded of a deadline lead working days
// ahead: the start of office hours on the lead-th working day before the
// deadline's day. Reminders thus skip weekends and holidays as deadlines
// do: a deadline on the Friday after Thanksgiving is reminded on the
// Wednesday before it.
func remindAt(cal *workdays.Calendar, deadline time.Time, lead int) time.Time {
	loc := cal.Location()
	d := deadline.In(loc)
	// Civil dates step in UTC, where every day has 24 hours.
	day := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	for n := lead; n > 0; {
		day = day.AddDate(0, 0, -1)
		if cal.IsWorkday(workdays.DateOf(day)) {
			n--
		}
	}
	// The wall-clock time, built whole: midnight plus the hours would be
	// an hour off on a working day whose clocks change after midnight.
	start, _ := cal.OfficeHours()
	return time.Date(day.Year(), day.Month(), day.Day(), int(start/time.Hour), int(start%time.Hour/time.Minute), 0, 0, loc)
}

// nextCheck is when the reminders job next has something to do about m
// after the moment given: the earliest reminder or escalation, of a
// deadline the office still owes, that falls after it — when dueReminders
// starts to list something it did not. Zero when there is nothing.
func nextCheck(cal *workdays.Calendar, m *store.Memo, p ReminderPolicy, after time.Time) int64 {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(after) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, d := range owedDeadlines(m, p) {
		if d.lead >= 0 {
			// Sent from its time until the deadline passes, unless that
			// time came before the memo (or the appeal) did.
			if at := remindAt(cal, d.at, d.lead); at.After(d.arrived) && !at.After(d.at) {
				consider(at)
			}
		}
		consider(d.at.Add(time.Microsecond)) // escalated once the deadline has passed
	}
	if next.IsZero() {
		return 0
	}
	return micros(next)
}

// updateMemo writes a memo's row, with when the reminders job must next
// look at it worked out from its deadlines as they now stand. Every write
// that can change what a memo owes goes through here.
func (s *Service) updateMemo(ctx context.Context, tx store.Tx, m *store.Memo) error {
	m.CheckAt = nextCheck(s.cfg.Calendar, m, s.reminders(), time.Time{})
	return storeErr(tx.UpdateMemo(ctx, m), "the memo")
}

// settingSchedule holds the fingerprint (scheduleOf) of the policy and
// calendar that the memos' CheckAt were worked out with.
const settingSchedule = "reminders.schedule"

// scheduleOf fingerprints what nextCheck depends on besides the memo: the
// leads, the office's time zone and hours, and which days are working days
// in the years around now (so that a new holiday set, closure or library
// rule counts as a change; the new year does too, once).
func scheduleOf(cal *workdays.Calendar, p ReminderPolicy, now time.Time) []byte {
	h := sha256.New()
	start, _ := cal.OfficeHours()
	fmt.Fprintf(h, "v1 leads %d %d %d; zone %s; opens %s; workdays", p.AcknowledgeLead, p.ReplyLead, p.ReplyLatestLead, cal.Location(), start)
	year := now.In(cal.Location()).Year()
	for day := time.Date(year-1, 1, 1, 0, 0, 0, 0, time.UTC); day.Year() <= year+1; day = day.AddDate(0, 0, 1) {
		if cal.IsWorkday(workdays.DateOf(day)) {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
	}
	return []byte(hex.EncodeToString(h.Sum(nil)))
}

// reschedule works every open memo's CheckAt out again if the policy or
// the calendar is not the one they were worked out with (or, on the first
// run after the upgrade that added CheckAt, none was recorded), and then
// records the current one; it reports how many memos it changed. CheckAt
// is derived data, like an index, so this writes no audit event: the
// reminders it leads to write theirs. A memo that changes meanwhile keeps
// the CheckAt its own write gave it.
func (s *Service) reschedule(ctx context.Context, p ReminderPolicy, now time.Time) (int, error) {
	want := scheduleOf(s.cfg.Calendar, p, now)
	var have []byte
	if err := s.inTx(ctx, false, func(tx store.Tx) error {
		var err error
		have, err = tx.Setting(ctx, settingSchedule)
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	}); err != nil || bytes.Equal(have, want) {
		return 0, err
	}
	changed := 0
	f := store.MemoFilter{ByDue: true, Limit: reminderPage, Light: true}
	for {
		page, err := s.memoPage(ctx, f)
		if err != nil {
			return changed, err
		}
		var moved []*store.Memo
		for _, m := range page {
			if next := nextCheck(s.cfg.Calendar, m, p, time.Time{}); next != m.CheckAt {
				m.CheckAt = next
				moved = append(moved, m)
			}
		}
		if len(moved) > 0 {
			if err := s.inTx(ctx, true, func(tx store.Tx) error {
				for _, m := range moved {
					ok, err := tx.SetMemoCheck(ctx, m.ID, m.Version, m.CheckAt)
					if err != nil {
						return err
					}
					if ok {
						changed++
					}
				}
				return nil
			}); err != nil {
				return changed, err
			}
		}
		if len(page) < f.Limit {
			break
		}
		last := page[len(page)-1]
		f.AfterKey, f.AfterID = last.DueAt, last.ID
	}
	return changed, s.inTx(ctx, true, func(tx store.Tx) error { return tx.PutSetting(ctx, settingSchedule, want) })
}

// memoPage reads one page of memos by f, in a read transaction of its own.
func (s *Service) memoPage(ctx context.Context, f store.MemoFilter) ([]*store.Memo, error) {
	var page []*store.Memo
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		var err error
		page, err = tx.ListMemos(ctx, f)
		return err
	})
	return page, err
}

// ReminderRun is what one run of the reminders did.
type ReminderRun struct {
	Checked     int // memos the run looked at: those with something due
	Rescheduled int // memos whose next check a new policy or calendar moved
	Reminded    int // deadlines the office was reminded of
	Escalated   int // deadlines reported as passed
	Notices     int // notifications written
}

// reminderPage is how many memos one read of the check queue takes.
const reminderPage = 200

// RunReminders sends the reminders and escalations that are due now, each
// once: a reminder is recorded under its memo, kind and deadline in the
// transaction that writes its notifications and its audit event, so that
// nodes running at once, or a run repeated after a crash, send nothing
// twice. It runs as the system.
//
// It reads only the memos whose CheckAt has come (nextCheck), and moves
// each one's CheckAt to its next reminder or escalation once it has sent
// what was due, so that a run's work follows what is due rather than how
// many memos are open. The move is skipped if the memo changed meanwhile:
// its own write worked CheckAt out again.
func (s *Service) RunReminders(ctx context.Context) (*ReminderRun, error) {
	p := s.reminders()
	now := s.now()
	run := &ReminderRun{}
	var err error
	if run.Rescheduled, err = s.reschedule(ctx, p, now); err != nil {
		return run, err
	}
	f := store.MemoFilter{CheckBy: micros(now), Limit: reminderPage, Light: true}
	for {
		page, err := s.memoPage(ctx, f)
		if err != nil {
			return run, err
		}
		for _, m := range page {
			run.Checked++
			for _, r := range dueReminders(s.cfg.Calendar, m, p, now) {
				sent, notices, err := s.sendReminder(ctx, m.ID, r, p)
				if err != nil {
					return run, err
				}
				switch {
				case !sent:
				case r.overdue:
					run.Escalated++
				default:
					run.Reminded++
				}
				run.Notices += notices
			}
		}
		// Only now that the whole page was sent: a run that failed half
		// way leaves the rest to be looked at again.
		if err := s.inTx(ctx, true, func(tx store.Tx) error {
			for _, m := range page {
				if _, err := tx.SetMemoCheck(ctx, m.ID, m.Version, nextCheck(s.cfg.Calendar, m, p, now)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return run, err
		}
		if len(page) < f.Limit {
			return run, nil
		}
		last := page[len(page)-1]
		f.AfterKey, f.AfterID = last.CheckAt, last.ID
	}
}

// sendReminder writes one reminder or escalation, if it is still due and
// was not sent before, with its audit event; it reports whether it did and
// how many notifications it wrote.
// errMovedOn rolls back a reminder whose memo moved on while it was sent.
var errMovedOn = errors.New("service: the memo moved on")

func (s *Service) sendReminder(ctx context.Context, memoID string, r reminder, p ReminderPolicy) (sent bool, notices int, err error) {
	err = s.inTx(ctx, true, func(tx store.Tx) error {
		// The memo may have moved on since the queue was read.
		m, err := tx.MemoByID(ctx, memoID)
		if err != nil {
			return err
		}
		now := s.now()
		still := false
		for _, d := range dueReminders(s.cfg.Calendar, m, p, now) {
			still = still || d.kind() == r.kind() && d.due.Equal(r.due)
		}
		if !still {
			return nil
		}
		fresh, err := tx.MarkReminder(ctx, m.ID, r.kind(), micros(r.due), micros(now))
		if err != nil || !fresh {
			return err
		}
		to, err := s.officeRecipients(ctx, tx)
		if err != nil {
			return err
		}
		action := "memo.remind."
		if r.overdue {
			action = "memo.escalate."
			contacts, err := s.escalationContacts(ctx, tx, p)
			if err != nil {
				return err
			}
			to = append(contacts, to...)
		}
		if notices, err = s.notify(ctx, tx, to, r.kind(), m.ID, r.due, p); err != nil {
			return err
		}
		sent = true
		if err := s.audit(ctx, tx, event{action: action + r.deadline, memo: m.ID}); err != nil {
			return err
		}
		// The memo was read before the ledger's lock, which every step
		// on it takes too: one taken since (on another node, the
		// acknowledgement the reminder is about) undoes the reminder, and
		// the next check finds it no longer due.
		if v, err := tx.MemoVersion(ctx, m.ID); err != nil {
			return err
		} else if v != m.Version {
			sent, notices = false, 0
			return errMovedOn
		}
		return nil
	})
	if errors.Is(err, errMovedOn) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	return sent, notices, nil
}

// officeRecipients are the office members who hold the office key: those
// who can act on a memo. Members awaiting their grant are not told.
func (s *Service) officeRecipients(ctx context.Context, tx store.Tx) ([]*store.User, error) {
	us, err := tx.GroupMembers(ctx, officeGroup)
	if err != nil {
		return nil, err
	}
	var out []*store.User
	for _, u := range us {
		if !u.Disabled && hasRole(u, channel.RoleOffice) {
			out = append(out, u)
		}
	}
	return out, nil
}

// escalationContacts are the configured contacts who have active accounts;
// a name that matches none is logged, not fatal, so that a typo in the
// configuration does not stop the office's reminders.
func (s *Service) escalationContacts(ctx context.Context, tx store.Tx, p ReminderPolicy) ([]*store.User, error) {
	var out []*store.User
	for _, name := range p.EscalateTo {
		u, err := tx.UserByUsername(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			s.log.Warn("reminders: the escalation contact has no account", "username", name)
			continue
		} else if err != nil {
			return nil, err
		}
		if u.Disabled {
			s.log.Warn("reminders: the escalation contact's account is disabled", "username", name)
			continue
		}
		out = append(out, u)
	}
	return out, nil
}

func hasRole(u *store.User, r channel.Role) bool { return slices.Contains(u.Roles, string(r)) }

// notify writes one notification of kind about memoID to each of to (once
// per person), with an e-mail copy queued when the policy asks for one and
// the person has an address. It returns how many it wrote.
func (s *Service) notify(ctx context.Context, tx store.Tx, to []*store.User, kind, memoID string, due time.Time, p ReminderPolicy) (int, error) {
	ns := s.notices(to, kind, memoID, due, p)
	return len(ns), tx.AddNotifications(ctx, ns)
}

// notices are the notifications notify writes.
func (s *Service) notices(to []*store.User, kind, memoID string, due time.Time, p ReminderPolicy) []*store.Notification {
	now := micros(s.now())
	seen := map[string]bool{}
	var ns []*store.Notification
	for _, u := range to {
		if seen[u.ID] {
			continue
		}
		seen[u.ID] = true
		n := &store.Notification{ID: newID(), UserID: u.ID, Kind: kind, MemoID: memoID, DueAt: micros(due), CreatedAt: now, EmailState: "none"}
		if p.Email && u.Email != "" {
			n.Email, n.EmailState, n.NextTry = u.Email, "pending", now
		}
		ns = append(ns, n)
	}
	return ns
}

// noticeSubmitted tells the office's members (office) that a memo arrived
// and must be acknowledged, and the principals of the standing distribution it was
// just wrapped to that it reached them. It
// runs in the submission's transaction, so the notices exist exactly when
// the submission does. It names no author: the office and principals are
// told of the memo, not of who wrote it.
func (s *Service) noticeSubmitted(ctx context.Context, tx store.Tx, m *store.Memo, office, principals []*store.User) error {
	p := s.reminders()
	ns := s.notices(office, KindReceived, m.ID, fromMicros(m.AcknowledgeBy), p)
	return tx.AddNotifications(ctx, append(ns, s.readerNotices(m, principals)...))
}

// noticeReaders tells principals that a memo was distributed to them.
func (s *Service) noticeReaders(ctx context.Context, tx store.Tx, m *store.Memo, readers []*store.User) error {
	return tx.AddNotifications(ctx, s.readerNotices(m, readers))
}

func (s *Service) readerNotices(m *store.Memo, readers []*store.User) []*store.Notification {
	var to []*store.User
	for _, u := range readers {
		if !u.Disabled && u.KeyState == keysActive {
			to = append(to, u)
		}
	}
	return s.notices(to, KindDistributed, m.ID, time.Time{}, s.reminders())
}
