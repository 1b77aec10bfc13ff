package service

import (
	"context"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
)

// Appeal is the authors' appeal of the office's reply, in a profile that
// has appeals (the NRC's Differing Professional Opinion programme): the
// memo goes back to the office, which owes a decision on appeal by the
// profile's deadline. A drafter appeals, with a reason, once per memo,
// until the appeal window that the reply opened closes; a closed case may
// be appealed within it too. The decision is the office's next reply.
func (s *Service) Appeal(ctx context.Context, a *Actor, memoID, reason string) (*Memo, error) {
	if err := channel.ValidateText("reason", reason, channel.MaxReason); err != nil {
		return nil, err
	}
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if err := requireAuthor(o, true); err != nil {
			return err
		}
		if err := s.mayFile(a.User); err != nil {
			return err
		}
		next, err := channel.Transition(channel.State(o.rec.State), channel.ActAppeal)
		if err != nil {
			return err
		}
		now := s.now()
		switch {
		case o.rec.AppealedAt != 0:
			return channel.Errorf(channel.ECONFLICT, "this memo was appealed already: the decision on appeal is final")
		case o.rec.AppealBy == 0:
			return channel.Errorf(channel.ECONFLICT, "the reply to this memo cannot be appealed: the channel's policy (%s) has no appeal", s.cfg.Profile.Title)
		case now.After(fromMicros(o.rec.AppealBy)):
			return channel.Errorf(channel.ECONFLICT, "the time to appeal ended on %s", fromMicros(o.rec.AppealBy).In(s.cfg.Calendar.Location()).Format("Mon 2 Jan 2006 15:04 MST"))
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "appeal a reply"); err != nil {
			return err
		}
		due := s.cfg.Profile.AppealReplyBy(s.cfg.Calendar, now)
		o.rec.State, o.rec.UpdatedAt, o.rec.EndedAt = string(next), micros(now), 0
		o.rec.AppealedAt, o.rec.AppealReplyBy, o.rec.DueAt = micros(now), micros(due), micros(due)
		if err := s.addItem(ctx, tx, a, o, "appeal", reasonItem{Reason: reason}, now); err != nil {
			return err
		}
		if out, _, err = s.save(ctx, tx, a, o, authorEvent("memo.appeal", a, o)); err != nil {
			return err
		}
		return s.noticeAppealed(ctx, tx, o.rec, due)
	})
	return out, err
}

// noticeAppealed tells the office's members that an appeal arrived and
// when its decision falls due, as a submission's arrival does.
func (s *Service) noticeAppealed(ctx context.Context, tx store.Tx, m *store.Memo, due time.Time) error {
	office, err := s.officeRecipients(ctx, tx)
	if err != nil {
		return err
	}
	_, err = s.notify(ctx, tx, office, KindAppealed, m.ID, due, s.reminders())
	return err
}
