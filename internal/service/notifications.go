package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
)

// The bell has two halves, kept apart on purpose.
//
// Stored notices are rows the office, principals and escalation contacts
// receive (a memo arrived, a deadline nears or passed); they may name the
// memo, since those people's link to it is not protected, and they are the
// e-mail outbox too.
//
// What waits for someone as an author — a signature asked of them, a draft
// of theirs left untouched — is never stored: a row saying "user U has a
// signature to give", written when a drafter invites them, would sit next
// to the memo's "memo.invite" ledger entry of the same moment and tell the
// operator who was invited to what, memo id or not. So the author's own
// session works it out at each look at the bell, from their own index and
// the rosters only they can open, and nothing of it is written down, mailed
// or logged. The cost is that authors are told only when they sign in.

// Notice is one entry of the bell.
type Notice struct {
	// ID and Seq identify a stored notice; a worked-out one has neither.
	ID     string `json:"id,omitempty"`
	Seq    int64  `json:"seq,omitempty"`
	Kind   string `json:"kind"`
	MemoID string `json:"memo_id,omitempty"`
	// DueAt is the deadline the notice is about, if any.
	DueAt *time.Time `json:"due_at,omitempty"`
	// At is when a stored notice was written, or since when a worked-out
	// one has been true (the memo's last change).
	At   time.Time `json:"at"`
	Read bool      `json:"read"`
}

// Bell is what the caller's bell shows.
type Bell struct {
	// Unread counts unread stored notices and signatures asked of the
	// caller. Stale drafts are listed but not counted: they are a nudge
	// that stays until the draft is touched, and would never let the
	// count reach zero.
	Unread int `json:"unread"`
	// Items are the newest stored notices, newest first.
	Items []Notice `json:"items"`
	// Waiting is what waits for the caller as an author, worked out now
	// from their own keys and never stored (kinds sign.pending and
	// draft.stale).
	Waiting []Notice `json:"waiting"`
}

// Notifications returns the caller's bell: up to limit stored notices
// (1 to 200; 0 means 50) and what waits for them as an author.
func (s *Service) Notifications(ctx context.Context, a *Actor, limit int) (*Bell, error) {
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > 200 {
		return nil, channel.Invalid("limit", "limit must be a number from 1 to 200")
	}
	waiting, err := s.waiting(ctx, a, true)
	if err != nil {
		return nil, err
	}
	bell := &Bell{Items: []Notice{}, Waiting: waiting}
	err = s.inTx(ctx, false, func(tx store.Tx) error {
		ns, err := tx.Notifications(ctx, a.User.ID, limit)
		if err != nil {
			return err
		}
		for _, n := range ns {
			bell.Items = append(bell.Items, storedNotice(n))
		}
		bell.Unread, err = tx.UnreadNotifications(ctx, a.User.ID)
		return err
	})
	bell.Unread += countKind(waiting, KindSignPending)
	return bell, err
}

// UnreadCount is the number the bell shows: unread stored notices and
// signatures asked of the caller.
func (s *Service) UnreadCount(ctx context.Context, a *Actor) (int, error) {
	waiting, err := s.waiting(ctx, a, false)
	if err != nil {
		return 0, err
	}
	var n int
	err = s.inTx(ctx, false, func(tx store.Tx) error {
		n, err = tx.UnreadNotifications(ctx, a.User.ID)
		return err
	})
	return n + countKind(waiting, KindSignPending), err
}

// MarkNotificationsRead marks the caller's stored notices up to seq read
// (all of them when seq is 0). Worked-out notices clear when what they ask
// is done. Marking read changes only the caller's own bell and is not an
// audited event: the ledger records what happens to memos and accounts,
// and a trail of when members look at their bell would only feed timing
// guesses.
func (s *Service) MarkNotificationsRead(ctx context.Context, a *Actor, seq int64) error {
	if seq < 0 {
		return channel.Invalid("seq", "seq must be 0 (all) or the seq of a notice")
	}
	if seq == 0 {
		seq = 1<<63 - 1
	}
	return s.inTx(ctx, true, func(tx store.Tx) error {
		return tx.MarkNotificationsRead(ctx, a.User.ID, seq)
	})
}

func storedNotice(n *store.Notification) Notice {
	out := Notice{ID: n.ID, Seq: n.Seq, Kind: n.Kind, MemoID: n.MemoID, At: fromMicros(n.CreatedAt), Read: n.Read}
	if n.DueAt != 0 {
		d := fromMicros(n.DueAt)
		out.DueAt = &d
	}
	return out
}

func countKind(ns []Notice, kind string) int {
	n := 0
	for _, x := range ns {
		if x.Kind == kind {
			n++
		}
	}
	return n
}

// answeredShown is how long an author's bell shows that the office
// acknowledged, replied to or returned their memo.
const answeredShown = 30 * 24 * time.Hour

// waiting works out, from the caller's own keys, the signatures asked of
// them, their stale drafts, and the office's answers to their memos of the
// last answeredShown: the acknowledgement and the feedback the EU
// Directive owes the reporting person, and the State channel's reply.
// Nothing it finds is written anywhere, or e-mailed: a stored notice or
// an e-mail would tie the author to the memo. The count on every page
// (answers false) looks at drafts and memos in circulation only; the
// answers, which it does not count, only the bell's page works out, and
// only from memos the office answered lately (answered), before opening
// any.
func (s *Service) waiting(ctx context.Context, a *Actor, answers bool) ([]Notice, error) {
	out := []Notice{}
	if a.id == nil || !a.Has(channel.RoleMember) {
		return out, nil
	}
	// A new invitation waits in the mailbox until collected into the
	// caller's index, as listing "mine" does.
	if err := s.collectPending(ctx, a); err != nil {
		return nil, err
	}
	stale := s.reminders().StaleDraft
	now := s.now()
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		ids, err := listIndex(ctx, tx, a.id)
		if err != nil || len(ids) == 0 {
			return err
		}
		f := store.MemoFilter{IDs: ids, States: []string{string(channel.Draft), string(channel.Circulating)}, Limit: len(ids)}
		if answers {
			f.States = nil
		}
		recs, err := tx.ListMemos(ctx, f)
		if err != nil {
			return err
		}
		published := map[string]int64{}
		if answers && s.cfg.Profile.Publish {
			if published, err = tx.PublicationTimes(ctx, ids); err != nil {
				return err
			}
		}
		for _, rec := range recs {
			if len(answered(rec, published[rec.ID], now)) == 0 && !channel.State(rec.State).Editable() {
				continue
			}
			o, err := s.openMemo(ctx, tx, a, rec.ID, false)
			if errors.Is(err, channel.ErrNotFound) || store.Retryable(err) {
				continue // gone, or changing as we look: the next look tells
			} else if err != nil {
				return err
			}
			if o.rel != relAuthor {
				continue
			}
			if !channel.State(o.rec.State).Editable() {
				out = append(out, answered(o.rec, published[o.rec.ID], now)...)
				continue
			}
			since := fromMicros(o.rec.UpdatedAt)
			switch {
			case o.author.Kind == channel.KindSigner && !o.author.Signed(o.rec.Revision):
				out = append(out, Notice{Kind: KindSignPending, MemoID: o.rec.ID, At: since})
			case o.author.Kind == channel.KindDrafter && stale > 0 && now.Sub(since) >= stale:
				out = append(out, Notice{Kind: KindDraftStale, MemoID: o.rec.ID, At: since})
			}
		}
		return nil
	})
	return out, err
}

// answered is the office's latest answer to a submitted memo, if it came
// within answeredShown of now (its publication, at published, 0 for none,
// is the last), and the office's latest message to the authors, if that
// came within it: each is news of its own, neither hides the other.
func answered(m *store.Memo, published int64, now time.Time) []Notice {
	var out []Notice
	if n, ok := lastAnswer(m, published, now); ok {
		out = append(out, n)
	}
	if at := fromMicros(m.OfficeMessageAt); m.OfficeMessageAt > 0 && now.Sub(at) <= answeredShown {
		out = append(out, Notice{Kind: KindWrote, MemoID: m.ID, At: at})
	}
	return out
}

// lastAnswer is the office's latest answer to a submitted memo, if it came
// within answeredShown of now.
func lastAnswer(m *store.Memo, published int64, now time.Time) (Notice, bool) {
	var kind string
	var at int64
	switch {
	case published > 0:
		kind, at = KindPublished, published
	case m.AppealRepliedAt > 0: // the decision on their appeal
		kind, at = KindReplied, m.AppealRepliedAt
	case m.RepliedAt > 0:
		kind, at = KindReplied, m.RepliedAt
	case channel.State(m.State) == channel.Returned && m.EndedAt > 0:
		kind, at = KindReturned, m.EndedAt
	case m.AcknowledgedAt > 0:
		kind, at = KindAcknowledged, m.AcknowledgedAt
	default:
		return Notice{}, false
	}
	when := fromMicros(at)
	if now.Sub(when) > answeredShown {
		return Notice{}, false
	}
	return Notice{Kind: kind, MemoID: m.ID, At: when}, true
}

// OutgoingMail is an e-mail the outbox holds for a node to send. It carries
// no memo content: only what it is about, its deadline and the memo id for
// the link.
type OutgoingMail struct {
	ID string
	// Attempt numbers the claim; settling a claim that another node has
	// since taken over fails.
	Attempt   int
	To        string
	Kind      string
	MemoID    string
	DueAt     time.Time // zero when the notice has no deadline
	CreatedAt time.Time
}

// ClaimMail hands up to limit due e-mails to the caller for lease; one not
// settled by then (the node died mid-send) is handed out again. Several
// nodes claiming at once get different e-mails. It runs as the system.
func (s *Service) ClaimMail(ctx context.Context, lease time.Duration, limit int) ([]OutgoingMail, error) {
	var out []OutgoingMail
	err := s.inTx(ctx, true, func(tx store.Tx) error {
		now := s.now()
		ns, err := tx.ClaimMail(ctx, micros(now), micros(now.Add(lease)), limit)
		if err != nil || len(ns) == 0 {
			return err
		}
		users, err := recipientsOf(ctx, tx, ns)
		if err != nil {
			return err
		}
		for _, n := range ns {
			to, why := mailTo(n, users[n.UserID])
			if why != "" {
				if err := tx.MailFailed(ctx, n.ID, n.Attempts, micros(now), true, why); err != nil {
					return err
				}
				continue
			}
			out = append(out, OutgoingMail{ID: n.ID, Attempt: n.Attempts, To: to, Kind: n.Kind, MemoID: n.MemoID,
				DueAt: fromMicros(n.DueAt), CreatedAt: fromMicros(n.CreatedAt)})
		}
		return nil
	})
	return out, err
}

// recipientsOf reads the accounts a batch of e-mails goes to, by id.
func recipientsOf(ctx context.Context, tx store.Tx, ns []*store.Notification) (map[string]*store.User, error) {
	var ids []string
	for _, n := range ns {
		if !slices.Contains(ids, n.UserID) {
			ids = append(ids, n.UserID)
		}
	}
	out := make(map[string]*store.User, len(ids))
	us, err := tx.UsersByIDs(ctx, ids)
	if errors.Is(err, store.ErrNotFound) {
		// One is gone: the others still get their mail.
		for _, id := range ids {
			if u, err := tx.UserByID(ctx, id); err == nil {
				out[id] = u
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		return out, nil
	} else if err != nil {
		return nil, err
	}
	for _, u := range us {
		out[u.ID] = u
	}
	return out, nil
}

// mailTo is the address a queued e-mail goes to as its account stands
// now, not when it was queued (an address an administrator corrected
// meanwhile was someone else's, perhaps), or why it goes nowhere: a memo's
// notice to an account disabled since (its person left). Notices about the
// account itself still go, so that a takeover is seen, and the one saying
// the address changed goes to the old address, as meant.
func mailTo(n *store.Notification, u *store.User) (to, why string) {
	switch {
	case u == nil:
		return "", "the account is gone"
	case n.Kind == KindEmailChanged:
		return n.Email, ""
	case u.Disabled && n.MemoID != "":
		return "", "the account was disabled"
	case u.Email == "":
		return "", "the account has no e-mail address"
	}
	return u.Email, ""
}

// MailSent records that m was handed to the mail server, with its audit
// event. The event names neither the recipient nor the memo: it says only
// that the system sent a notice.
func (s *Service) MailSent(ctx context.Context, m OutgoingMail) error {
	return s.inTx(ctx, true, func(tx store.Tx) error {
		if err := tx.MailSent(ctx, m.ID, m.Attempt, micros(s.now())); err != nil {
			return storeErr(err, "the e-mail")
		}
		return s.audit(ctx, tx, event{action: "notice.mail"})
	})
}

// MailFailed records that m could not be sent: it is tried again after
// retry, or, if permanent, never (the in-app notice stays).
func (s *Service) MailFailed(ctx context.Context, m OutgoingMail, retry time.Duration, permanent bool, reason string) error {
	reason = clip(reason, 500)
	return s.inTx(ctx, true, func(tx store.Tx) error {
		return storeErr(tx.MailFailed(ctx, m.ID, m.Attempt, micros(s.now().Add(retry)), permanent, reason), "the e-mail")
	})
}

// clip cuts s to at most n bytes of valid UTF-8: a mail server's reply or
// an error may be UTF-8, which PostgreSQL refuses to store cut in the
// middle of a character (or otherwise invalid).
func clip(s string, n int) string {
	// Whatever its length, stored as text: valid UTF-8 and no NUL, which
	// PostgreSQL's text refuses (a mail server's reply in Latin-1).
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// ClaimJob takes periodic job name for owner for lease if it is due and no
// other node runs it. It runs as the system.
func (s *Service) ClaimJob(ctx context.Context, name, owner string, lease time.Duration) (bool, error) {
	var ok bool
	err := s.inTx(ctx, true, func(tx store.Tx) error {
		now := s.now()
		var err error
		ok, err = tx.ClaimJob(ctx, name, owner, micros(now), micros(now.Add(lease)))
		return err
	})
	return ok, err
}

// FinishJob records a run of job name by owner and makes it due again
// after every.
func (s *Service) FinishJob(ctx context.Context, name, owner string, every time.Duration, runErr error) error {
	msg := ""
	if runErr != nil {
		msg = clip(runErr.Error(), 500)
	}
	return s.inTx(ctx, true, func(tx store.Tx) error {
		now := s.now()
		return storeErr(tx.FinishJob(ctx, name, owner, micros(now), micros(now.Add(every)), msg), "the job")
	})
}

// JobStatus is a periodic job as operators see it.
type JobStatus struct {
	Name      string     `json:"name"`
	NextRun   time.Time  `json:"next_run"`
	LastRun   *time.Time `json:"last_run,omitempty"`
	LastError string     `json:"last_error,omitempty"`
	Running   bool       `json:"running"`
}

// Jobs lists the periodic jobs (administrators and auditors).
func (s *Service) Jobs(ctx context.Context, a *Actor) ([]JobStatus, error) {
	if !a.Has(channel.RoleAdmin) && !a.Has(channel.RoleAuditor) {
		return nil, channel.Errorf(channel.EFORBIDDEN, "the jobs are for administrators and auditors")
	}
	out := []JobStatus{}
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		js, err := tx.Jobs(ctx)
		now := micros(s.now())
		for _, j := range js {
			st := JobStatus{Name: j.Name, NextRun: fromMicros(j.RunAt), LastError: j.LastError, Running: j.LeaseUntil > now}
			if j.LastRun != 0 {
				t := fromMicros(j.LastRun)
				st.LastRun = &t
			}
			out = append(out, st)
		}
		return err
	})
	return out, err
}

// ScheduledCheckpoint signs a checkpoint if the ledger grew since the
// latest one, and reports whether it did. The scheduler calls it, as the
// system; the checkpoint is its own record (signed and stored), so it adds
// no ledger entry, which would only make the ledger outgrow it at once.
func (s *Service) ScheduledCheckpoint(ctx context.Context) (bool, error) {
	var grown bool
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		size, _, err := tx.LatestCheckpoint(ctx)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		cur, err := ledgerSize(ctx, tx)
		grown = cur > size
		return err
	})
	if err != nil || !grown {
		return false, err
	}
	_, err = s.SignCheckpoint(ctx)
	return err == nil, err
}
